//! `import`: checks before trust, content stored once, idempotent.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{Demo, Publisher, noise, sha256};
use tooldelta_core::signing::{SignatureStatus, TrustError};
use tooldelta_mirror::{ImportError, ImportOptions, ManifestOutcome, Store, VersionSel};

fn files_under(dir: &Path) -> Vec<std::fs::Metadata> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(entry.metadata().unwrap());
        }
    }
    out
}

fn mirror_cli(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tooldelta-mirror"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn two_tools_sharing_a_16mb_model_store_it_once() {
    let hq = Publisher::new(1);
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let model = noise(42, 16 << 20);
    let (_, first) = hq.publish_into(
        &store,
        "chat",
        "1.0.0",
        &[("model.gguf", &model), ("chat.py", b"print('chat')\n")],
    );
    let (_, second) = hq.publish_into(
        &store,
        "summarize",
        "2.0.0",
        &[
            ("weights/model.gguf", &model),
            ("sum.py", b"print('sum')\n"),
        ],
    );
    assert_eq!((first.blobs_added, first.blobs_present), (2, 0));
    assert_eq!((second.blobs_added, second.blobs_present), (1, 1));
    assert_eq!(second.bytes_added, 13);
    let blobs = files_under(&store.root().join("blobs"));
    assert_eq!(blobs.len(), 3, "model once, two scripts");
    let stored: u64 = blobs.iter().map(std::fs::Metadata::len).sum();
    assert_eq!(
        stored,
        (16 << 20) + 14 + 13,
        "the model's bytes are stored once"
    );
    let meta = std::fs::metadata(store.blob_path(&sha256(&model))).unwrap();
    assert_eq!(meta.nlink(), 1, "one copy, not one link per tool");
    assert_eq!(meta.mode() & 0o222, 0, "blobs are read-only");
}

#[test]
fn a_pre_release_imported_last_is_not_latest_over_http() {
    let demo = Demo::new();
    demo.hq.publish_into(
        &demo.store,
        "demo",
        "2.0.0-beta.1",
        &[("run.sh", b"beta\n")],
    );
    let index = demo.store.tool_index("demo").unwrap().unwrap();
    assert_eq!(index.versions, ["1.0.0", "1.2.0", "2.0.0-beta.1"]);
    assert_eq!(index.latest.as_deref(), Some("1.2.0"));
    let mirror = tooldelta_mirror::MirrorThread::start(tooldelta_mirror::ServeOptions::new(
        demo.store.root(),
    ))
    .unwrap();
    let get = |path: &str| common::raw_get(mirror.addr(), path);
    let json = |path: &str| -> serde_json::Value {
        let answer = get(path);
        assert_eq!(answer.status, 200, "{path}");
        serde_json::from_slice(&answer.body).unwrap()
    };
    let latest = json("/api/v1/tools/demo/latest/manifest.json");
    assert_eq!(latest["tool_version"], "1.2.0");
    let catalog = json("/api/v1/tools");
    assert_eq!(catalog[0]["latest"], "1.2.0");
    // By name the pre-release is still served.
    assert_eq!(
        get("/api/v1/tools/demo/2.0.0-beta.1/manifest.json").status,
        200
    );
}

#[test]
fn a_tool_with_only_pre_releases_has_no_latest() {
    let hq = Publisher::new(1);
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    hq.publish_into(&store, "beta", "1.0.0-rc.1", &[("a", b"a")]);
    let index = store.tool_index("beta").unwrap().unwrap();
    assert_eq!(index.latest, None);
    assert_eq!(store.resolve("beta", &VersionSel::Latest).unwrap(), None);
}

#[test]
fn reimport_is_idempotent_and_latest_is_highest_semver() {
    let demo = Demo::new();
    let before = files_under(&demo.store.root().join("blobs")).len();
    let report = demo
        .store
        .import_file(
            &demo.v1.manifest,
            &demo.v1.tool_dir,
            &ImportOptions {
                trust: demo.hq.trust(),
                replace: false,
                chunks_dir: None,
            },
        )
        .unwrap();
    assert_eq!(report.manifest, ManifestOutcome::Unchanged);
    assert_eq!(report.blobs_added, 0);
    assert_eq!(report.signature.status, SignatureStatus::Valid);
    assert_eq!(files_under(&demo.store.root().join("blobs")).len(), before);
    // 1.10.0 sorts above 1.2.0 as SemVer, below it as text.
    demo.hq
        .publish_into(&demo.store, "demo", "1.10.0", &[("run.sh", b"10\n")]);
    let index = demo.store.tool_index("demo").unwrap().unwrap();
    assert_eq!(index.versions, ["1.0.0", "1.2.0", "1.10.0"]);
    assert_eq!(index.latest.as_deref(), Some("1.10.0"));
    assert_eq!(
        demo.store
            .resolve("demo", &VersionSel::Latest)
            .unwrap()
            .as_deref(),
        Some("1.10.0")
    );
    let stored = demo.store.read_manifest("demo", "1.0.0").unwrap().unwrap();
    assert_eq!(
        stored, demo.v1.manifest_bytes,
        "the signed bytes, untouched"
    );
}

#[test]
fn refuses_a_file_that_does_not_match_and_lists_nothing() {
    let hq = Publisher::new(2);
    let published = hq.publish("tool", "1.0.0", &[("a.bin", b"good"), ("b.bin", b"fine")]);
    std::fs::write(published.tool_dir.join("b.bin"), b"evil").unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let err = store
        .import_file(
            &published.manifest,
            &published.tool_dir,
            &ImportOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, ImportError::FileMismatch { ref path, .. } if path == "b.bin"),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("tool") && text.contains(&sha256(b"fine")) && text.contains(&sha256(b"evil")),
        "{text}"
    );
    assert!(store.catalog().unwrap().is_empty());
    assert!(!store.has_blob(&sha256(b"evil")));
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0,
        "temp files cleaned"
    );
}

#[test]
fn refuses_untrusted_or_altered_manifests_and_rule_breaks() {
    let hq = Publisher::new(3);
    let stranger = Publisher::new(4);
    let published = hq.publish("tool", "1.0.0", &[("a", b"1")]);
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let strict = ImportOptions {
        trust: stranger.trust(),
        replace: false,
        chunks_dir: None,
    };
    let err = store
        .import(&published.manifest_bytes, &published.tool_dir, &strict)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ImportError::Trust(TrustError::Signature {
                status: SignatureStatus::UnknownKey,
                ..
            })
        ),
        "{err}"
    );

    let text = String::from_utf8(published.manifest_bytes.clone()).unwrap();
    let altered = text.replace("\"1.0.0\"", "\"1.0.1\"");
    let err = store
        .import(
            altered.as_bytes(),
            &published.tool_dir,
            &ImportOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, ImportError::Trust(TrustError::HashMismatch { .. })),
        "{err}"
    );

    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["files"][0]["path"] = "../escape".into();
    let err = store
        .import(
            value.to_string().as_bytes(),
            &published.tool_dir,
            &ImportOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, ImportError::Trust(TrustError::Malformed { .. })),
        "{err}"
    );
    assert!(store.catalog().unwrap().is_empty());
}

#[test]
fn refuses_symlinked_source_files() {
    let hq = Publisher::new(5);
    let published = hq.publish("tool", "1.0.0", &[("a", b"secret")]);
    let elsewhere = hq.dir.path().join("elsewhere");
    std::fs::write(&elsewhere, b"secret").unwrap();
    std::fs::remove_file(published.tool_dir.join("a")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, published.tool_dir.join("a")).unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let err = store
        .import_file(
            &published.manifest,
            &published.tool_dir,
            &ImportOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, ImportError::BadSourceFile { .. }), "{err}");
}

#[test]
fn a_different_manifest_for_a_stored_version_needs_replace() {
    let demo = Demo::new();
    let again = demo
        .hq
        .publish("demo", "1.0.0", &[("run.sh", b"changed\n")]);
    let mut opts = ImportOptions {
        trust: demo.hq.trust(),
        replace: false,
        chunks_dir: None,
    };
    let err = demo
        .store
        .import_file(&again.manifest, &again.tool_dir, &opts)
        .unwrap_err();
    assert!(matches!(err, ImportError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("--replace"));
    opts.replace = true;
    let report = demo
        .store
        .import_file(&again.manifest, &again.tool_dir, &opts)
        .unwrap();
    assert_eq!(report.manifest, ManifestOutcome::Replaced);
    assert_eq!(
        demo.store.read_manifest("demo", "1.0.0").unwrap().unwrap(),
        again.manifest_bytes
    );
}

#[test]
fn cli_import_reports_errors_with_a_nonzero_exit() {
    let hq = Publisher::new(6);
    let published = hq.publish("tool", "1.0.0", &[("a", b"1")]);
    std::fs::write(published.tool_dir.join("a"), b"2").unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let args = |json: bool| {
        let mut v: Vec<&std::ffi::OsStr> = vec!["import".as_ref()];
        if json {
            v.push("--json".as_ref());
        }
        v.extend([
            "--store".as_ref(),
            store_dir.path().as_os_str(),
            "--manifest".as_ref(),
            published.manifest.as_os_str(),
            "--tool-dir".as_ref(),
            published.tool_dir.as_os_str(),
            "--trust".as_ref(),
            hq.public_pem.as_os_str(),
        ]);
        v
    };
    let out = mirror_cli(&args(false));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not match the manifest") && stderr.contains("\"a\""),
        "{stderr}"
    );

    std::fs::write(published.tool_dir.join("a"), b"1").unwrap();
    let out = mirror_cli(&args(true));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tool_id"], "tool");
    assert_eq!(report["signature"]["status"], "valid");
}

#[test]
fn stale_temp_files_are_cleaned_and_fresh_ones_kept() {
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let tmp = store.root().join("tmp");
    let stale = tmp.join("dead.1.0.tmp");
    let fresh = tmp.join("live.2.0.tmp");
    std::fs::write(&stale, b"partial").unwrap();
    std::fs::write(&fresh, b"partial").unwrap();
    let two_days = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(two_days)
        .unwrap();
    let removed = store
        .clean_temp(std::time::Duration::from_secs(86_400))
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!stale.exists() && fresh.exists());
}
