//! A cold site mirror (issue 22): while the real `tooldelta-mirror` pulls a
//! large blob through from a rate-capped upstream, real `tooldelta` clients
//! whose stall timeout is far shorter than the pull are told how far it has
//! come and wait; fifty of them cost the upstream one fetch; an upstream that
//! stops advancing fails them with a message naming both mirrors.

mod engine_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use engine_support::real_mirror::RealMirror;
use engine_support::{TOOL, World, assert_same_tree, sha};
use serde_json::Value;
use tooldelta_testkit::{CmdOutput, Fault, Rule, StaticMirror, ToolTree, bin_path, run};

/// The model and the upstream's rate for blobs: about 32 s for the site
/// mirror to pull it (≥ 30 s, while CI time stays bounded).
const MODEL: u64 = 16 << 20;
const RATE: u64 = 512 << 10;

/// Clients at once on the same cold blob.
const CLIENTS: usize = 50;

fn published(world: &mut World) -> (ToolTree, String) {
    let tree = ToolTree::sample(world.tmp.path().join("tree"), MODEL, 22);
    let manifest = world.publish(&tree, "1.0.0");
    let model = sha(&manifest, "models/model.gguf");
    (tree, model)
}

/// The site mirror: a real `tooldelta-mirror serve --upstream` over the
/// fault server (HQ's static export).
fn site(world: &World) -> RealMirror {
    let trust = world.keys.public_pem().display().to_string();
    RealMirror::start_with(
        &world.tmp.path().join("site-store"),
        &["--upstream", &world.server.url(), "--trust", &trust],
    )
}

/// `tooldelta update TOOL --stall-timeout 5 --retries 2 --json` through
/// `mirror` into `root`, optionally with progress as JSON Lines.
fn update(world: &World, mirror: &str, root: &Path, progress: bool) -> CmdOutput {
    let mut cmd = Command::new(bin_path("tooldelta"));
    cmd.args(["update", TOOL, "--root"])
        .arg(root)
        .args(["--mirror", mirror, "--trust"])
        .arg(world.keys.public_pem())
        .args(["--stall-timeout", "5", "--retries", "2", "--json"])
        .env_remove("TOOLDELTA_CONFIG");
    if progress {
        cmd.arg("--progress-json");
    }
    run(&mut cmd)
}

/// The `mirror_fetching` events on a `--progress-json` stderr.
fn mirror_fetching(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "mirror_fetching")
        .collect()
}

#[test]
fn fifty_clients_with_a_5s_stall_timeout_wait_out_a_32s_cold_pull_that_costs_one_upstream_fetch() {
    let mut world = World::new();
    let (tree, model) = published(&mut world);
    world
        .server
        .faults()
        .add(Rule::new(Fault::Throttle(RATE)).path(StaticMirror::blob_route(&model)));
    let site = site(&world);
    let site_url = site.url();
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let root = world.tmp.path().join(format!("ws{i}"));
            let (world, site_url) = (&world, site_url.as_str());
            (root.clone(), move || update(world, site_url, &root, i == 0))
        })
        .collect();
    let outputs: Vec<(std::path::PathBuf, CmdOutput)> = std::thread::scope(|s| {
        let running: Vec<_> = clients
            .into_iter()
            .map(|(root, job)| (root, s.spawn(job)))
            .collect();
        running
            .into_iter()
            .map(|(root, h)| (root, h.join().unwrap()))
            .collect()
    });
    let waited = started.elapsed();

    for (root, out) in &outputs {
        out.assert_success();
        assert_same_tree(&root.join("tools").join(TOOL).join("current"), &tree);
    }
    // The pull took far longer than a client's stall timeout: the clients
    // survived it because they were told it advanced.
    assert!(
        waited > Duration::from_secs(20),
        "the upstream cap did not hold: {waited:?}"
    );
    let events = mirror_fetching(&outputs[0].1.stderr);
    assert!(
        events.len() >= 5,
        "the first client saw {} mirror_fetching events over {waited:?}:\n{}",
        events.len(),
        outputs[0].1.stderr
    );
    let done: Vec<u64> = events
        .iter()
        .map(|e| e["bytes_done"].as_u64().unwrap())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert!(done.last() > done.first(), "no progress shown: {done:?}");
    assert_eq!(events[0]["upstream"], world.server.url().as_str());
    assert_eq!(events[0]["size"], MODEL);
    // One fetch of the blob upstream for all fifty clients.
    assert_eq!(
        world.server.log().count(&StaticMirror::blob_route(&model)),
        1,
        "{:?}",
        world
            .server
            .log()
            .records_for(&StaticMirror::blob_route(&model))
    );
}

#[test]
fn an_upstream_that_stops_advancing_fails_the_client_naming_the_site_mirror_and_the_upstream() {
    let mut world = World::new();
    let (_tree, model) = published(&mut world);
    world.server.faults().add(
        Rule::new(Fault::StallAfter {
            bytes: 1 << 20,
            duration: Duration::from_secs(600),
        })
        .path(StaticMirror::blob_route(&model)),
    );
    let site = site(&world);
    let root = world.tmp.path().join("ws");
    let out = update(&world, &site.url(), &root, true);
    out.assert_failure();
    let error = out.json();
    let message = error.to_string();
    assert!(
        message.contains(&site.url()) && message.contains(&world.server.url()),
        "the error names neither the site mirror nor its upstream: {message}"
    );
    assert!(message.contains("no progress"), "{message}");
    assert!(
        !mirror_fetching(&out.stderr).is_empty(),
        "no progress shown while it advanced"
    );
    assert!(!root.join("tools").join(TOOL).join("current").exists());
}
