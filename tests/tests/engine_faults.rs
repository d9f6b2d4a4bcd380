//! The engine against a misbehaving mirror (the testkit's fault server): cut
//! bodies, ignored or wrong ranges, changed ETags, corrupt and endless data,
//! 5xx, stalls, a dead first mirror, and a crash in the middle of a download.

mod engine_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine_support::{TOOL, World, assert_same_tree, sha, u};
use tooldelta_core::manifest::Manifest;
use tooldelta_testkit::{
    ChildGuard, EtagChange, Fault, RangeMutation, Rule, StaticMirror, ToolTree, bin_path,
};

const MODEL: &str = "models/model.gguf";
const MODEL_SIZE: u64 = 4 << 20;

/// A world with v1 published (a 4 MiB model and two small files).
fn world_with_v1() -> (World, ToolTree, Manifest) {
    let mut world = World::new();
    let tree = world.tree("v1");
    tree.text("README.md", "faults\n")
        .text("bin/run.sh", "#!/bin/sh\n")
        .random(MODEL, MODEL_SIZE, 11);
    let manifest = world.publish(&tree, "1.0.0");
    (world, tree, manifest)
}

fn model_blob(m: &Manifest) -> String {
    StaticMirror::blob_route(&sha(m, MODEL))
}

#[test]
fn a_cut_body_is_resumed_with_range_and_if_range() {
    let (world, tree, m) = world_with_v1();
    let blob = model_blob(&m);
    world
        .server
        .faults()
        .set(Rule::new(Fault::CutAfter(1 << 20)).path(&blob).first(1));
    let r = world.update(&[]).assert_success().json();
    assert_same_tree(&world.current(), &tree);
    let stats = world.server.log().stats(&blob);
    assert_eq!(stats.count, 2, "{stats:?}");
    let range = stats.ranges[1]
        .clone()
        .expect("the second request must be ranged");
    let start: u64 = range
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(start > 0 && start <= 1 << 20, "{range}");
    let if_range = world.server.log().records_for(&blob)[1].if_range.clone();
    assert_eq!(if_range, Some(format!("\"{}\"", sha(&m, MODEL))));
    assert_eq!(stats.statuses, [200, 206]);
    // Resumed within the run: the bytes were downloaded once, not "resumed from an earlier run".
    assert_eq!(u(&r, "bytes_downloaded"), m.total_size());
    assert_eq!(u(&r, "bytes_resumed"), 0);
}

#[test]
fn a_server_that_ignores_range_makes_the_client_restart_from_zero() {
    let (world, tree, m) = world_with_v1();
    let blob = model_blob(&m);
    world
        .server
        .faults()
        .set(Rule::new(Fault::CutAfter(1 << 20)).path(&blob).first(1));
    world
        .server
        .faults()
        .add(Rule::new(Fault::IgnoreRange).path(&blob));
    let r = world.update(&[]).assert_success().json();
    assert_same_tree(&world.current(), &tree);
    assert_eq!(world.server.log().stats(&blob).statuses, [200, 200]);
    // The partial megabyte was thrown away and the whole file fetched again.
    assert!(u(&r, "bytes_downloaded") > m.total_size());
}

#[test]
fn a_changed_etag_makes_the_client_restart_from_zero() {
    let (world, tree, m) = world_with_v1();
    let blob = model_blob(&m);
    world
        .server
        .faults()
        .set(Rule::new(Fault::CutAfter(1 << 20)).path(&blob).first(1));
    world.server.faults().add(
        Rule::new(Fault::ChangeEtag(EtagChange::Fixed))
            .path(&blob)
            .after(1),
    );
    world.update(&[]).assert_success();
    assert_same_tree(&world.current(), &tree);
    let stats = world.server.log().stats(&blob);
    assert_eq!(
        stats.statuses,
        [200, 200],
        "If-Range with the old ETag must get the whole file"
    );
}

#[test]
fn a_206_with_a_wrong_content_range_is_refused_and_the_file_requested_whole() {
    for mutation in [
        RangeMutation::StartOffByOne,
        RangeMutation::StartAtZero,
        RangeMutation::WrongTotal,
        RangeMutation::Garbage,
        RangeMutation::Missing,
    ] {
        let (world, tree, m) = world_with_v1();
        let blob = model_blob(&m);
        world
            .server
            .faults()
            .set(Rule::new(Fault::CutAfter(1 << 20)).path(&blob).first(1));
        world
            .server
            .faults()
            .add(Rule::new(Fault::ContentRange(mutation)).path(&blob));
        world.update(&[]).assert_success();
        assert_same_tree(&world.current(), &tree);
        let stats = world.server.log().stats(&blob);
        assert_eq!(stats.statuses, [200, 206, 200], "{mutation:?}: {stats:?}");
        assert_eq!(
            stats.ranges[2], None,
            "{mutation:?}: the reissued request must not be ranged"
        );
    }
}

#[test]
fn a_corrupt_blob_is_refused_and_the_next_source_serves_the_file() {
    let (world, tree, m) = world_with_v1();
    let blob = model_blob(&m);
    world
        .server
        .faults()
        .set(Rule::new(Fault::CorruptByte(12345)).path(&blob));
    world.update(&[]).assert_success();
    assert_same_tree(&world.current(), &tree);
    let by_path = StaticMirror::file_route(TOOL, "1.0.0", MODEL);
    assert_eq!(
        world.server.log().stats(&by_path).count,
        1,
        "the files/ route is the next source"
    );
}

#[test]
fn corrupt_data_everywhere_fails_naming_file_mirror_and_both_hashes_and_keeps_current() {
    let (world, tree, m) = world_with_v1();
    world.update(&[]).assert_success();
    let t2 = tree.copy_to(world.tmp.path().join("trees/v2"));
    t2.random(MODEL, MODEL_SIZE, 12);
    let mut world = world;
    let m2 = world.publish(&t2, "2.0.0");
    let files_v2 = format!("/api/v1/tools/{TOOL}/2.0.0/files/");
    world
        .server
        .faults()
        .set(Rule::new(Fault::CorruptByte(7)).path_prefix("/api/v1/blobs/"));
    world
        .server
        .faults()
        .add(Rule::new(Fault::CorruptByte(7)).path_prefix(files_v2));
    let out = world.update(&[]);
    out.assert_failure();
    let err = out.stderr;
    assert!(err.contains(TOOL) && err.contains(MODEL), "{err}");
    assert!(
        err.contains("integrity failure from http://127.0.0.1:"),
        "{err}"
    );
    assert!(
        err.contains(&sha(&m2, MODEL)),
        "the expected hash is named: {err}"
    );
    assert!(err.contains("got "), "{err}");
    assert_same_tree(&world.current(), &tree);
    assert_eq!(
        world.current_target().unwrap(),
        std::path::Path::new("releases/1.0.0")
    );
    drop(m);
}

#[test]
fn extra_and_endless_bytes_are_refused_at_the_manifest_size() {
    for fault in [Fault::ExtraBytes(10), Fault::EndlessBody] {
        let (world, _tree, m) = world_with_v1();
        world
            .server
            .faults()
            .set(Rule::new(fault.clone()).path_prefix("/api/v1/blobs/"));
        world.server.faults().add(
            Rule::new(fault.clone()).path_prefix(format!("/api/v1/tools/{TOOL}/1.0.0/files/")),
        );
        let out = world.update(&[]);
        out.assert_failure();
        assert!(
            out.stderr.contains("endless data refused"),
            "{fault:?}: {}",
            out.stderr
        );
        assert!(world.current_target().is_none());
        // Never more than a file's size was written for it.
        for f in &m.files {
            let partial = world.partial_dir().join(format!("{}.partial", f.sha256));
            let len = std::fs::metadata(&partial).map_or(0, |m| m.len());
            assert!(
                len <= f.size,
                "{fault:?}: {} has {len} bytes on disk",
                f.path
            );
        }
    }
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let (world, tree, m) = world_with_v1();
    let blob = model_blob(&m);
    let by_path = StaticMirror::file_route(TOOL, "1.0.0", MODEL);
    world
        .server
        .faults()
        .set(Rule::new(Fault::ErrorStatus(503)).path(&blob).first(2));
    world
        .server
        .faults()
        .add(Rule::new(Fault::ErrorStatus(500)).path(&by_path).first(2));
    world.update(&[]).assert_success();
    assert_same_tree(&world.current(), &tree);
    assert_eq!(world.server.log().stats(&blob).statuses, [503, 503, 200]);
}

#[test]
fn a_stall_is_given_up_naming_the_file() {
    let (world, _tree, m) = world_with_v1();
    let stall = Fault::StallAfter {
        bytes: 0,
        duration: Duration::from_secs(30),
    };
    world
        .server
        .faults()
        .set(Rule::new(stall.clone()).path(model_blob(&m)));
    world
        .server
        .faults()
        .add(Rule::new(stall).path(StaticMirror::file_route(TOOL, "1.0.0", MODEL)));
    let out = world.update(&["--stall-timeout", "1", "--retries", "0"]);
    out.assert_failure();
    assert!(
        out.stderr.contains(MODEL) && out.stderr.contains("stalled"),
        "{}",
        out.stderr
    );
    assert!(world.current_target().is_none());
}

#[test]
fn a_dead_first_mirror_falls_through_to_the_second() {
    let (world, tree, _m) = world_with_v1();
    let dead = tooldelta_testkit::FaultServer::serve_dir(world.tmp.path());
    dead.faults().set(Rule::new(Fault::ErrorStatus(404)));
    let root = world.root.display().to_string();
    let trust = world.keys.public_pem().display().to_string();
    world
        .raw(&[
            "update",
            TOOL,
            "--root",
            &root,
            "--trust",
            &trust,
            "--mirror",
            &dead.url(),
            "--mirror",
            &world.server.url(),
        ])
        .assert_success();
    assert_same_tree(&world.current(), &tree);
    assert!(dead.log().total_requests() >= 1);
}

#[test]
fn a_killed_update_leaves_current_untouched_and_the_next_run_resumes_the_partial() {
    let (mut world, t1, _m1) = world_with_v1();
    world.update(&[]).assert_success();
    let t2 = t1.copy_to(world.tmp.path().join("trees/v2"));
    t2.random(MODEL, MODEL_SIZE, 99);
    let m2 = world.publish(&t2, "2.0.0");
    // Slow enough that the process is surely mid-download when killed.
    world
        .server
        .faults()
        .set(Rule::new(Fault::Throttle(512 << 10)).path(model_blob(&m2)));

    let args = world.with_target("update", &[TOOL]);
    let mut child = ChildGuard::spawn(
        Command::new(bin_path("tooldelta"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let partial = world
        .partial_dir()
        .join(format!("{}.partial", sha(&m2, MODEL)));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 600 << 10 {
        assert!(Instant::now() < deadline, "no partial download appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        child.kill(),
        "the update finished before it could be killed"
    );
    assert_same_tree(&world.current(), &t1);
    assert_eq!(
        world.current_target().unwrap(),
        std::path::Path::new("releases/1.0.0")
    );

    // A stale staging folder of a crashed run is cleared, never used.
    let stale = world.root.join("tools").join(TOOL).join("staging/2.0.0");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("junk"), "stale").unwrap();

    world.server.faults().clear();
    let kept = std::fs::metadata(&partial).unwrap().len();
    let r = world.update(&[]).assert_success().json();
    assert_same_tree(&world.current(), &t2);
    assert_eq!(u(&r, "bytes_resumed"), kept);
    assert_eq!(u(&r, "bytes_downloaded"), MODEL_SIZE - kept);
    let ranges = world.server.log().stats(&model_blob(&m2)).ranges;
    assert_eq!(
        ranges.last().unwrap().as_deref(),
        Some(format!("bytes={kept}-").as_str())
    );
    assert!(!stale.exists());
}

#[test]
fn progress_json_writes_versioned_events_on_stderr() {
    let (world, _tree, _m) = world_with_v1();
    let out = world.update(&["--progress-json"]).assert_success().clone();
    let events: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["v"] == 1));
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"phase"));
    assert!(kinds.contains(&"plan_ready") && kinds.contains(&"file_verified"));
    assert_eq!(kinds.last(), Some(&"done"));
    assert_eq!(events.last().unwrap()["report"]["files_downloaded"], 3);
    assert_eq!(
        out.json()["files_downloaded"],
        3,
        "stdout still carries exactly the report"
    );
}
