//! A site mirror asked for a blob it lacks, whose chunk index it can get
//! from upstream and whose chunks it mostly holds in an older blob, rebuilds
//! it from its own data plus ranges fetched upstream, verifies it, then
//! serves it (issue 11, item 6). Bytes are counted by the upstream server.

mod common;

use common::{Publisher, client, noise, sha256};
use reqwest::StatusCode;
use tooldelta_core::manifest::Manifest;
use tooldelta_mirror::{ImportOptions, RunningMirror, ServeOptions, Store};

const MIB: usize = 1 << 20;

/// GET, asking again while the site answers "still fetching" (503).
async fn get_patiently(url: &str) -> Vec<u8> {
    for _ in 0..600 {
        let resp = client().get(url).send().await.unwrap();
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        }
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        return resp.bytes().await.unwrap().to_vec();
    }
    panic!("{url} never arrived");
}

async fn metric(base: &str, name: &str) -> u64 {
    let text = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
}

/// The model's content and chunk-index addresses in a version served by `base`.
async fn model_of(base: &str, version: &str) -> (String, String) {
    let url = format!("{base}/api/v1/tools/chat/{version}/manifest.json");
    let manifest = Manifest::parse(&get_patiently(&url).await)
        .unwrap()
        .manifest;
    let file = manifest.file("model.bin").unwrap();
    (file.sha256.clone(), file.chunks.clone().unwrap().sha256)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_mirror_rebuilds_a_new_blob_from_the_chunks_of_the_old_one_and_fetches_only_the_rest()
 {
    let hq = Publisher::new(3);
    let hq_dir = tempfile::tempdir().unwrap();
    let hq_store = Store::open(hq_dir.path()).unwrap();
    let v1 = noise(5, 8 * MIB);
    let mut v2 = v1.clone();
    // An edit that shifts everything after it, like a GGUF metadata fix.
    v2.splice(4 * MIB..4 * MIB, b"a new chat template".iter().copied());
    for (version, model) in [("1.0.0", &v1), ("1.1.0", &v2)] {
        let published =
            hq.publish_chunked("chat", version, &[("model.bin", model)], Some(MIB as u64));
        let opts = ImportOptions {
            trust: hq.trust(),
            replace: false,
            chunks_dir: None,
        };
        hq_store
            .import_file(&published.manifest, &published.tool_dir, &opts)
            .unwrap();
    }
    let upstream = RunningMirror::start(ServeOptions::new(hq_dir.path()))
        .await
        .unwrap();
    let site_dir = tempfile::tempdir().unwrap();
    let mut options = ServeOptions::new(site_dir.path());
    options.upstream = Some(upstream.url());
    options.trust = hq.trust();
    let site = RunningMirror::start(options).await.unwrap();
    let blob = |hex: &str| format!("{}/api/v1/blobs/sha256/{hex}", site.url());

    // Version 1 as a workstation takes it: manifest, chunk index, content.
    let (v1_hex, v1_index) = model_of(&site.url(), "1.0.0").await;
    get_patiently(&blob(&v1_index)).await;
    assert!(get_patiently(&blob(&v1_hex)).await == v1);

    let (v2_hex, _) = model_of(&site.url(), "1.1.0").await;
    assert_eq!(v2_hex, sha256(&v2));
    let served_before = metric(&upstream.url(), "tooldelta_mirror_bytes_served_total").await;
    assert!(
        get_patiently(&blob(&v2_hex)).await == v2,
        "the site served other bytes"
    );
    let moved =
        metric(&upstream.url(), "tooldelta_mirror_bytes_served_total").await - served_before;
    assert!(
        moved < (3 * MIB) as u64,
        "upstream sent {moved} bytes for an 8 MiB blob that differs by one edit"
    );
    let reused = metric(&site.url(), "tooldelta_mirror_local_chunk_bytes_total").await;
    assert!(reused >= (5 * MIB) as u64, "only {reused} bytes reused");
    assert!(Store::open(site_dir.path()).unwrap().has_blob(&v2_hex));
}
