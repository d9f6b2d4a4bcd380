//! Hostile paths and planted symlinks: nothing may be written outside the
//! install root, whatever a (validly signed) manifest or a local attacker
//! with write access to the staging area tries.
//!
//! Two sources of hostile manifests: the independently made fixtures in
//! `fixtures/hostile/` (Python + OpenSSL, signed with the TEST ONLY key), and
//! manifests built here whose paths reach past the root's parent.

mod fault_support;

use std::path::{Path, PathBuf};

use fault_support::{
    NEW, OLD, TOOL, World, assert_active, assert_refused, assert_same, leftovers, record_figures,
    snapshot,
};
use serde_json::json;
use tooldelta_core::manifest::{FileEntry, Manifest};
use tooldelta_testkit::{FaultServer, StaticMirror, bin_path, run_with_timeout};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Each fixture, and words its refusal must contain.
const FIXTURES: &[(&str, &[&str])] = &[
    ("path-dotdot", &["path-dotdot", "../../etc/cron.d/evil"]),
    ("path-dotdot-inner", &["path-dotdot"]),
    ("path-absolute", &["path-absolute", "/etc/passwd"]),
    ("path-backslash", &["path-backslash"]),
    ("path-drive-letter", &["path-drive-letter"]),
    ("path-empty-component", &["path-empty-component"]),
    ("path-dot", &["path-dot"]),
    ("path-empty", &["path-empty"]),
    ("path-nul", &["path-control-char"]),
    ("path-control-char", &["path-control-char"]),
    ("path-windows-reserved", &["path-windows-reserved", "CON"]),
    (
        "path-case-collision",
        &["path-case-collision", "README.md", "readme.md"],
    ),
    ("path-unicode-collision", &["path-case-collision"]),
    ("path-duplicate", &["path-duplicate", "README.md"]),
    ("bad-sha256", &["bad-sha256"]),
    ("unsorted", &["unsorted"]),
    ("expired", &["expired"]),
    ("wrong-tool", &["mix-and-match", "other-tool"]),
    ("tampered", &["altered"]),
    ("unsigned", &["unsigned"]),
    ("unknown-key", &["not trusted"]),
    ("duplicate-key", &["duplicate"]),
];

const DEMO: &str = "demo-tool";

fn tooldelta_update(root: &Path, mirror: &str, trust: &Path) -> tooldelta_testkit::CmdOutput {
    run_with_timeout(
        std::process::Command::new(bin_path("tooldelta"))
            .args(["update", DEMO, "--json", "--retries", "0", "--root"])
            .arg(root)
            .arg("--mirror")
            .arg(mirror)
            .arg("--trust")
            .arg(trust),
        fault_support::CMD_TIMEOUT,
    )
}

#[test]
fn every_hostile_fixture_manifest_is_refused_naming_its_rule_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut mirror = StaticMirror::new(tmp.path().join("mirror"));
    let valid = std::fs::read(fixtures().join("valid-demo-tool-1.0.0.json")).unwrap();
    let parsed = Manifest::parse(&valid).unwrap().manifest;
    mirror.add(&parsed, &fixtures().join("demo-tool/1.0.0"));
    let server = FaultServer::serve_dir(mirror.root());
    let trust = fixtures().join("keys/test-only.public.pem");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let root = work.join("root");
    tooldelta_update(&root, &server.url(), &trust).assert_success();
    let active = root.join("tools").join(DEMO).join("current");
    let installed = fault_support::files_under(&active);

    let mut refused = 0;
    for (name, needles) in FIXTURES {
        let bytes = std::fs::read(fixtures().join(format!("hostile/{name}.json"))).unwrap();
        mirror.write_manifest_bytes(DEMO, "latest", &bytes);
        let before = snapshot(&work, &[&root]);
        let root_before = snapshot(&root, &[]);
        let out = tooldelta_update(&root, &server.url(), &trust);
        let message = assert_refused(&out, needles);
        assert!(message.contains(DEMO), "{name}: {message}");
        assert_same(
            &before,
            &snapshot(&work, &[&root]),
            &format!("{name}: outside the root"),
        );
        // Refused before anything was fetched, staged or recorded.
        let mut after = snapshot(&root, &[]);
        let mut root_before = root_before.clone();
        for s in [&mut after, &mut root_before] {
            // Locks are taken, and the empty staging folder of the last
            // run is cleared, by every run: neither is a write of the attack.
            // Nor are the run's own records for viewers (the live progress
            // file, how the last update ended for the fleet report).
            s.retain(|p, _| {
                !p.ends_with(".lock")
                    && !p.ends_with(".gc.lock")
                    && !p.ends_with("staging")
                    && !p.ends_with("progress.json")
                    && !p.ends_with("last_update.json")
            });
        }
        assert_same(&root_before, &after, &format!("{name}: the root"));
        assert_eq!(fault_support::files_under(&active), installed, "{name}");
        record_figures(
            &format!("attack-fixture-{name}"),
            &json!({"refused": true, "error": message}),
        );
        refused += 1;
    }
    assert_eq!(refused, FIXTURES.len());
    // Every fixture on disk is covered by the table.
    let on_disk = std::fs::read_dir(fixtures().join("hostile"))
        .unwrap()
        .count();
    assert_eq!(
        on_disk,
        FIXTURES.len(),
        "a hostile fixture is missing from the table"
    );
}

/// A validly signed 2.0.0 with one more file at `path` (its bytes are the
/// README's, so only the path can be the reason for a refusal).
fn publish_with_extra_path(world: &World, path: &str) {
    let mut m = world.mirror.manifest(TOOL, NEW);
    let readme = m.file("README.md").unwrap().clone();
    m.files.push(FileEntry {
        path: path.to_owned(),
        ..readme
    });
    m.files
        .sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    tooldelta_core::signing::sign(&mut m, world.keys.signing_key());
    world
        .mirror
        .write_manifest_bytes(TOOL, "latest", m.to_pretty_json().as_bytes());
}

#[test]
fn signed_paths_that_reach_past_the_root_are_refused_and_nothing_lands_outside() {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), OLD);
    // From work/root/tools/demo/staging/2.0.0/ five `..` reach work/.
    let cases: &[(&str, &str)] = &[
        ("../../../../../escaped.txt", "path-dotdot"),
        ("models/../../../../../../escaped.txt", "path-dotdot"),
        ("/tmp/escaped.txt", "path-absolute"),
        ("..\\..\\..\\..\\..\\escaped.txt", "path-backslash"),
        ("C:/escaped.txt", "path-drive-letter"),
        ("c:escaped.txt", "path-drive-letter"),
        ("bin/run.sh:stream", "path-drive-letter"),
        ("models/x\u{0}.gguf", "path-control-char"),
        ("models/x\n.gguf", "path-control-char"),
        ("models/x\u{7f}.gguf", "path-control-char"),
        ("models/x\u{85}.gguf", "path-control-char"),
        ("aux.txt", "path-windows-reserved"),
        ("models/LPT1", "path-windows-reserved"),
        ("Nul .txt", "path-windows-reserved"),
        ("models/trailing.", "path-trailing-dot-or-space"),
        ("models/trailing ", "path-trailing-dot-or-space"),
        ("MODELS/model.gguf", "path-case-collision"),
        ("readme.MD", "path-case-collision"),
        ("models/model.gguf", "path-duplicate"),
    ];
    for (i, (path, rule)) in cases.iter().enumerate() {
        publish_with_extra_path(&world, path);
        let before = snapshot(&world.work(), &[&root]);
        let out = world.update(&root, &server.url(), &[]);
        assert_refused(&out, &[*rule]);
        assert_active(&root, world.tree(OLD), OLD);
        assert_same(
            &before,
            &snapshot(&world.work(), &[&root]),
            &format!("{path:?}"),
        );
        assert!(!world.work().join("escaped.txt").exists());
        assert!(!Path::new("/tmp/escaped.txt").exists());
        assert!(
            leftovers(&root).is_empty(),
            "{path:?}: {:?}",
            leftovers(&root)
        );
        record_figures(
            &format!("attack-path-{i:02}-{rule}"),
            &json!({"refused": true, "path": path}),
        );
    }
}

#[test]
fn a_file_that_is_also_a_folder_of_another_is_refused_before_downloading() {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), OLD);
    // `README.md` is a file and, through `README.md/x`, a folder: no release can hold both.
    publish_with_extra_path(&world, "README.md/x");
    server.log().clear();
    let out = world.update(&root, &server.url(), &[]);
    assert_refused(&out, &["README.md"]);
    assert_active(&root, world.tree(OLD), OLD);
    let fetched = server
        .log()
        .records()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/blobs/"))
        .count();
    assert_eq!(
        fetched, 0,
        "the manifest must be refused before any download"
    );
    record_figures("attack-path-file-folder", &json!({"refused": true}));
}

/// Plants `link` -> `target`, creating the link's folders.
fn plant(link: &Path, target: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn symlinks_planted_in_staging_and_in_the_store_are_never_followed() {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), OLD);
    let outside = world.work().join("outside");
    std::fs::create_dir_all(outside.join("models")).unwrap();
    let victim = outside.join("victim.txt");
    std::fs::write(&victim, "victim\n").unwrap();
    let tool = root.join("tools").join(TOOL);
    let new = world.mirror.manifest(TOOL, NEW);
    let model = new.file("models/model.gguf").unwrap().sha256.clone();
    let readme = new.file("README.md").unwrap().sha256.clone();

    // The staging folder of the new version, a folder inside it, the kept
    // release name, and the store's partial and ETag files, each a symlink
    // to somewhere outside the root.
    plant(&tool.join("staging").join(NEW), &outside);
    plant(&tool.join("staging/other/models"), &outside.join("models"));
    plant(&tool.join("releases").join(NEW), &outside);
    let partial_dir = root.join("objects/partial");
    plant(&partial_dir.join(format!("{model}.partial")), &victim);
    plant(&partial_dir.join(format!("{model}.etag")), &victim);
    plant(
        &partial_dir.join(format!("{readme}.partial")),
        &outside.join("created-by-engine"),
    );
    plant(
        &root.join("objects/sha256").join(&readme[..2]).join(&readme),
        &victim,
    );

    let before = snapshot(&world.work(), &[&root]);
    let out = world.update(&root, &server.url(), &[]);
    // Refusing or succeeding are both fine; writing through a link is not.
    assert_same(
        &before,
        &snapshot(&world.work(), &[&root]),
        &format!("a planted symlink was followed:\n{}", out.stderr),
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
    assert!(!outside.join("created-by-engine").exists());
    let active = fault_support::current_version(&root).unwrap();
    assert_active(&root, world.tree(&active), &active);
    if out.success() {
        assert_eq!(active, NEW);
    } else {
        assert_eq!(active, OLD);
    }
    record_figures(
        "attack-planted-symlinks",
        &json!({"refused_or_ignored": true, "update_succeeded": out.success()}),
    );
}

#[test]
fn a_current_link_planted_to_point_outside_is_refused_not_followed() {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), OLD);
    let outside = world.work().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let current = root.join("tools").join(TOOL).join("current");
    std::fs::remove_file(&current).unwrap();
    std::os::unix::fs::symlink(&outside, &current).unwrap();
    let before = snapshot(&world.work(), &[&root]);
    let out = world.update(&root, &server.url(), &[]);
    assert_refused(&out, &["current"]);
    assert_same(
        &before,
        &snapshot(&world.work(), &[&root]),
        "outside the root",
    );
    record_figures("attack-planted-current", &json!({"refused": true}));
}
