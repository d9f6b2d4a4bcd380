//! Issue 16: kept releases stay trustworthy. A file edited in place in
//! `current/` must never come back through `rollback`: the target release is
//! verified first and repaired from the store or the mirror, or the rollback
//! is refused with `current` untouched. Real `tooldelta` binary, static mirror
//! over HTTP.

mod engine_support;

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use engine_support::{TOOL, World, assert_same_tree};
use serde_json::Value;
use tooldelta_testkit::{CmdOutput, ToolTree};

const SCRIPT: &str = "src/main.py";
/// Above the copy threshold (1 MiB): staged as a hard link / reflink, shared.
const MODEL: &str = "models/model.gguf";

/// Two versions whose script and model are the same; only the README changes.
fn two_versions(world: &mut World) -> (ToolTree, ToolTree) {
    let t1 = world.tree("v1.1");
    t1.text("README.md", "version 1.1\n")
        .text(SCRIPT, "print('hello')\n")
        .random(MODEL, 3 << 20, 11);
    let t2 = t1.copy_to(world.tmp.path().join("trees/v1.2"));
    t2.text("README.md", "version 1.2\n");
    world.publish(&t1, "1.1.0");
    world.update(&["--version", "1.1.0"]).assert_success();
    world.publish(&t2, "1.2.0");
    world.update(&[]).assert_success();
    (t1, t2)
}

/// What a technician does to "just fix a line": make it writable, edit it in
/// place (same inode), as `echo >> file` would.
fn edit_in_place(path: &Path, extra: &[u8]) {
    let mut perms = fs::metadata(path).unwrap().permissions();
    perms.set_mode(0o644);
    fs::set_permissions(path, perms).unwrap();
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(extra).unwrap();
    f.sync_all().unwrap();
}

fn object_path(world: &World, sha256: &str) -> std::path::PathBuf {
    world
        .root
        .join("objects/sha256")
        .join(&sha256[..2])
        .join(sha256)
}

fn rollback_with_mirror(world: &World) -> CmdOutput {
    let args = world.with_target("rollback", &[TOOL]);
    world.raw(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn an_edit_in_place_never_comes_back_through_rollback() {
    let mut world = World::new();
    let (t1, t2) = two_versions(&mut world);

    edit_in_place(&world.current().join(SCRIPT), b"print('quick fix')\n");
    let out = world.repair();
    out.assert_success();
    world.verify().assert_success();
    assert_same_tree(&world.current(), &t2);

    let out = world.rollback();
    out.assert_success();
    world.verify().assert_success();
    assert_same_tree(&world.current(), &t1);
    assert!(world.current_target().unwrap().ends_with("1.1.0"));
}

#[test]
fn small_files_never_share_the_store_inode_and_unchanged_ones_link_the_previous_release() {
    let mut world = World::new();
    let (t1, _t2) = two_versions(&mut world);
    let script = world.current().join(SCRIPT);
    let kept = fs::metadata(world.release("1.1.0").join(SCRIPT)).unwrap();
    // Issue 21's trade-off: an unchanged small file is linked from the
    // previous release (a one-file update writes one file), never from the
    // store, which keeps its own clean copy.
    assert_eq!(fs::metadata(&script).unwrap().ino(), kept.ino());
    let sha = tooldelta_core::hash::hash_file(&t1.path(SCRIPT))
        .unwrap()
        .sha256;
    let object = object_path(&world, &sha);
    assert_eq!(fs::metadata(&object).unwrap().nlink(), 1);
    edit_in_place(&script, b"# edited\n");
    assert_eq!(
        tooldelta_core::hash::hash_file(&object).unwrap().sha256,
        sha,
        "an edit in current/ never reaches the store"
    );
    // The kept release shared the edited inode: rollback verifies it and
    // heals it from the store before it switches.
    world.rollback().assert_success();
    world.verify().assert_success();
    assert_same_tree(&world.current(), &t1);
    // Large files keep O(1) reuse.
    let model = fs::metadata(world.current().join(MODEL)).unwrap();
    let other = fs::metadata(world.release("1.2.0").join(MODEL)).unwrap();
    assert!(
        model.ino() == other.ino() || model.nlink() == 1,
        "the model is shared (hard link) or a reflink clone"
    );
}

#[test]
fn repair_reaches_every_release_that_shares_a_damaged_model() {
    let mut world = World::new();
    let (t1, t2) = two_versions(&mut world);
    let model = world.current().join(MODEL);
    if fs::metadata(&model).unwrap().nlink() == 1 {
        eprintln!("skipped: the file system gives reflinks, nothing is shared");
        return;
    }
    edit_in_place(&model, b"appended by accident");
    // verify says the edit reached other paths (store object, kept release).
    let v = world.verify().json();
    let checked = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == MODEL)
        .unwrap();
    assert_eq!(checked["status"], "modified");
    assert!(checked["shared_links"].as_u64().unwrap() >= 2, "{checked}");
    // Shared inode: the kept release is damaged too.
    assert_ne!(
        engine_support::snapshot(&world.release("1.1.0")),
        engine_support::snapshot(t1.root())
    );
    let out = world.repair();
    out.assert_success();
    let r = out.json();
    let also: Vec<&str> = r["also_repaired"]
        .as_array()
        .unwrap_or_else(|| panic!("no also_repaired in {r}"))
        .iter()
        .map(|v| v["release"].as_str().unwrap())
        .collect();
    assert!(also.contains(&"1.1.0"), "{r}");
    assert_same_tree(&world.current(), &t2);
    assert_same_tree(&world.release("1.1.0"), &t1);
    let all = world.raw(&[
        "verify",
        TOOL,
        "--root",
        &world.root.display().to_string(),
        "--all-releases",
        "--json",
    ]);
    all.assert_success();
    assert_eq!(all.json()["releases"][0]["version"], "1.1.0");

    world.rollback().assert_success();
    world.verify().assert_success();
    assert_same_tree(&world.current(), &t1);
}

#[test]
fn rollback_repairs_from_the_mirror_when_the_store_is_damaged_too() {
    let mut world = World::new();
    let (t1, _t2) = two_versions(&mut world);
    let m1 = world.mirror.manifest(TOOL, "1.1.0");
    let sha = m1.file(SCRIPT).unwrap().sha256.clone();
    // Damage the kept release and the store copy alike (as a disk fault would).
    edit_in_place(&world.release("1.1.0").join(SCRIPT), b"# rot\n");
    edit_in_place(&object_path(&world, &sha), b"# rot\n");
    let root = world.root.display().to_string();
    let all = world.raw(&["verify", TOOL, "--root", &root, "--all-releases", "--json"]);
    all.assert_failure();
    let kept = &all.json()["releases"][0];
    assert_eq!(
        (kept["version"].as_str(), kept["ok"].as_bool()),
        (Some("1.1.0"), Some(false))
    );

    let out = rollback_with_mirror(&world);
    out.assert_success();
    let r = out.json();
    let repaired: Vec<&str> = r["repaired"]
        .as_array()
        .unwrap_or_else(|| panic!("no repaired in {r}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(repaired, [SCRIPT], "{r}");
    world.verify().assert_success();
    assert_same_tree(&world.current(), &t1);
}

#[test]
fn a_damaged_kept_release_with_no_good_copy_is_refused_and_nothing_switches() {
    let mut world = World::new();
    let (_t1, t2) = two_versions(&mut world);
    let m1 = world.mirror.manifest(TOOL, "1.1.0");
    let sha = m1.file(SCRIPT).unwrap().sha256.clone();
    // The kept copy is replaced (its own inode): an edit in place would
    // reach the active release too, which links its unchanged small files
    // from the previous one (issue 21; see the test above).
    let kept = world.release("1.1.0").join(SCRIPT);
    let mut perms = fs::metadata(kept.parent().unwrap()).unwrap().permissions();
    perms.set_mode(0o755);
    fs::set_permissions(kept.parent().unwrap(), perms).unwrap();
    fs::remove_file(&kept).unwrap();
    fs::write(&kept, b"# rot\n").unwrap();
    edit_in_place(&object_path(&world, &sha), b"# rot\n");
    let before = world.current_target();

    // No mirror given: the store is the only source, and it is damaged.
    let out = world.rollback();
    out.assert_failure();
    assert!(
        out.stderr.contains(SCRIPT),
        "the refusal names the file: {}",
        out.stderr
    );
    assert_eq!(world.current_target(), before);
    assert_same_tree(&world.current(), &t2);

    // An unreachable mirror is no better (nothing listens on port 1).
    let root = world.root.display().to_string();
    let trust = world.keys.public_pem().display().to_string();
    let out = world.raw(&[
        "rollback",
        TOOL,
        "--root",
        &root,
        "--mirror",
        "http://127.0.0.1:1",
        "--trust",
        &trust,
    ]);
    out.assert_failure();
    assert_eq!(world.current_target(), before);
    let v: Value = world.verify().json();
    assert_eq!(v["ok"], true, "the active release is untouched");
}

#[test]
fn repair_of_one_tool_also_repairs_another_tool_sharing_the_content() {
    let mut world = World::new();
    let (_t1, t2) = two_versions(&mut world);
    let other = world.tree("other");
    other
        .text("run.sh", "#!/bin/sh\n")
        .random(MODEL, 3 << 20, 11);
    world.mirror.publish(
        other.root(),
        "other-tool",
        "1.0.0",
        world.keys.signing_key(),
    );
    let args = world.with_target("update", &["other-tool"]);
    world
        .raw(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .assert_success();
    let model = world.current().join(MODEL);
    if fs::metadata(&model).unwrap().nlink() == 1 {
        eprintln!("skipped: the file system gives reflinks, nothing is shared");
        return;
    }
    edit_in_place(&model, b"appended by accident");
    let out = world.repair();
    out.assert_success();
    let r = out.json();
    let tools: Vec<&str> = r["also_repaired"]
        .as_array()
        .unwrap_or_else(|| panic!("no also_repaired in {r}"))
        .iter()
        .map(|v| v["tool_id"].as_str().unwrap())
        .collect();
    assert!(tools.contains(&"other-tool"), "{r}");
    assert_same_tree(&world.current(), &t2);
    let other_current = world.root.join("tools/other-tool/current");
    assert_same_tree(&other_current, &other);
}
