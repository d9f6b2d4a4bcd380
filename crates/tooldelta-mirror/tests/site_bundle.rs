//! Sites with little or no network (issue 12 item 4), with the real binaries:
//! a subset export holds only what the named versions need; a site mirror
//! seeded from it with `import --from-export` serves it to `tooldelta
//! update`; a tampered bundle is refused; a site mirror warmed with
//! `prefetch` keeps serving after its upstream is gone.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::process::{MirrorProcess, workspace_bin};
use common::{Demo, SCRIPT_V1};
use tooldelta_core::manifest::Manifest;

fn mirror_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tooldelta-mirror"));
    cmd.args(args);
    cmd
}

fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{cmd:?} should have been refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `export --tool demo --version 1.0.0` of the demo store into `out`.
fn subset(demo: &Demo, out: &Path) {
    ok(&mut mirror_cmd(&[
        "export",
        "--store",
        p(demo.root()),
        "--out",
        p(out),
        "--tool",
        "demo",
        "--version",
        "1.0.0",
    ]));
}

/// `tooldelta update demo --version 1.0.0` through `mirror` into `root`.
fn update(demo: &Demo, mirror: &str, root: &Path) -> Output {
    Command::new(workspace_bin("tooldelta"))
        .args(["update", "demo", "--version", "1.0.0", "--json", "--root"])
        .arg(root)
        .args(["--mirror", mirror, "--trust"])
        .arg(&demo.hq.public_pem)
        .args(["--stall-timeout", "5", "--retries", "1"])
        .output()
        .unwrap()
}

fn assert_installed_v1(demo: &Demo, root: &Path) {
    let current = root.join("tools/demo/current");
    assert_eq!(std::fs::read(current.join("run.sh")).unwrap(), SCRIPT_V1);
    assert!(std::fs::read(current.join("models/model.gguf")).unwrap() == demo.model);
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// A copy of an export that shares no inode with the store (hardlinks
/// become files), so the test can tamper with it.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::write(&dest, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

#[test]
fn a_subset_export_holds_only_what_the_named_versions_need() {
    let demo = Demo::new();
    let out = demo.root().join("bundle");
    subset(&demo, &out);
    let tools = out.join("api/v1/tools");
    assert_eq!(
        files_under(&tools),
        BTreeSet::from(["demo".into(), "index.json".into()])
    );
    assert_eq!(
        files_under(&tools.join("demo")),
        BTreeSet::from(["1.0.0".into(), "latest".into(), "index.json".into()])
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tools.join("demo/index.json")).unwrap()).unwrap();
    assert_eq!(index["versions"], serde_json::json!(["1.0.0"]));
    assert_eq!(index["latest"], "1.0.0");
    let manifest = Manifest::parse(&demo.v1.manifest_bytes).unwrap().manifest;
    let needed: BTreeSet<String> = manifest.files.iter().map(|f| f.sha256.clone()).collect();
    assert_eq!(files_under(&out.join("api/v1/blobs/sha256")), needed);
    let unknown = refused(&mut mirror_cmd(&[
        "export",
        "--store",
        p(demo.root()),
        "--out",
        p(&demo.root().join("other-bundle")),
        "--tool",
        "demo",
        "--version",
        "9.9.9",
    ]));
    assert!(
        unknown.contains("demo 9.9.9: not in the store"),
        "{unknown}"
    );
}

#[test]
fn a_site_mirror_seeded_from_a_subset_bundle_serves_it_to_tooldelta_update() {
    let demo = Demo::new();
    // What travels on the USB disk: plain files, no links into HQ's store.
    // Exported straight onto another filesystem (tmpfs) where there is one,
    // so the blobs are copied by the export itself.
    let usb = if let Ok(other_fs) = tempfile::tempdir_in("/dev/shm") {
        subset(&demo, other_fs.path());
        other_fs
    } else {
        let bundle = demo.root().join("bundle");
        subset(&demo, &bundle);
        let usb = tempfile::tempdir().unwrap();
        copy_tree(&bundle, usb.path());
        usb
    };
    let site_store = tempfile::tempdir().unwrap();
    ok(&mut mirror_cmd(&[
        "import",
        "--store",
        p(site_store.path()),
        "--from-export",
        p(usb.path()),
        "--trust",
        p(&demo.hq.public_pem),
    ]));
    let site = MirrorProcess::start(site_store.path(), None, &[]);
    let root = tempfile::tempdir().unwrap();
    let out = update(&demo, &site.url(), root.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_installed_v1(&demo, root.path());
    // Seeding again changes nothing.
    ok(&mut mirror_cmd(&[
        "import",
        "--store",
        p(site_store.path()),
        "--from-export",
        p(usb.path()),
    ]));
}

#[test]
fn a_bundle_with_a_tampered_blob_or_manifest_is_refused_and_lists_nothing() {
    let demo = Demo::new();
    let bundle = demo.root().join("bundle");
    subset(&demo, &bundle);
    let version = PathBuf::from("api/v1/tools/demo/1.0.0");
    let import = |from: &Path, store: &Path| {
        refused(&mut mirror_cmd(&[
            "import",
            "--store",
            p(store),
            "--from-export",
            p(from),
            "--trust",
            p(&demo.hq.public_pem),
        ]))
    };

    let blob = tempfile::tempdir().unwrap();
    copy_tree(&bundle, blob.path());
    std::fs::write(
        blob.path().join(&version).join("files/run.sh"),
        b"#!/bin/sh\nevil\n",
    )
    .unwrap();
    let store = tempfile::tempdir().unwrap();
    let error = import(blob.path(), store.path());
    assert!(
        error.contains("run.sh") && error.contains("does not match"),
        "{error}"
    );
    assert!(!store.path().join("tools/demo/1.0.0").exists());

    let manifest = tempfile::tempdir().unwrap();
    copy_tree(&bundle, manifest.path());
    let path = manifest.path().join(&version).join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("conf/a b.toml", "conf/a c.toml")).unwrap();
    let store = tempfile::tempdir().unwrap();
    let error = import(manifest.path(), store.path());
    assert!(error.contains("manifest"), "{error}");
    assert!(!store.path().join("tools/demo/1.0.0").exists());
}

#[test]
fn a_prefetched_site_mirror_keeps_serving_a_version_after_its_upstream_is_stopped() {
    let demo = Demo::new();
    let hq = MirrorProcess::start(demo.root(), None, &[]);
    let hq_url = hq.url();
    let site_store = tempfile::tempdir().unwrap();
    let out = ok(&mut mirror_cmd(&[
        "prefetch",
        "--store",
        p(site_store.path()),
        "--upstream",
        &hq_url,
        "demo",
        "--version",
        "1.0.0",
        "--trust",
        p(&demo.hq.public_pem),
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["versions"], serde_json::json!(["1.0.0"]));
    assert_eq!(report["blobs_fetched"], 3);
    drop(hq);
    let site = MirrorProcess::start(
        site_store.path(),
        None,
        &["--upstream", &hq_url, "--trust", p(&demo.hq.public_pem)],
    );
    let root = tempfile::tempdir().unwrap();
    let out = update(&demo, &site.url(), root.path());
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        site.log()
    );
    assert_installed_v1(&demo, root.path());
}
