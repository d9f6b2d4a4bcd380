//! Pull-through tiering: a site mirror with `--upstream` fetches what it lacks
//! once, verifies it before it enters the store, and says 502 when upstream fails.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path, State};
use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse;
use common::nginx::Nginx;
use common::{Demo, Publisher, SCRIPT_V1, client, noise, sha256};
use reqwest::StatusCode;
use tokio::sync::watch;
use tooldelta_mirror::{RunningMirror, ServeOptions, Store};

/// An upstream that serves given bytes under blob addresses, counts every
/// request, and holds each answer until the test opens its gate.
struct CountingUpstream {
    blobs: HashMap<String, Vec<u8>>,
    requests: AtomicUsize,
    gate: watch::Receiver<bool>,
}

async fn counting_blob(
    State(up): State<Arc<CountingUpstream>>,
    Path(hex): Path<String>,
) -> axum::response::Response {
    up.requests.fetch_add(1, Ordering::SeqCst);
    let mut gate = up.gate.clone();
    gate.wait_for(|open| *open).await.unwrap();
    match up.blobs.get(&hex) {
        Some(bytes) => bytes.clone().into_response(),
        None => AxumStatus::NOT_FOUND.into_response(),
    }
}

/// Starts the counting upstream; returns its URL, its state and the gate.
async fn counting_upstream(
    blobs: HashMap<String, Vec<u8>>,
) -> (String, Arc<CountingUpstream>, watch::Sender<bool>) {
    let (open, gate) = watch::channel(false);
    let state = Arc::new(CountingUpstream {
        blobs,
        requests: AtomicUsize::new(0),
        gate,
    });
    let app = axum::Router::new()
        .route(
            "/api/v1/blobs/sha256/{hex}",
            axum::routing::get(counting_blob),
        )
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state, open)
}

async fn site(upstream: &str, store: &std::path::Path) -> RunningMirror {
    let mut options = ServeOptions::new(store);
    options.upstream = Some(upstream.to_owned());
    RunningMirror::start(options).await.unwrap()
}

/// One plain sample of the site's metrics.
async fn metric(mirror: &RunningMirror, name: &str) -> u64 {
    let text = client()
        .get(format!("{}/metrics", mirror.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
}

/// The answer for a blob still on its way from upstream: 503, `Retry-After`,
/// progress and the upstream named, and never the blob's immutable ETag.
fn assert_still_fetching(resp: &reqwest::Response, upstream_url: &str) {
    let h = resp.headers();
    assert_eq!(h["retry-after"], "1");
    let progress = h["tooldelta-upstream-progress"].to_str().unwrap();
    let parsed = tooldelta_core::pending::UpstreamProgress::parse(progress).unwrap();
    assert_eq!(
        parsed.received, 0,
        "{progress}: the gate holds the upstream's answer"
    );
    assert_eq!(h["tooldelta-upstream"], upstream_url);
    assert!(
        h.get("etag").is_none(),
        "no ETag on an answer that is not the blob"
    );
}

fn leftover_temp_files(store: &std::path::Path) -> usize {
    std::fs::read_dir(store.join("tmp")).unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_requests_for_a_missing_blob_are_told_it_is_coming_and_cost_the_upstream_one_fetch()
 {
    let blob = noise(16, 3 << 20);
    let hex = sha256(&blob);
    let (upstream_url, upstream, open) =
        counting_upstream(HashMap::from([(hex.clone(), blob.clone())])).await;
    let store = tempfile::tempdir().unwrap();
    let mirror = site(&upstream_url, store.path()).await;
    let url = format!("{}/api/v1/blobs/sha256/{hex}", mirror.url());

    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (c, url, upstream_url) = (client(), url.clone(), upstream_url.clone());
            tokio::spawn(async move {
                let mut told = 0;
                loop {
                    let resp = c.get(&url).send().await.unwrap();
                    if resp.status() != StatusCode::SERVICE_UNAVAILABLE {
                        return (resp.status(), resp.bytes().await.unwrap(), told);
                    }
                    assert_still_fetching(&resp, &upstream_url);
                    told += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            })
        })
        .collect();
    // Every client has missed the local store and is waiting before the
    // upstream may answer, so all 16 overlap the single fetch.
    let mut waited = 0;
    while metric(&mirror, "tooldelta_mirror_cache_misses_total").await < 16 {
        waited += 1;
        assert!(waited < 2000, "the 16 clients never all reached the mirror");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Past the mirror's hold: each has been told the blob is on its way.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    open.send(true).unwrap();
    for task in clients {
        let (status, body, told) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(body == blob, "a client got other bytes");
        assert!(told > 0, "a client was held silently past the hold");
    }
    assert_eq!(
        upstream.requests.load(Ordering::SeqCst),
        1,
        "exactly one upstream fetch"
    );
    assert_eq!(
        metric(&mirror, "tooldelta_mirror_upstream_bytes_total").await,
        blob.len() as u64
    );
    assert!(Store::open(store.path()).unwrap().has_blob(&hex));

    // Later requests are cache hits.
    let again = client().get(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(upstream.requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        metric(&mirror, "tooldelta_mirror_cache_hits_total").await,
        1
    );
}

#[tokio::test]
async fn a_blob_that_fails_verification_gives_502_and_never_enters_the_store() {
    let claimed = sha256(b"the real content");
    let (upstream_url, upstream, open) = counting_upstream(HashMap::from([(
        claimed.clone(),
        b"tampered content".to_vec(),
    )]))
    .await;
    open.send(true).unwrap();
    let store = tempfile::tempdir().unwrap();
    let mirror = site(&upstream_url, store.path()).await;
    let url = format!("{}/api/v1/blobs/sha256/{claimed}", mirror.url());
    for attempt in 1..=2 {
        let resp = client().get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        let text = resp.text().await.unwrap();
        assert!(
            text.contains("integrity") && text.contains(&claimed),
            "{text}"
        );
        // A failure is not remembered: the next request tries again.
        assert_eq!(upstream.requests.load(Ordering::SeqCst), attempt);
    }
    assert!(!Store::open(store.path()).unwrap().has_blob(&claimed));
    assert_eq!(leftover_temp_files(store.path()), 0);
}

#[tokio::test]
async fn upstream_down_gives_502_and_upstream_404_gives_404() {
    let (upstream_url, _upstream, open) = counting_upstream(HashMap::new()).await;
    open.send(true).unwrap();
    let store = tempfile::tempdir().unwrap();
    let mirror = site(&upstream_url, store.path()).await;
    let hex = sha256(b"nowhere");
    let resp = client()
        .get(format!("{}/api/v1/blobs/sha256/{hex}", mirror.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let mirror = site(&dead_url, store.path()).await;
    for route in [
        format!("/api/v1/blobs/sha256/{hex}"),
        "/api/v1/tools/demo/1.0.0/manifest.json".to_owned(),
        "/api/v1/tools/demo/latest/manifest.json".to_owned(),
        "/api/v1/tools".to_owned(),
    ] {
        let resp = client()
            .get(format!("{}{route}", mirror.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "{route}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("upstream"), "{route}: {body}");
        // The 502 names the root cause, not only "error sending request".
        assert!(body.contains("Connection refused"), "{route}: {body}");
    }
}

#[tokio::test]
async fn a_site_mirror_pulls_manifests_and_files_through_from_hq_and_keeps_serving_them() {
    let demo = Demo::new();
    let hq = RunningMirror::start(ServeOptions::new(demo.root()))
        .await
        .unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut options = ServeOptions::new(store.path());
    options.upstream = Some(hq.url());
    options.trust = demo.hq.trust();
    let mirror = RunningMirror::start(options).await.unwrap();
    let c = client();
    let get = |route: &str| {
        let url = format!("{}{route}", mirror.url());
        let c = c.clone();
        async move {
            let resp = c.get(url).send().await.unwrap();
            (resp.status(), resp.bytes().await.unwrap())
        }
    };
    let catalog = get("/api/v1/tools").await;
    assert_eq!(catalog.0, StatusCode::OK);
    let catalog: serde_json::Value = serde_json::from_slice(&catalog.1).unwrap();
    assert_eq!(catalog[0]["tool_id"], "demo");
    assert_eq!(catalog[0]["latest"], "1.2.0");
    let latest = get("/api/v1/tools/demo/latest/manifest.json").await;
    assert_eq!(
        latest,
        (StatusCode::OK, demo.v2.manifest_bytes.clone().into())
    );
    let file = get("/api/v1/tools/demo/1.0.0/files/run.sh").await;
    assert_eq!(file, (StatusCode::OK, SCRIPT_V1.into()));
    let model = get("/api/v1/tools/demo/latest/files/models/model.gguf").await;
    assert!(model.0 == StatusCode::OK && model.1 == demo.model);

    let local = Store::open(store.path()).unwrap();
    assert!(local.has_blob(&sha256(&demo.model)));
    assert_eq!(
        local.read_manifest("demo", "1.0.0").unwrap().unwrap(),
        demo.v1.manifest_bytes
    );

    // HQ goes away: what the site holds is still served; `latest` falls back
    // to the stored one.
    hq.stop().await.unwrap();
    let file = get("/api/v1/tools/demo/1.0.0/files/run.sh").await;
    assert_eq!(file, (StatusCode::OK, SCRIPT_V1.into()));
    let latest = get("/api/v1/tools/demo/latest/manifest.json").await;
    assert_eq!(latest.0, StatusCode::OK);
    let missing = get("/api/v1/tools/other/0.1.0/manifest.json").await;
    assert_eq!(missing.0, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn manifests_from_upstream_signed_by_an_untrusted_key_are_refused() {
    let demo = Demo::new();
    let hq = RunningMirror::start(ServeOptions::new(demo.root()))
        .await
        .unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut options = ServeOptions::new(store.path());
    options.upstream = Some(hq.url());
    options.trust = Publisher::new(99).trust();
    let mirror = RunningMirror::start(options).await.unwrap();
    let resp = client()
        .get(format!(
            "{}/api/v1/tools/demo/1.0.0/manifest.json",
            mirror.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(resp.text().await.unwrap().contains("signature"));
    assert!(
        Store::open(store.path())
            .unwrap()
            .read_manifest("demo", "1.0.0")
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_site_mirror_pulls_through_from_a_static_export_served_by_nginx() {
    let demo = Demo::new();
    let out = tempfile::tempdir_in(demo.root().parent().unwrap()).unwrap();
    tooldelta_mirror::export(&demo.store, out.path()).unwrap();
    let nginx = Nginx::serve_export(out.path());
    let store = tempfile::tempdir().unwrap();
    let mirror = site(&nginx.url(), store.path()).await;
    let c = client();
    let model = c
        .get(format!(
            "{}/api/v1/tools/demo/latest/files/models/model.gguf",
            mirror.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(model.status(), StatusCode::OK);
    assert!(model.bytes().await.unwrap() == demo.model);
    let tool = c
        .get(format!("{}/api/v1/tools/other", mirror.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(tool.status(), StatusCode::OK);
    let tool: serde_json::Value = serde_json::from_slice(&tool.bytes().await.unwrap()).unwrap();
    assert_eq!(tool["versions"], serde_json::json!(["0.1.0"]));
}
