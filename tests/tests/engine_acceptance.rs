//! Issue 4's acceptance, against the real `tooldelta` binary and a static
//! mirror over HTTP: three versions (one file changed; then one deleted and
//! one added) with CONTRACT §2's exact counts, verify / repair / rollback, and
//! a manifest from an unknown key refused with `current/` unchanged.

mod engine_support;

use std::os::unix::fs::MetadataExt as _;

use engine_support::{TOOL, World, assert_same_tree, sha, sizes, snapshot, u};
use serde_json::Value;
use tooldelta_testkit::{StaticMirror, TestKeys, ToolTree};

const MODEL: &str = "models/model.gguf";

fn v1(world: &World) -> ToolTree {
    let tree = world.tree("v1");
    tree.text("README.md", "demo tool, version 1\n")
        .text("bin/run.sh", "#!/bin/sh\necho run\n")
        .text("config/settings.toml", "threads = 4\n")
        .random(MODEL, 3 << 20, 7);
    tree
}

#[allow(clippy::too_many_lines)]
#[test]
fn three_versions_verify_repair_rollback_and_an_unknown_key() {
    let mut world = World::new();

    // v1: first install, everything fetched.
    let t1 = v1(&world);
    let m1 = world.publish(&t1, "1.0.0");
    let out = world.update(&[]);
    out.assert_success();
    let r = out.json();
    assert_eq!(r["tool_id"], TOOL);
    assert_eq!(r["from_version"], Value::Null);
    assert_eq!(r["to_version"], "1.0.0");
    assert_eq!(
        (
            u(&r, "files_downloaded"),
            u(&r, "files_unchanged"),
            u(&r, "files_deleted"),
            u(&r, "files_verified")
        ),
        (4, 0, 0, 4)
    );
    assert_eq!(u(&r, "bytes_downloaded"), m1.total_size());
    assert_eq!((u(&r, "bytes_saved"), u(&r, "bytes_resumed")), (0, 0));
    assert_eq!(r["manifest_hash"], m1.manifest_hash);
    assert_eq!(r["signature"]["status"], "valid");
    assert_eq!(
        r["signature"]["public_key_id"],
        world.keys.key_id().to_string()
    );
    assert!(r["duration_ms"].is_u64());
    assert_same_tree(&world.current(), &t1);
    let target = world.current_target().unwrap();
    assert_eq!(
        target,
        std::path::Path::new("releases/1.0.0"),
        "current must be a relative link"
    );

    // v2: one file changed; only it is fetched.
    let t2 = t1.copy_to(world.tmp.path().join("trees/v2"));
    t2.text("README.md", "demo tool, version 2, longer text\n");
    let m2 = world.publish(&t2, "2.0.0");
    world.server.log().clear();
    let r = world.update(&[]).assert_success().json();
    let s2 = sizes(&m2);
    assert_eq!(r["from_version"], "1.0.0");
    assert_eq!(r["to_version"], "2.0.0");
    assert_eq!(
        (
            u(&r, "files_downloaded"),
            u(&r, "files_unchanged"),
            u(&r, "files_deleted"),
            u(&r, "files_verified")
        ),
        (1, 3, 0, 4)
    );
    assert_eq!(u(&r, "bytes_downloaded"), s2["README.md"]);
    assert_eq!(u(&r, "bytes_saved"), m2.total_size() - s2["README.md"]);
    assert_same_tree(&world.current(), &t2);
    let blob_requests: Vec<String> = world
        .server
        .log()
        .records()
        .into_iter()
        .filter(|rec| !rec.path.ends_with("manifest.json"))
        .map(|rec| rec.path)
        .collect();
    assert_eq!(
        blob_requests,
        [StaticMirror::blob_route(&sha(&m2, "README.md"))]
    );

    // v3: one file deleted, one added.
    let t3 = t2.copy_to(world.tmp.path().join("trees/v3"));
    t3.remove("config/settings.toml")
        .text("data/new.txt", "added in v3\n");
    let m3 = world.publish(&t3, "3.0.0");
    let r = world.update(&[]).assert_success().json();
    let s3 = sizes(&m3);
    assert_eq!(
        (
            u(&r, "files_downloaded"),
            u(&r, "files_unchanged"),
            u(&r, "files_deleted"),
            u(&r, "files_verified")
        ),
        (1, 3, 1, 4)
    );
    assert_eq!(u(&r, "bytes_downloaded"), s3["data/new.txt"]);
    assert_eq!(u(&r, "bytes_saved"), m3.total_size() - s3["data/new.txt"]);
    assert_same_tree(&world.current(), &t3);

    // The unchanged model cost O(1): one inode shared by every kept release.
    let ino = |v: &str| {
        std::fs::metadata(world.release(v).join(MODEL))
            .unwrap()
            .ino()
    };
    assert_eq!(
        ino("3.0.0"),
        ino("2.0.0"),
        "the model was copied, not linked"
    );

    // verify: a tampered and a deleted file.
    let tampered = world.current().join("data/new.txt");
    let mut perms = std::fs::metadata(&tampered).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&tampered, perms).unwrap();
    std::fs::write(&tampered, "tampered\n").unwrap();
    std::fs::remove_file(world.current().join("bin/run.sh")).unwrap();
    let out = world.verify();
    assert_eq!(out.code, Some(1), "verify must exit 1: {}", out.stderr);
    let v = out.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["version"], "3.0.0");
    let status_of = |v: &Value, p: &str| {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(&v, "data/new.txt"), "modified");
    assert_eq!(status_of(&v, "bin/run.sh"), "missing");
    assert_eq!(status_of(&v, "README.md"), "ok");
    let modified = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "data/new.txt")
        .unwrap();
    assert_eq!(modified["expected_sha256"], sha(&m3, "data/new.txt"));
    assert_ne!(modified["actual_sha256"], modified["expected_sha256"]);

    // repair fetches only the bad files, and verify passes again.
    world.server.log().clear();
    let r = world.repair().assert_success().json();
    let mut repaired: Vec<&str> = r["files_repaired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    repaired.sort_unstable();
    assert_eq!(repaired, ["bin/run.sh", "data/new.txt"]);
    assert_eq!(r["verify"]["ok"], true);
    // Small files are staged as copies (issue 16): the tampering left the
    // store's objects intact, so repair puts them back with no download.
    let fetched: Vec<String> = world
        .server
        .log()
        .records()
        .into_iter()
        .map(|rec| rec.path)
        .collect();
    assert!(
        fetched.is_empty(),
        "repair fetched although the store holds good copies: {fetched:?}"
    );
    assert_eq!(r["files_downloaded"], 0);
    world.verify().assert_success();
    assert_same_tree(&world.current(), &t3);

    // rollback brings v2 back.
    let r = world.rollback().assert_success().json();
    assert_eq!(
        (r["from_version"].as_str(), r["to_version"].as_str()),
        (Some("3.0.0"), Some("2.0.0"))
    );
    assert_same_tree(&world.current(), &t2);
    world.verify().assert_success();

    // A manifest signed by an unknown key is refused; current/ is unchanged.
    let before = (world.current_target(), snapshot(&world.current()));
    let t4 = t3.copy_to(world.tmp.path().join("trees/v4"));
    t4.text("README.md", "v4 from an unknown key\n");
    world
        .mirror
        .publish(t4.root(), TOOL, "4.0.0", TestKeys::other().signing_key());
    let out = world.update(&[]);
    out.assert_failure();
    assert!(
        out.stderr.contains("not trusted") && out.stderr.contains(TOOL),
        "{}",
        out.stderr
    );
    assert_eq!((world.current_target(), snapshot(&world.current())), before);
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
        paths.iter().all(|p| p.ends_with("manifest.json")),
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
