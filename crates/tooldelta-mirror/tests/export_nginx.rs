//! `export` served by a real nginx (Debian nginx-light) with the shipped
//! `docs/nginx.conf`: the same bytes as the mirror for every read route, and
//! blobs hardlinked from the store, not copied.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::nginx::Nginx;
use common::{Demo, client, sha256};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, IF_RANGE, RANGE};
use tooldelta_mirror::{RunningMirror, ServeOptions};

fn export_demo(demo: &Demo) -> tempfile::TempDir {
    // Inside the store's temp folder's parent: same filesystem, as hardlinks need.
    let out = tempfile::tempdir_in(demo.root().parent().unwrap()).unwrap();
    tooldelta_mirror::export(&demo.store, out.path()).unwrap();
    out
}

fn ino(path: &Path) -> (u64, u64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

#[test]
fn export_hardlinks_blobs_and_files_and_writes_folder_indexes() {
    let demo = Demo::new();
    let out = export_demo(&demo);
    let hex = sha256(&demo.model);
    let stored = demo.store.blob_path(&hex);
    let api = out.path().join("api/v1");
    for linked in [
        api.join("blobs/sha256").join(&hex),
        api.join("tools/demo/1.0.0/files/models/model.gguf"),
        api.join("tools/demo/1.2.0/files/models/model.gguf"),
        api.join("tools/demo/latest/files/models/model.gguf"),
    ] {
        assert_eq!(
            ino(&linked),
            ino(&stored),
            "{} is a hardlink",
            linked.display()
        );
    }
    assert_eq!(std::fs::metadata(&stored).unwrap().nlink(), 5);
    assert!(api.join("tools/index.json").is_file());
    assert!(api.join("tools/demo/index.json").is_file());
    assert_eq!(
        std::fs::read(api.join("tools/demo/latest/manifest.json")).unwrap(),
        demo.v2.manifest_bytes
    );
    assert!(!out.path().join(".tmp").exists(), "no temp folder left");

    // Again, through the CLI: nothing changes, nothing is copied.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_tooldelta-mirror"))
        .arg("export")
        .arg("--store")
        .arg(demo.root())
        .arg("--out")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::metadata(&stored).unwrap().nlink(), 5);
}

#[tokio::test]
async fn nginx_serves_the_export_with_the_same_bytes_and_cache_rules_as_the_mirror() {
    let demo = Demo::new();
    let out = export_demo(&demo);
    let nginx = Nginx::serve_export(out.path());
    let mirror = RunningMirror::start(ServeOptions::new(demo.root()))
        .await
        .unwrap();
    let c = client();
    let hex = sha256(&demo.model);
    let routes = [
        "/healthz".to_owned(),
        "/api/v1/tools".to_owned(),
        "/api/v1/tools/demo".to_owned(),
        "/api/v1/tools/other".to_owned(),
        "/api/v1/tools/demo/1.0.0/manifest.json".to_owned(),
        "/api/v1/tools/demo/latest/manifest.json".to_owned(),
        "/api/v1/tools/demo/1.0.0/files/conf/a%20b.toml".to_owned(),
        "/api/v1/tools/demo/1.2.0/files/models/model.gguf".to_owned(),
        "/api/v1/tools/demo/latest/files/run.sh".to_owned(),
        format!("/api/v1/blobs/sha256/{hex}"),
    ];
    for route in &routes {
        let from_mirror = c
            .get(format!("{}{route}", mirror.url()))
            .send()
            .await
            .unwrap();
        let from_nginx = c
            .get(format!("{}{route}", nginx.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            from_nginx.status(),
            StatusCode::OK,
            "{route}: {}",
            nginx.error_log()
        );
        assert_eq!(from_mirror.status(), StatusCode::OK, "{route}");
        if route != "/healthz" {
            for name in [CACHE_CONTROL, CONTENT_TYPE] {
                assert_eq!(
                    from_nginx.headers().get(&name),
                    from_mirror.headers().get(&name),
                    "{route}: {name}"
                );
            }
        }
        let (a, b) = (
            from_mirror.bytes().await.unwrap(),
            from_nginx.bytes().await.unwrap(),
        );
        assert!(a == b, "{route}: nginx and the mirror differ");
    }
    for missing in [
        "/api/v1/tools/nope",
        "/api/v1/tools/demo/9.9.9/manifest.json",
        "/api/v1/blobs/sha256/00000000000000000000000000000000000000000000000000000000000000ff",
        "/.tmp/",
        "/api/v1/tools/demo/1.0.0/files/../../../../../etc/passwd",
    ] {
        let resp = c
            .get(format!("{}{missing}", nginx.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn nginx_blob_route_keeps_the_sha256_etag_range_and_conditional_rules() {
    let demo = Demo::new();
    let out = export_demo(&demo);
    let nginx = Nginx::serve_export(out.path());
    let c = client();
    let hex = sha256(&demo.model);
    let url = format!("{}/api/v1/blobs/sha256/{hex}", nginx.url());
    let etag = format!("\"{hex}\"");

    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.headers().get(ETAG).unwrap(), etag.as_str());

    let resp = c
        .get(&url)
        .header(RANGE, "bytes=100-199")
        .header(IF_RANGE, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap(), demo.model[100..200]);

    let resp = c
        .get(&url)
        .header(RANGE, "bytes=100-199")
        .header(IF_RANGE, "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().len(), demo.model.len());

    let resp = c
        .get(&url)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(resp.headers().get(ETAG).unwrap(), etag.as_str());

    let resp = c.get(&url).header(RANGE, "bytes=-10").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resp.bytes().await.unwrap(),
        demo.model[demo.model.len() - 10..]
    );
}
