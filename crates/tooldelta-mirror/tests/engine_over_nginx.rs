//! End to end across the tiers: `tooldelta update` (the real CLI) against
//! nginx serving `tooldelta-mirror export`, and against a site mirror that
//! pulls through from that nginx.

mod common;

use std::path::Path;
use std::process::Command;

use common::nginx::Nginx;
use common::process::workspace_bin;
use common::{Demo, SCRIPT_V1, SCRIPT_V2};
use tooldelta_mirror::{MirrorThread, ServeOptions};

fn update(mirror: &str, root: &Path, trust: &Path, version: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new(workspace_bin("tooldelta"));
    cmd.args(["update", "demo", "--mirror", mirror, "--json"])
        .arg("--root")
        .arg(root)
        .arg("--trust")
        .arg(trust);
    if let Some(v) = version {
        cmd.args(["--version", v]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tooldelta update failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn current(root: &Path, path: &str) -> Vec<u8> {
    std::fs::read(root.join("tools/demo/current").join(path)).unwrap()
}

#[test]
fn tooldelta_update_installs_and_updates_from_nginx_serving_the_export() {
    let demo = Demo::new();
    let out = tempfile::tempdir_in(demo.root().parent().unwrap()).unwrap();
    tooldelta_mirror::export(&demo.store, out.path()).unwrap();
    let nginx = Nginx::serve_export(out.path());
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");

    let first = update(&nginx.url(), &root, &demo.hq.public_pem, Some("1.0.0"));
    assert_eq!(first["to_version"], "1.0.0");
    assert_eq!(first["signature"]["status"], "valid");
    assert_eq!(current(&root, "run.sh"), SCRIPT_V1);
    assert!(current(&root, "models/model.gguf") == demo.model);

    let second = update(&nginx.url(), &root, &demo.hq.public_pem, None);
    assert_eq!(second["from_version"], "1.0.0");
    assert_eq!(second["to_version"], "1.2.0");
    assert_eq!(second["files_downloaded"], 2, "{second}");
    assert_eq!(second["bytes_saved"], demo.model.len(), "{second}");
    assert_eq!(current(&root, "run.sh"), SCRIPT_V2);
    assert_eq!(current(&root, "conf/a b.toml"), b"x = 2\n");
}

#[test]
fn tooldelta_update_through_a_site_mirror_pulling_from_nginx() {
    let demo = Demo::new();
    let out = tempfile::tempdir_in(demo.root().parent().unwrap()).unwrap();
    tooldelta_mirror::export(&demo.store, out.path()).unwrap();
    let nginx = Nginx::serve_export(out.path());
    let site_store = tempfile::tempdir().unwrap();
    let mut options = ServeOptions::new(site_store.path());
    options.upstream = Some(nginx.url());
    options.trust = demo.hq.trust();
    let site = MirrorThread::start(options).unwrap();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");

    let report = update(site.url(), &root, &demo.hq.public_pem, None);
    assert_eq!(report["to_version"], "1.2.0");
    assert_eq!(current(&root, "run.sh"), SCRIPT_V2);
    assert!(current(&root, "models/model.gguf") == demo.model);
    // The site now holds what it served.
    let site_store = tooldelta_mirror::Store::open(site_store.path()).unwrap();
    assert!(site_store.has_blob(&common::sha256(&demo.model)));
}
