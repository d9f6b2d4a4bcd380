//! No request reaches a file outside the store: raw and percent-encoded
//! `..`, encoded slashes, absolute paths, and symlinks planted in the store.
//! Requests are sent byte for byte (no client-side normalization).

mod common;

use std::net::SocketAddr;

use common::{Demo, raw_get, sha256};
use tooldelta_mirror::{MirrorThread, ServeOptions, Store};

const MARKER: &[u8] = b"TOP-SECRET-OUTSIDE-THE-STORE";

/// A secret file next to the store, and the mirror serving the store.
fn setup() -> (Demo, tempfile::TempDir, MirrorThread) {
    let demo = Demo::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), MARKER).unwrap();
    std::fs::write(demo.root().join("secret.txt"), MARKER).unwrap();
    let mirror = MirrorThread::start(ServeOptions::new(demo.root())).unwrap();
    (demo, outside, mirror)
}

fn assert_refused(addr: SocketAddr, target: &str) {
    let resp = raw_get(addr, target);
    assert!(
        resp.status == 404 || resp.status == 400,
        "{target}: status {} (expected 404)",
        resp.status
    );
    let leaked = resp.body.windows(MARKER.len()).any(|w| w == MARKER)
        || resp.body.windows(5).any(|w| w == b"root:");
    assert!(!leaked, "{target}: leaked a file outside the store");
}

#[test]
fn dot_dot_raw_and_encoded_never_leave_the_store() {
    let (_demo, outside, mirror) = setup();
    let secret = outside.path().join("secret.txt");
    let abs = secret.to_str().unwrap();
    let enc_abs = abs.replace('/', "%2f");
    let targets = [
        "/api/v1/tools/demo/1.0.0/files/../../../../../../etc/passwd".to_owned(),
        "/api/v1/tools/demo/1.0.0/files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "/api/v1/tools/demo/1.0.0/files/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd".to_owned(),
        "/api/v1/tools/demo/1.0.0/files/%2E%2E%2F%2E%2E%2Fsecret.txt".to_owned(),
        "/api/v1/tools/demo/1.0.0/files/../../../secret.txt".to_owned(),
        "/api/v1/tools/demo/1.0.0/files/run.sh/../../../../secret.txt".to_owned(),
        format!("/api/v1/tools/demo/1.0.0/files/{abs}"),
        format!("/api/v1/tools/demo/1.0.0/files/{enc_abs}"),
        "/api/v1/tools/demo/1.0.0/files//etc/passwd".to_owned(),
        "/api/v1/tools/demo/1.0.0/files/%2fetc%2fpasswd".to_owned(),
        "/api/v1/tools/demo/1.0.0/files/models%5c..%5c..%5csecret.txt".to_owned(),
        "/api/v1/tools/demo/%2e%2e/manifest.json".to_owned(),
        "/api/v1/tools/demo/..%2f..%2f..%2fsecret.txt/manifest.json".to_owned(),
        "/api/v1/tools/..%2f..%2f/1.0.0/manifest.json".to_owned(),
        "/api/v1/tools/%2e%2e/%2e%2e/manifest.json".to_owned(),
        "/api/v1/tools/..".to_owned(),
        "/api/v1/tools/%2e%2e%2fsecret.txt".to_owned(),
        "/api/v1/blobs/sha256/../../../secret.txt".to_owned(),
        "/api/v1/blobs/sha256/..%2f..%2f..%2fsecret.txt".to_owned(),
        "/api/v1/blobs/sha256/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt".to_owned(),
        format!("/api/v1/blobs/sha256/{enc_abs}"),
        "/api/v1/app/..%2f..%2f/x86_64/0.0.1".to_owned(),
        "/../../../../etc/passwd".to_owned(),
        "/secret.txt".to_owned(),
        "/%2e%2e/secret.txt".to_owned(),
    ];
    for target in &targets {
        assert_refused(mirror.addr(), target);
    }
    // The same server still serves what it should.
    let ok = raw_get(
        mirror.addr(),
        "/api/v1/tools/demo/1.0.0/files/conf/a%20b.toml",
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, b"x = 1\n");
}

#[test]
fn symlinks_planted_in_the_store_are_not_followed() {
    let (demo, outside, mirror) = setup();
    let secret = outside.path().join("secret.txt");
    let store = Store::open(demo.root()).unwrap();

    // A blob that is a symlink to a file outside.
    let fake = sha256(MARKER);
    let link = store.blob_path(&fake);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    assert_refused(mirror.addr(), &format!("/api/v1/blobs/sha256/{fake}"));

    // A blob folder that is a symlink to a folder outside holding `<hex>`.
    let other = sha256(b"other content");
    let evil_dir = outside.path().join("blobdir");
    std::fs::create_dir_all(&evil_dir).unwrap();
    std::fs::write(evil_dir.join(&other), MARKER).unwrap();
    std::os::unix::fs::symlink(
        &evil_dir,
        store.root().join("blobs/sha256").join(&other[..2]),
    )
    .unwrap();
    assert_refused(mirror.addr(), &format!("/api/v1/blobs/sha256/{other}"));

    // A tool version folder that is a symlink to a folder outside.
    let evil_tool = outside.path().join("evil");
    std::fs::create_dir_all(&evil_tool).unwrap();
    std::fs::copy(&secret, evil_tool.join("manifest.json")).unwrap();
    std::fs::create_dir_all(store.root().join("tools/evil")).unwrap();
    std::os::unix::fs::symlink(&evil_tool, store.root().join("tools/evil/1.0.0")).unwrap();
    assert_refused(mirror.addr(), "/api/v1/tools/evil/1.0.0/manifest.json");
    assert_refused(mirror.addr(), "/api/v1/tools/evil/latest/manifest.json");

    // A manifest file that is a symlink.
    let version_dir = store.root().join("tools/demo/3.0.0");
    std::fs::create_dir_all(&version_dir).unwrap();
    std::os::unix::fs::symlink(&secret, version_dir.join("manifest.json")).unwrap();
    assert_refused(mirror.addr(), "/api/v1/tools/demo/3.0.0/manifest.json");
    let latest = raw_get(mirror.addr(), "/api/v1/tools/demo/latest/manifest.json");
    assert_eq!(latest.status, 200, "a symlinked version is not listed");
    assert_eq!(latest.body, demo.v2.manifest_bytes);
}

#[test]
fn overlong_paths_are_refused() {
    let (_demo, _outside, mirror) = setup();
    let long = format!("/api/v1/tools/demo/1.0.0/files/{}", "a/".repeat(5000));
    let resp = raw_get(mirror.addr(), &long);
    assert_eq!(resp.status, 414);
}
