//! A StaticMirror served by the FaultServer behaves like a mirror: catalog,
//! tool index, signed manifests that verify, blobs and file routes; and its
//! hostile variants are what they claim to be.

mod common;

use common::{assert_bytes, client};
use semver::Version;
use serde_json::{Value, json};
use tooldelta_core::signing::{TrustError, TrustPolicy, VerifiedManifest};
use tooldelta_testkit::{FaultServer, PseudoRandom, StaticMirror, TestKeys, ToolTree};

struct Published {
    _dir: tempfile::TempDir,
    mirror: StaticMirror,
    keys: TestKeys,
    server: FaultServer,
}

/// `demo` 1.0.0 and 1.1.0 (the model changed), `other` 0.1.0.
fn published() -> Published {
    let dir = tempfile::tempdir().unwrap();
    let keys = TestKeys::new();
    let mut mirror = StaticMirror::new(dir.path().join("mirror"));
    let v1 = ToolTree::sample(dir.path().join("v1"), 300_000, 1);
    let v2 = v1.copy_to(dir.path().join("v2"));
    v2.random("models/model.gguf", 300_000, 2)
        .text("docs/a b.txt", "spaces\n");
    mirror.publish(v2.root(), "demo", "1.1.0", keys.signing_key());
    mirror.publish(v1.root(), "demo", "1.0.0", keys.signing_key());
    mirror.publish(v1.root(), "other", "0.1.0", keys.signing_key());
    let server = FaultServer::serve_dir(mirror.root());
    Published {
        _dir: dir,
        mirror,
        keys,
        server,
    }
}

async fn get(p: &Published, route: &str) -> reqwest::Response {
    client()
        .get(format!("{}{route}", p.server.url()))
        .send()
        .await
        .unwrap()
}

async fn get_json(p: &Published, route: &str) -> Value {
    let resp = get(p, route).await;
    assert_eq!(resp.status(), 200, "{route}");
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

fn verify(
    p: &Published,
    bytes: &[u8],
    highest: Option<&Version>,
) -> Result<VerifiedManifest, TrustError> {
    let trust = p.keys.trust_store();
    VerifiedManifest::verify(
        bytes,
        &TrustPolicy {
            trust: &trust,
            tool_id: "demo",
            version: None,
            highest_accepted: highest,
            allow_downgrade: false,
            now: jiff::Timestamp::now(),
        },
    )
}

#[tokio::test]
async fn catalog_and_tool_index_list_versions_oldest_first_with_latest() {
    let p = published();
    let demo = json!({"tool_id": "demo", "versions": ["1.0.0", "1.1.0"], "latest": "1.1.0"});
    let other = json!({"tool_id": "other", "versions": ["0.1.0"], "latest": "0.1.0"});
    assert_eq!(get_json(&p, "/api/v1/tools").await, json!([demo, other]));
    assert_eq!(get_json(&p, "/api/v1/tools/demo").await, demo);
    let health = get(&p, "/healthz").await;
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn latest_manifest_is_the_highest_version_and_verifies() {
    let p = published();
    let route = StaticMirror::manifest_route("demo", "latest");
    let bytes = get(&p, &route).await.bytes().await.unwrap();
    let verified = verify(&p, &bytes, None).unwrap();
    assert_eq!(verified.version(), &Version::new(1, 1, 0));
    assert_eq!(verified.key_id(), p.keys.key_id().as_str());
}

#[tokio::test]
async fn every_file_is_served_by_blob_and_by_path_with_its_bytes() {
    let p = published();
    let manifest = p.mirror.manifest("demo", "1.1.0");
    for entry in &manifest.files {
        for route in [
            StaticMirror::blob_route(&entry.sha256),
            StaticMirror::file_route("demo", "1.1.0", &entry.path),
            StaticMirror::file_route("demo", "latest", &entry.path),
        ] {
            let resp = get(&p, &route).await;
            assert_eq!(resp.status(), 200, "{route}");
            let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
            assert_eq!(etag, format!("\"{}\"", entry.sha256), "{route}");
            let body = resp.bytes().await.unwrap();
            assert_eq!(
                tooldelta_core::hash::hash_bytes(&body).sha256,
                entry.sha256,
                "{route}"
            );
        }
    }
    assert!(
        manifest.files.iter().any(|f| f.path == "docs/a b.txt"),
        "a path that needs percent-encoding is part of the check"
    );
}

#[tokio::test]
async fn replayed_old_manifest_as_latest_is_refused_as_a_rollback() {
    let p = published();
    p.mirror.replay_as_latest("demo", "1.0.0");
    let route = StaticMirror::manifest_route("demo", "latest");
    let bytes = get(&p, &route).await.bytes().await.unwrap();
    // Validly signed, so only the no-rollback floor catches it.
    let alone = verify(&p, &bytes, None).unwrap();
    assert_eq!(alone.version(), &Version::new(1, 0, 0));
    assert!(verify(&p, &bytes, Some(&Version::new(1, 1, 0))).is_err());
    // The index still claims 1.1.0.
    assert_eq!(get_json(&p, "/api/v1/tools/demo").await["latest"], "1.1.0");
}

#[tokio::test]
async fn hostile_manifest_bytes_and_substituted_blobs_are_served_as_written() {
    let p = published();
    p.mirror
        .write_manifest_bytes("demo", "latest", b"{\"not\": \"a manifest\"");
    let route = StaticMirror::manifest_route("demo", "latest");
    let bytes = get(&p, &route).await.bytes().await.unwrap();
    assert!(verify(&p, &bytes, None).is_err());
    // Same size, other bytes: the blob changes, the files route keeps the real ones.
    let manifest = p.mirror.manifest("demo", "1.1.0");
    let model = manifest.file("models/model.gguf").unwrap();
    let fake = PseudoRandom::bytes(99, model.size as usize);
    p.mirror.write_blob_bytes(&model.sha256, &fake);
    let blob = get(&p, &StaticMirror::blob_route(&model.sha256)).await;
    assert_bytes(&blob.bytes().await.unwrap(), &fake);
    let by_path = get(&p, &StaticMirror::file_route("demo", "1.1.0", &model.path)).await;
    let real = by_path.bytes().await.unwrap();
    assert_eq!(tooldelta_core::hash::hash_bytes(&real).sha256, model.sha256);
    p.mirror.remove_blob(&model.sha256);
    let gone = get(&p, &StaticMirror::blob_route(&model.sha256)).await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn set_latest_moves_the_index_and_the_latest_folder() {
    let mut p = published();
    p.mirror.set_latest("demo", "1.0.0");
    assert_eq!(get_json(&p, "/api/v1/tools/demo").await["latest"], "1.0.0");
    let route = StaticMirror::manifest_route("demo", "latest");
    let bytes = get(&p, &route).await.bytes().await.unwrap();
    assert_eq!(
        verify(&p, &bytes, None).unwrap().version(),
        &Version::new(1, 0, 0)
    );
    // The file only 1.1.0 has is gone from latest/.
    let route = StaticMirror::file_route("demo", "latest", "docs/a b.txt");
    assert_eq!(get(&p, &route).await.status(), 404);
}
