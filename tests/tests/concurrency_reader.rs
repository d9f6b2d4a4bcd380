//! A reader looping over `current/` while the engine activates releases
//! 1000 times (rollback after rollback between two kept releases) always
//! sees a complete release: `current` never dangles or disappears, the
//! release it names is exactly one published tree, and every file read
//! through `current/` is whole and belongs to one version.

mod fault_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use fault_support::{
    NEW, OLD, TOOL, World, assert_active, count_from_env, files_under, record_figures,
};
use serde_json::json;
use tooldelta_core::events::NullReporter;
use tooldelta_core::{CancellationToken, Engine, EngineConfig};

/// What the reader checks on each pass; returns the version it saw.
fn read_once(current: &Path, trees: &BTreeMap<String, BTreeMap<String, Vec<u8>>>) -> String {
    // Resolve once, then read that release: it must be a whole tree.
    let resolved = std::fs::canonicalize(current)
        .unwrap_or_else(|e| panic!("current did not resolve (a gap in the swap): {e}"));
    let version = resolved
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a release folder")
        .to_owned();
    let want = trees
        .get(&version)
        .unwrap_or_else(|| panic!("current names {version}"));
    assert_eq!(
        &files_under(&resolved),
        want,
        "release {version} is not complete"
    );
    // Through the link, file by file: each read is whole and from one version.
    for path in ["README.md", "models/model.gguf", "bin/run.sh"] {
        let bytes = std::fs::read(current.join(path))
            .unwrap_or_else(|e| panic!("current/{path} unreadable mid-swap: {e}"));
        assert!(
            trees.values().any(|t| t.get(path) == Some(&bytes)),
            "current/{path} is neither version's ({} bytes)",
            bytes.len()
        );
    }
    version
}

#[test]
fn a_reader_of_current_during_1000_activations_always_sees_a_complete_release() {
    let activations = count_from_env("TOOLDELTA_ACTIVATIONS", 1000);
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), OLD);
    world.update(&root, &server.url(), &[]).assert_success();
    assert_active(&root, world.tree(NEW), NEW);
    let trees: BTreeMap<String, BTreeMap<String, Vec<u8>>> = [OLD, NEW]
        .iter()
        .map(|v| ((*v).to_owned(), files_under(world.tree(v).root())))
        .collect();

    let current = root.join("tools").join(TOOL).join("current");
    let stop = Arc::new(AtomicBool::new(false));
    let passes = Arc::new(AtomicU64::new(0));
    let switches_seen = Arc::new(AtomicU64::new(0));
    let reader = {
        let (stop, passes, switches, current, trees) = (
            stop.clone(),
            passes.clone(),
            switches_seen.clone(),
            current.clone(),
            trees.clone(),
        );
        std::thread::spawn(move || {
            let mut last = String::new();
            while !stop.load(Ordering::SeqCst) {
                let seen = read_once(&current, &trees);
                if seen != last {
                    switches.fetch_add(1, Ordering::Relaxed);
                    last = seen;
                }
                passes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let engine = Engine::new(EngineConfig::new(&root)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut expected = NEW;
    for i in 0..activations {
        if reader.is_finished() {
            break;
        }
        let report = rt
            .block_on(engine.rollback(TOOL, &NullReporter, &CancellationToken::new()))
            .unwrap_or_else(|e| panic!("activation {i}: {e}"));
        expected = if expected == NEW { OLD } else { NEW };
        assert_eq!(report.to_version, expected, "activation {i}");
    }
    stop.store(true, Ordering::SeqCst);
    reader
        .join()
        .expect("the reader saw an incomplete release (see above)");
    let passes = passes.load(Ordering::Relaxed);
    let switches = switches_seen.load(Ordering::Relaxed);
    assert!(passes > 0);
    assert!(
        switches > 1,
        "the reader never saw a switch ({passes} passes)"
    );
    assert_active(&root, world.tree(expected), expected);
    record_figures(
        "concurrency-reader",
        &json!({"activations": activations, "reader_passes": passes, "switches_seen": switches}),
    );
}
