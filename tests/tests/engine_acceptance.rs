//! The engine's other end-to-end behaviours against the real `tooldelta`
//! binary and a static mirror over HTTP: rollback defence and downgrades, a
//! no-op update, status and the lock, and release pruning. The main
//! three-version scenario is `engine_scenario.rs`, run against both servers.

mod engine_support;

use engine_support::{TOOL, World, assert_same_tree, u};
use tooldelta_testkit::ToolTree;

const MODEL: &str = "models/model.gguf";

fn v1(world: &World) -> ToolTree {
    let tree = world.tree("v1");
    tree.text("README.md", "demo tool, version 1\n")
        .text("bin/run.sh", "#!/bin/sh\necho run\n")
        .text("config/settings.toml", "threads = 4\n")
        .random(MODEL, 3 << 20, 7);
    tree
}

#[test]
fn an_older_manifest_served_as_latest_is_refused_and_a_downgrade_needs_the_flag() {
    let mut world = World::new();
    let t1 = v1(&world);
    world.publish(&t1, "1.0.0");
    let t2 = t1.copy_to(world.tmp.path().join("trees/v2"));
    t2.text("README.md", "two\n");
    world.publish(&t2, "2.0.0");
    world.update(&[]).assert_success();

    world.mirror.replay_as_latest(TOOL, "1.0.0");
    let out = world.update(&[]);
    out.assert_failure();
    assert!(out.stderr.contains("rollback refused"), "{}", out.stderr);

    let out = world.update(&["--version", "1.0.0"]);
    out.assert_failure();
    assert!(out.stderr.contains("--allow-downgrade"), "{}", out.stderr);
    assert_same_tree(&world.current(), &t2);

    let r = world
        .update(&["--version", "1.0.0", "--allow-downgrade"])
        .assert_success()
        .json();
    assert_eq!(r["to_version"], "1.0.0");
    assert_same_tree(&world.current(), &t1);
    // The floor stays at 2.0.0: `latest` serving 1.0.0 is still a rollback.
    assert!(world.update(&[]).stderr.contains("rollback refused"));
}

#[test]
fn an_update_to_the_active_version_fetches_nothing() {
    let mut world = World::new();
    let t1 = v1(&world);
    let m1 = world.publish(&t1, "1.0.0");
    world.update(&[]).assert_success();
    world.server.log().clear();
    let r = world.update(&[]).assert_success().json();
    assert_eq!(
        (u(&r, "files_downloaded"), u(&r, "bytes_downloaded")),
        (0, 0)
    );
    assert_eq!(u(&r, "bytes_saved"), m1.total_size());
    let paths: Vec<String> = world
        .server
        .log()
        .records()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        paths
            .iter()
            .all(|p| p.ends_with("manifest.json") || p.contains("/channels/")),
        "{paths:?}"
    );
}

#[test]
fn status_lists_versions_releases_and_the_lock_holder() {
    let mut world = World::new();
    let t1 = v1(&world);
    world.publish(&t1, "1.0.0");
    world.update(&[]).assert_success();
    let t2 = t1.copy_to(world.tmp.path().join("trees/v2"));
    t2.text("README.md", "two\n");
    world.publish(&t2, "2.0.0");
    world.update(&[]).assert_success();

    let s = world.status().assert_success().json();
    let tool = &s["tools"][0];
    assert_eq!(tool["tool_id"], TOOL);
    assert_eq!(tool["version"], "2.0.0");
    assert_eq!(tool["releases"], serde_json::json!(["2.0.0", "1.0.0"]));
    assert_eq!(tool["highest_accepted"], "2.0.0");
    assert_eq!(tool["updater_running"], false);

    // Another process holds the tool's lock: status says so, update refuses.
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(world.root.join("tools").join(TOOL).join(".lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let s = world.status().assert_success().json();
    assert_eq!(s["tools"][0]["updater_running"], true);
    let out = world.update(&[]);
    out.assert_failure();
    assert!(
        out.stderr.contains("another tooldelta process"),
        "{}",
        out.stderr
    );
    drop(lock);

    // With mirror and key, status shows what the mirror offers.
    let args = world.with_target("status", &[]);
    let s = world
        .raw(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .assert_success()
        .json();
    assert_eq!(s["tools"][0]["available_version"], "2.0.0");
    assert_eq!(s["tools"][0]["update_available"], false);
}

#[test]
fn keep_releases_prunes_old_releases_and_their_unreferenced_objects() {
    let mut world = World::new();
    let mut tree = world.tree("v1");
    tree.text("README.md", "v1\n");
    world.publish(&tree, "1.0.0");
    world.update(&[]).assert_success();
    let first_object = world.root.join("objects/sha256");
    let count = || walkdir_count(&first_object);
    for v in 2..=4 {
        tree = tree.copy_to(world.tmp.path().join(format!("trees/v{v}")));
        tree.text("README.md", &format!("v{v}\n"));
        world.publish(&tree, &format!("{v}.0.0"));
        world.update(&["--keep-releases", "1"]).assert_success();
    }
    let s = world.status().assert_success().json();
    assert_eq!(
        s["tools"][0]["releases"],
        serde_json::json!(["4.0.0", "3.0.0"])
    );
    assert_eq!(count(), 2, "objects of pruned releases must be collected");
}

fn walkdir_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap().count())
        .sum()
}
