//! Routes of CONTRACT §4 and every header rule, against the real server on
//! 127.0.0.1:0.

mod common;

use common::{Demo, Publisher, SCRIPT_V1, SCRIPT_V2, client, noise, sha256};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_NONE_MATCH, IF_RANGE,
    RANGE,
};
use tooldelta_mirror::{RunningMirror, ServeOptions, Store};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

async fn start(root: &std::path::Path) -> RunningMirror {
    RunningMirror::start(ServeOptions::new(root)).await.unwrap()
}

fn header(resp: &reqwest::Response, name: &reqwest::header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn catalog_tool_and_manifest_routes_answer_per_contract() {
    let demo = Demo::new();
    let mirror = start(demo.root()).await;
    let (c, base) = (client(), mirror.url());

    let health = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let catalog: serde_json::Value = c
        .get(format!("{base}/api/v1/tools"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    assert_eq!(
        catalog,
        serde_json::json!([
            {"tool_id": "demo", "versions": ["1.0.0", "1.2.0"], "latest": "1.2.0"},
            {"tool_id": "other", "versions": ["0.1.0"], "latest": "0.1.0"},
        ])
    );
    let tool = c
        .get(format!("{base}/api/v1/tools/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(tool.status(), StatusCode::OK);
    assert!(header(&tool, &CACHE_CONTROL) != IMMUTABLE);
    let tool: serde_json::Value = serde_json::from_slice(&tool.bytes().await.unwrap()).unwrap();
    assert_eq!(tool["latest"], "1.2.0");
    assert_eq!(tool["versions"], serde_json::json!(["1.0.0", "1.2.0"]));

    for (version, published) in [
        ("1.0.0", &demo.v1),
        ("1.2.0", &demo.v2),
        ("latest", &demo.v2),
    ] {
        let resp = c
            .get(format!("{base}/api/v1/tools/demo/{version}/manifest.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{version}");
        assert!(header(&resp, &CACHE_CONTROL) != IMMUTABLE, "{version}");
        assert_eq!(
            resp.bytes().await.unwrap(),
            published.manifest_bytes,
            "{version}: the signed bytes as published"
        );
    }
    // Each 404 says what is missing and what the mirror has instead.
    let blob_ff = "00000000000000000000000000000000000000000000000000000000000000ff";
    let (blob_route, blob_says) = (
        format!("/api/v1/blobs/sha256/{blob_ff}"),
        format!("no content with sha256 {blob_ff} on this mirror"),
    );
    for (missing, says) in [
        (
            "/api/v1/tools/nope",
            r#"no tool \"nope\"; the mirror has demo, other"#,
        ),
        (
            "/api/v1/tools/nope/1.0.0/manifest.json",
            r#"no tool \"nope\"; the mirror has demo, other"#,
        ),
        (
            "/api/v1/tools/demo/9.9.9/manifest.json",
            "no version 9.9.9 of demo; the mirror has 1.0.0, 1.2.0",
        ),
        (
            "/api/v1/tools/demo/not-semver/manifest.json",
            "no version not-semver of demo; the mirror has 1.0.0, 1.2.0",
        ),
        (
            "/api/v1/tools/demo/1.0.0/files/nope.txt",
            r#"no file \"nope.txt\" in the manifest"#,
        ),
        (blob_route.as_str(), blob_says.as_str()),
        ("/api/v1/blobs/sha256/ABC", "not a lowercase hex SHA-256"),
        ("/api/v1/nothing", "no such route"),
    ] {
        let resp = c.get(format!("{base}{missing}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{missing}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(says), "{missing}: {body}");
    }
}

#[tokio::test]
async fn file_and_blob_routes_serve_the_bytes_with_strong_etag_and_cache_rules() {
    let demo = Demo::new();
    let mirror = start(demo.root()).await;
    let (c, base) = (client(), mirror.url());
    let cases = [
        (
            "/api/v1/tools/demo/1.0.0/files/run.sh",
            SCRIPT_V1,
            IMMUTABLE,
        ),
        (
            "/api/v1/tools/demo/1.2.0/files/run.sh",
            SCRIPT_V2,
            IMMUTABLE,
        ),
        (
            "/api/v1/tools/demo/latest/files/run.sh",
            SCRIPT_V2,
            "no-cache",
        ),
        (
            "/api/v1/tools/demo/1.0.0/files/conf/a%20b.toml",
            b"x = 1\n",
            IMMUTABLE,
        ),
    ];
    for (route, bytes, cache) in cases {
        let resp = c.get(format!("{base}{route}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{route}");
        assert_eq!(
            header(&resp, &ETAG),
            format!("\"{}\"", sha256(bytes)),
            "{route}"
        );
        assert_eq!(header(&resp, &ACCEPT_RANGES), "bytes");
        assert_eq!(header(&resp, &CACHE_CONTROL), cache, "{route}");
        assert_eq!(header(&resp, &CONTENT_LENGTH), bytes.len().to_string());
        assert_eq!(resp.bytes().await.unwrap(), bytes, "{route}");
    }
    let hex = sha256(&demo.model);
    let resp = c
        .get(format!("{base}/api/v1/blobs/sha256/{hex}"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, &CACHE_CONTROL), IMMUTABLE);
    assert_eq!(header(&resp, &ETAG), format!("\"{hex}\""));
    assert_eq!(resp.bytes().await.unwrap(), demo.model);
}

#[tokio::test]
async fn ranges_single_open_suffix_and_unsatisfiable() {
    let demo = Demo::new();
    let mirror = start(demo.root()).await;
    let (c, base) = (client(), mirror.url());
    let url = format!("{base}/api/v1/blobs/sha256/{}", sha256(&demo.model));
    let size = demo.model.len();
    let cases: [(&str, usize, usize); 5] = [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, size - 1),
        ("bytes=-10", size - 10, size - 1),
        ("bytes=-5000000", 0, size - 1),
        ("bytes=100-99999999", 100, size - 1),
    ];
    for (range, first, last) in cases {
        let resp = c.get(&url).header(RANGE, range).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            header(&resp, &CONTENT_RANGE),
            format!("bytes {first}-{last}/{size}"),
            "{range}"
        );
        assert_eq!(
            header(&resp, &CONTENT_LENGTH),
            (last - first + 1).to_string()
        );
        assert_eq!(
            resp.bytes().await.unwrap(),
            demo.model[first..=last],
            "{range}"
        );
    }
    for range in [format!("bytes={size}-"), "bytes=-0".to_owned()] {
        let resp = c.get(&url).header(RANGE, &range).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(header(&resp, &CONTENT_RANGE), format!("bytes */{size}"));
        assert!(resp.bytes().await.unwrap().is_empty());
    }
    // Several ranges or a malformed header: the whole file, 200.
    for range in ["bytes=0-1,5-6", "bytes=9-2", "lines=1-2"] {
        let resp = c.get(&url).header(RANGE, range).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{range}");
        assert_eq!(resp.bytes().await.unwrap().len(), size, "{range}");
    }
}

#[tokio::test]
async fn ranges_across_read_chunks_of_a_large_file_are_exact() {
    let hq = Publisher::new(9);
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let big = noise(3, (3 << 20) + 12345);
    hq.publish_into(&store, "big", "1.0.0", &[("big.bin", &big)]);
    let mirror = start(store_dir.path()).await;
    let c = client();
    let url = format!("{}/api/v1/tools/big/1.0.0/files/big.bin", mirror.url());
    let whole = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert!(whole == big, "whole body differs");
    let (first, last) = ((1 << 20) - 7, (2 << 20) + 99);
    let part = c
        .get(&url)
        .header(RANGE, format!("bytes={first}-{last}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(part == big[first..=last], "range across chunks differs");
}

#[tokio::test]
async fn head_answers_headers_without_a_body() {
    let demo = Demo::new();
    let mirror = start(demo.root()).await;
    let c = client();
    let hex = sha256(&demo.model);
    let resp = c
        .head(format!("{}/api/v1/blobs/sha256/{hex}", mirror.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, &CONTENT_LENGTH), demo.model.len().to_string());
    assert_eq!(header(&resp, &ETAG), format!("\"{hex}\""));
    assert_eq!(header(&resp, &ACCEPT_RANGES), "bytes");
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = c
        .head(format!(
            "{}/api/v1/tools/demo/latest/manifest.json",
            mirror.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header(&resp, &CONTENT_LENGTH),
        demo.v2.manifest_bytes.len().to_string()
    );
}

#[tokio::test]
async fn if_none_match_gives_304_and_if_range_gives_206_or_the_whole_file() {
    let demo = Demo::new();
    let mirror = start(demo.root()).await;
    let c = client();
    let hex = sha256(&demo.model);
    let url = format!("{}/api/v1/blobs/sha256/{hex}", mirror.url());
    let etag = format!("\"{hex}\"");

    let resp = c
        .get(&url)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&resp, &ETAG), etag);
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = c
        .get(&url)
        .header(IF_NONE_MATCH, "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = c
        .get(&url)
        .header(RANGE, "bytes=10-19")
        .header(IF_RANGE, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap(), demo.model[10..20]);

    let resp = c
        .get(&url)
        .header(RANGE, "bytes=10-19")
        .header(IF_RANGE, "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "stale validator: the whole file"
    );
    assert!(resp.headers().get(CONTENT_RANGE).is_none());
    assert_eq!(resp.bytes().await.unwrap(), demo.model);

    let manifest = format!("{}/api/v1/tools/demo/latest/manifest.json", mirror.url());
    let first = c.get(&manifest).send().await.unwrap();
    let tag = header(&first, &ETAG);
    let again = c
        .get(&manifest)
        .header(IF_NONE_MATCH, &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn metrics_expose_the_five_counters_and_a_duration_histogram() {
    let demo = Demo::new();
    let mirror = start(demo.root()).await;
    let c = client();
    let hex = sha256(&demo.model);
    let url = format!("{}/api/v1/blobs/sha256/{hex}", mirror.url());
    assert_eq!(
        c.get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len(),
        1 << 20
    );
    let missing = format!("{}/api/v1/blobs/sha256/{}", mirror.url(), sha256(b"absent"));
    assert_eq!(
        c.get(&missing).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let text = c
        .get(format!("{}/metrics", mirror.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "tooldelta_mirror_requests_total",
        "tooldelta_mirror_bytes_served_total",
        "tooldelta_mirror_cache_hits_total",
        "tooldelta_mirror_cache_misses_total",
        "tooldelta_mirror_upstream_bytes_total",
        "tooldelta_mirror_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    let value = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} has no plain sample in:\n{text}"))
    };
    assert_eq!(value("tooldelta_mirror_cache_hits_total"), 1);
    assert_eq!(value("tooldelta_mirror_cache_misses_total"), 1);
    assert!(value("tooldelta_mirror_bytes_served_total") >= 1 << 20);
    assert!(
        text.contains("route=\"/api/v1/blobs/sha256/{hex}\""),
        "{text}"
    );
}

#[tokio::test]
async fn if_match_mismatch_is_412_and_writes_are_405() {
    let demo = Demo::new();
    let mirror = start(demo.root()).await;
    let c = client();
    let url = format!("{}/api/v1/tools/demo/1.0.0/files/run.sh", mirror.url());
    let resp = c
        .get(&url)
        .header(reqwest::header::IF_MATCH, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    let resp = c
        .get(&url)
        .header(
            reqwest::header::IF_MATCH,
            format!("\"{}\"", sha256(SCRIPT_V1)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let resp = c
            .request(method.clone(), &url)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    assert!(
        Store::open(demo.root())
            .unwrap()
            .has_blob(&sha256(SCRIPT_V1)),
        "nothing was removed"
    );
}
