//! Segmented downloads and the bandwidth cap, end to end: the real
//! `tooldelta` against the testkit's fault server (per-connection caps,
//! cuts, sources that ignore or garble Range), and an install from a
//! `file://` export tree with no server at all.

mod engine_support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;

use engine_support::real_mirror::RealMirror;
use engine_support::{TOOL, World, assert_same_tree, u};
use tooldelta_testkit::{Fault, RangeMutation, Rule, StaticMirror, ToolTree, bin_path, run};

const MODEL: &str = "models/model.gguf";
const MIB: u64 = 1 << 20;
/// 3 segments of the 8 MiB minimum.
const MODEL_SIZE: u64 = 24 * MIB;

fn tool(world: &World) -> ToolTree {
    let tree = world.tree("v1");
    tree.text("README.md", "networked tool\n")
        .random(MODEL, MODEL_SIZE, 12);
    tree
}

/// `--segment-min 1` makes the model (and only it: the small files are
/// below 1 MiB… and one connection is enough for them) a segmented download.
fn segmented(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["--connections", "4", "--segment-min", "1048576"];
    args.extend_from_slice(extra);
    args
}

fn blob_ranges(world: &World, sha: &str) -> Vec<Option<String>> {
    world
        .server
        .log()
        .records_for(&StaticMirror::blob_route(sha))
        .into_iter()
        .map(|r| r.range)
        .collect()
}

#[test]
fn a_large_file_arrives_as_several_ranges_at_once_with_exact_bytes() {
    let mut world = World::new();
    let tree = tool(&world);
    let m = world.publish(&tree, "1.0.0");
    let sha = m.file(MODEL).unwrap().sha256.clone();
    // Each connection is capped: only several at once make it quick, and
    // they all must be under way together.
    world
        .server
        .faults()
        .set(Rule::new(Fault::ThrottlePerConnection(16 * MIB)).path_prefix("/api/v1/blobs/"));
    let r = world.update(&segmented(&[])).assert_success().json();
    assert_same_tree(&world.current(), &tree);
    assert_eq!(u(&r, "bytes_downloaded"), m.total_size());
    let ranges: BTreeSet<String> = blob_ranges(&world, &sha).into_iter().flatten().collect();
    assert_eq!(
        ranges,
        BTreeSet::from([
            "bytes=0-8388607".to_owned(),
            "bytes=8388608-16777215".to_owned(),
            "bytes=16777216-25165823".to_owned(),
        ]),
        "one range per segment"
    );
    world.verify().assert_success();
    assert!(
        !world.partial_dir().join(format!("{sha}.segments")).exists(),
        "the segment table goes with the partial"
    );
}

#[test]
fn cut_ranges_resume_where_each_stopped() {
    let mut world = World::new();
    let tree = tool(&world);
    let m = world.publish(&tree, "1.0.0");
    let sha = m.file(MODEL).unwrap().sha256.clone();
    let route = StaticMirror::blob_route(&sha);
    // The first three ranged answers break off after 3 MiB each.
    world
        .server
        .faults()
        .set(Rule::new(Fault::CutAfter(3 * MIB)).path(&route).first(3));
    let r = world.update(&segmented(&[])).assert_success().json();
    assert_same_tree(&world.current(), &tree);
    // Nothing fetched twice: each cut range went on from its last byte.
    assert_eq!(u(&r, "bytes_downloaded"), m.total_size());
    let ranges: Vec<String> = blob_ranges(&world, &sha).into_iter().flatten().collect();
    assert!(
        ranges.len() > 3,
        "the cut ranges were asked again: {ranges:?}"
    );
    assert_eq!(
        ranges.iter().filter(|r| r.starts_with("bytes=0-")).count(),
        1,
        "no range started over: {ranges:?}"
    );
}

#[test]
fn a_source_that_ignores_range_is_read_as_one_stream() {
    let mut world = World::new();
    let tree = tool(&world);
    let m = world.publish(&tree, "1.0.0");
    let sha = m.file(MODEL).unwrap().sha256.clone();
    world.server.faults().set(Fault::IgnoreRange);
    let r = world.update(&segmented(&[])).assert_success().json();
    assert_same_tree(&world.current(), &tree);
    // The 200 to the first range was the whole file, taken as it came.
    assert_eq!(u(&r, "bytes_downloaded"), m.total_size());
    let records = world
        .server
        .log()
        .records_for(&StaticMirror::blob_route(&sha));
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].status, 200);
}

#[test]
fn a_source_with_wrong_content_ranges_falls_back_to_one_stream() {
    let mut world = World::new();
    let tree = tool(&world);
    world.publish(&tree, "1.0.0");
    world
        .server
        .faults()
        .set(Fault::ContentRange(RangeMutation::StartOffByOne));
    world.update(&segmented(&[])).assert_success();
    assert_same_tree(&world.current(), &tree);
    world.verify().assert_success();
}

#[test]
fn a_corrupt_range_fails_the_whole_file_hash_and_is_never_installed() {
    let mut world = World::new();
    let tree = tool(&world);
    world.publish(&tree, "1.0.0");
    // A byte in the second segment: only the end-to-end hash can see it.
    world
        .server
        .faults()
        .set(Rule::new(Fault::CorruptByte(9 * MIB)).path_prefix("/api/v1/"));
    let out = world.update(&segmented(&["--retries", "0"]));
    out.assert_failure();
    assert!(out.stderr.contains("integrity"), "{}", out.stderr);
    assert!(world.current_target().is_none());
    // Good bytes once the fault is gone.
    world.server.faults().clear();
    world.update(&segmented(&[])).assert_success();
    assert_same_tree(&world.current(), &tree);
}

#[test]
fn max_rate_holds_the_download_to_the_cap_and_progress_says_so() {
    let mut world = World::new();
    let tree = world.tree("small");
    tree.random(MODEL, 6 * MIB, 3);
    world.publish(&tree, "1.0.0");
    let started = Instant::now();
    let out = world.update(&["--max-rate", "3MiB", "--progress-json"]);
    let took = started.elapsed();
    out.assert_success();
    // 6 MiB at 3 MiB/s: about 2 s (a lower bound only; speed itself is
    // measured in bench-network).
    assert!(took.as_secs_f64() > 1.5, "6 MiB at 3 MiB/s took {took:?}");
    let capped = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "progress")
        .any(|e| e["max_rate"] == 3 * MIB);
    assert!(capped, "no progress event names the cap: {}", out.stderr);
    assert_same_tree(&world.current(), &tree);
}

#[test]
fn a_bad_max_rate_is_refused_naming_the_text() {
    let world = World::new();
    let out = world.update(&["--max-rate", "fast"]);
    out.assert_failure();
    assert!(out.stderr.contains("\"fast\""), "{}", out.stderr);
}

#[test]
fn an_export_tree_installs_through_file_urls_with_no_server_running() {
    let world = World::new();
    let tree = tool(&world);
    let store = world.tmp.path().join("store");
    let mirror = RealMirror::start(&store);
    let m = mirror.publish(&tree, TOOL, "1.0.0", &world.keys);
    mirror.stop();
    let export = world.tmp.path().join("usb/export");
    run(Command::new(bin_path("tooldelta-mirror"))
        .args(["export", "--store"])
        .arg(&store)
        .arg("--out")
        .arg(&export))
    .assert_success();
    let url = format!("file://{}", export.display());
    let root = world.root.display().to_string();
    let trust = world.keys.public_pem().display().to_string();
    let args = [
        "update",
        TOOL,
        "--root",
        &root,
        "--mirror",
        &url,
        "--trust",
        &trust,
        "--json",
        "--connections",
        "4",
        "--segment-min",
        "1048576",
    ];
    let r = world.raw(&args).assert_success().json();
    assert_same_tree(&world.current(), &tree);
    // The files, and the model's chunk index (`publish` writes one) looked up first.
    let fetched = u(&r, "bytes_downloaded");
    assert!(
        (m.total_size()..m.total_size() + (64 << 10)).contains(&fetched),
        "{fetched} bytes for {}",
        m.total_size()
    );
    world.verify().assert_success();

    // A damaged stick is caught by the same verification as HTTP (the
    // export hardlinks: each name is replaced, never written through).
    let sha = &m.file("README.md").unwrap().sha256;
    let _ = std::fs::remove_dir_all(&world.root);
    for rel in [
        format!("api/v1/blobs/sha256/{sha}"),
        format!("api/v1/tools/{TOOL}/1.0.0/files/README.md"),
        format!("api/v1/tools/{TOOL}/latest/files/README.md"),
    ] {
        let path = export.join(rel);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"tampered\n").unwrap();
    }
    let out = world.raw(&args);
    out.assert_failure();
    assert!(out.stderr.contains("README.md"), "{}", out.stderr);
    assert!(world.current_target().is_none());
}
