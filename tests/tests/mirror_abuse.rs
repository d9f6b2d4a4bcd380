//! The mirror under abuse: a generated traversal corpus (raw, percent-encoded,
//! double-encoded, overlong UTF-8, backslashes, NUL, absolute paths) against
//! every route, random `Range` headers against every content route, and 200
//! concurrent clients. The mirror must never panic or fail (no 5xx), never
//! send a byte of a file outside its store, answer every range exactly
//! (206 with the right bytes and `Content-Range`, 416 with `bytes */size`,
//! or 200 with the whole file), and serve every client the right bytes.

mod fault_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use fault_support::{NEW, OLD, SplitMix, TOOL, World, record_figures, seed_from_env};
use serde_json::json;
use tooldelta_core::signing::TrustStore;
use tooldelta_mirror::{ImportOptions, MirrorThread, ServeOptions, Store};

const MARKER: &[u8] = b"TOOLDELTA-SECRET-OUTSIDE-THE-STORE";

struct Response {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// Sends `request_head` (everything before the blank line) byte for byte and
/// reads the whole answer (`Connection: close`).
fn raw(addr: SocketAddr, method: &str, target: &[u8], headers: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target);
    req.extend_from_slice(
        format!(" HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n").as_bytes(),
    );
    stream.write_all(&req).unwrap();
    let mut bytes = Vec::new();
    // A reset after a malformed request is an answer too (never a hang).
    let _ = stream.read_to_end(&mut bytes);
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Response {
    let Some(split) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Response {
            status: 0,
            headers: BTreeMap::new(),
            body: bytes.to_vec(),
        };
    };
    let head = String::from_utf8_lossy(&bytes[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// A mirror store holding both versions of the world's tool, secrets planted
/// next to it, and the mirror serving it.
struct Served {
    world: World,
    dir: tempfile::TempDir,
    mirror: MirrorThread,
    /// Every file the mirror may serve, by blob hash.
    blobs: BTreeMap<String, Vec<u8>>,
}

fn serve() -> Served {
    let world = World::new();
    let dir = tempfile::tempdir().unwrap();
    let storedir = dir.path().join("store");
    let store = Store::open(&storedir).unwrap();
    let mut trust = TrustStore::new();
    trust.add(world.keys.verifying_key());
    let opts = ImportOptions {
        trust,
        replace: false,
        chunks_dir: None,
    };
    let mut blobs = BTreeMap::new();
    for version in [OLD, NEW] {
        let manifest = world.mirror.manifest(TOOL, version);
        let tree = world.tree(version).root();
        store
            .import(manifest.to_pretty_json().as_bytes(), tree, &opts)
            .unwrap();
        for f in &manifest.files {
            blobs.insert(f.sha256.clone(), std::fs::read(tree.join(&f.path)).unwrap());
        }
    }
    // Secrets beside the store, inside its folder but outside what is served,
    // and in the folder above.
    std::fs::write(dir.path().join("secret.txt"), MARKER).unwrap();
    std::fs::write(storedir.join("secret.txt"), MARKER).unwrap();
    std::fs::write(storedir.join("blobs").join("secret.txt"), MARKER).unwrap();
    let mirror = MirrorThread::start(ServeOptions::new(&storedir)).unwrap();
    Served {
        world,
        dir,
        mirror,
        blobs,
    }
}

fn leaked(body: &[u8]) -> bool {
    body.windows(MARKER.len()).any(|w| w == MARKER) || body.windows(8).any(|w| w == b"root:x:0")
}

/// Traversal payloads: ways to say "parent", "separator" and "root".
fn traversal_corpus(secret_abs: &str) -> Vec<Vec<u8>> {
    let parents = [
        "..",
        "%2e%2e",
        "%2E%2E",
        ".%2e",
        "%2e.",
        "%252e%252e",
        "%c0%ae%c0%ae",
        "..%00",
        "..;",
        "...",
        "..%5c..",
        "%2e%2e%5c",
    ];
    let seps = ["/", "%2f", "%2F", "%5c", "\\", "%252f", "//"];
    let targets = [
        "secret.txt",
        "etc/passwd",
        "blobs/secret.txt",
        "store/secret.txt",
        "tools/demo/2.0.0/manifest.json",
    ];
    let mut payloads: Vec<String> = Vec::new();
    for p in parents {
        for s in seps {
            for depth in [1, 2, 3, 6, 9] {
                for t in targets {
                    let up = format!("{p}{s}").repeat(depth);
                    payloads.push(format!("{up}{t}"));
                }
            }
        }
    }
    for abs in [
        secret_abs.to_owned(),
        secret_abs.replace('/', "%2f"),
        "/etc/passwd".to_owned(),
        "%2fetc%2fpasswd".to_owned(),
        "%00".to_owned(),
        "a%00/../../secret.txt".to_owned(),
        "C:%5cWindows%5cwin.ini".to_owned(),
        "models/model.gguf/../../../../secret.txt".to_owned(),
    ] {
        payloads.push(abs);
    }
    let routes = [
        "/api/v1/tools/demo/2.0.0/files/",
        "/api/v1/tools/demo/latest/files/models/",
        "/api/v1/blobs/sha256/",
        "/api/v1/tools/",
        "/api/v1/tools/demo/",
        "/api/v1/app/linux/x86_64/",
        "/",
        "/metrics/",
        "/healthz/",
    ];
    let mut out = Vec::new();
    for route in routes {
        for payload in &payloads {
            out.push(format!("{route}{payload}").into_bytes());
            out.push(format!("{route}{payload}/manifest.json").into_bytes());
        }
    }
    out
}

#[test]
fn a_traversal_corpus_against_every_route_never_reaches_a_file_outside_the_store() {
    let served = serve();
    let addr = served.mirror.addr();
    let secret = served.dir.path().join("secret.txt");
    let corpus = traversal_corpus(secret.to_str().unwrap());
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for (i, target) in corpus.iter().enumerate() {
        let method = if i % 5 == 0 { "HEAD" } else { "GET" };
        let resp = raw(addr, method, target, "");
        let shown = String::from_utf8_lossy(target);
        assert!(
            !leaked(&resp.body),
            "{shown}: leaked a file outside the store"
        );
        assert!(
            resp.status == 0 || resp.status < 500,
            "{shown}: status {} (a panic or an internal error)",
            resp.status
        );
        if resp.status == 200 && method == "GET" && shown.contains("/blobs/") {
            assert!(
                served.blobs.values().any(|b| *b == resp.body),
                "{shown}: 200 with bytes that are no blob of the store"
            );
        }
        *statuses.entry(resp.status).or_default() += 1;
    }
    let health = raw(addr, "GET", b"/healthz", "");
    assert_eq!(health.status, 200, "the mirror did not survive the corpus");
    record_figures(
        "mirror-traversal",
        &json!({"requests": corpus.len(), "statuses": statuses}),
    );
}

/// A random `Range` value: valid, suffix, open, multi, reversed, huge,
/// garbage, odd spacing and units.
fn random_range(rng: &mut SplitMix, size: u64) -> String {
    let n = |rng: &mut SplitMix| match rng.below(6) {
        0 => 0,
        1 => size.saturating_sub(1),
        2 => size,
        3 => size + 1 + rng.below(10),
        4 => u64::MAX - rng.below(3),
        _ => rng.below(size.max(1) * 2),
    };
    match rng.below(12) {
        0 => format!("bytes={}-{}", n(rng), n(rng)),
        1 => format!("bytes={}-", n(rng)),
        2 => format!("bytes=-{}", n(rng)),
        3 => format!("bytes={}-{},{}-{}", n(rng), n(rng), n(rng), n(rng)),
        4 => format!("bytes= {} - {} ", n(rng), n(rng)),
        5 => format!("Bytes={}-{}", n(rng), n(rng)),
        6 => format!("items={}-{}", n(rng), n(rng)),
        7 => format!("bytes={}-{}0000000000000000000000", n(rng), n(rng)),
        8 => "bytes=-".to_owned(),
        9 => format!("bytes={}", n(rng)),
        10 => format!("bytes=--{}", n(rng)),
        _ => {
            let a = rng.below(size.max(1));
            let b = a + rng.below(size.max(1) - a);
            format!("bytes={a}-{b}")
        }
    }
}

/// Checks one ranged answer against the file it is about.
fn check_range_answer(context: &str, resp: &Response, file: &[u8], head: bool) {
    let size = file.len() as u64;
    match resp.status {
        200 => {
            if !head {
                assert!(resp.body == file, "{context}: 200 with wrong bytes");
            }
        }
        206 => {
            let cr = resp
                .headers
                .get("content-range")
                .unwrap_or_else(|| panic!("{context}: 206 without Content-Range"));
            let (range, total) = cr
                .strip_prefix("bytes ")
                .and_then(|r| r.split_once('/'))
                .unwrap_or_else(|| panic!("{context}: bad Content-Range {cr}"));
            assert_eq!(total, size.to_string(), "{context}: {cr}");
            let (a, b) = range.split_once('-').unwrap();
            let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
            assert!(a <= b && b < size, "{context}: {cr} outside the file");
            if !head {
                assert!(
                    resp.body == file[a as usize..=b as usize],
                    "{context}: 206 body is not bytes {a}-{b}"
                );
            }
        }
        416 => {
            assert_eq!(
                resp.headers.get("content-range").map(String::as_str),
                Some(format!("bytes */{size}").as_str()),
                "{context}"
            );
        }
        other => panic!("{context}: status {other}"),
    }
}

#[test]
fn random_range_headers_on_every_content_route_get_exact_answers_and_no_panic() {
    let served = serve();
    let addr = served.mirror.addr();
    let seed = seed_from_env("TOOLDELTA_RANGE_SEED");
    let mut rng = SplitMix(seed);
    let v2 = served.world.mirror.manifest(TOOL, NEW);
    let mut tried = 0u64;
    let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
    for f in &v2.files {
        let file = &served.blobs[&f.sha256];
        let routes = [
            format!("/api/v1/blobs/sha256/{}", f.sha256),
            format!("/api/v1/tools/{TOOL}/{NEW}/files/{}", f.path),
            format!("/api/v1/tools/{TOOL}/latest/files/{}", f.path),
        ];
        for route in &routes {
            for i in 0..60 {
                let range = random_range(&mut rng, file.len() as u64);
                let extra = match i % 4 {
                    0 => format!("Range: {range}\r\nIf-Range: \"{}\"\r\n", f.sha256),
                    1 => format!("Range: {range}\r\nIf-Range: \"stale\"\r\n"),
                    _ => format!("Range: {range}\r\n"),
                };
                let head = i % 7 == 0;
                let resp = raw(
                    addr,
                    if head { "HEAD" } else { "GET" },
                    route.as_bytes(),
                    &extra,
                );
                let context = format!("{route} Range {range:?} (TOOLDELTA_RANGE_SEED={seed})");
                check_range_answer(&context, &resp, file, head);
                if i % 4 == 1 {
                    assert_eq!(
                        resp.status, 200,
                        "{context}: a stale If-Range must get the whole file"
                    );
                }
                *by_status.entry(resp.status).or_default() += 1;
                tried += 1;
            }
        }
    }
    // The manifest route too (not ranged content, but it must not break).
    for _ in 0..50 {
        let range = random_range(&mut rng, 4096);
        let resp = raw(
            addr,
            "GET",
            format!("/api/v1/tools/{TOOL}/latest/manifest.json").as_bytes(),
            &format!("Range: {range}\r\n"),
        );
        assert!(
            matches!(resp.status, 200 | 206 | 416),
            "manifest with Range {range:?}: {}",
            resp.status
        );
        tried += 1;
    }
    assert_eq!(raw(addr, "GET", b"/healthz", "").status, 200);
    record_figures(
        "mirror-random-range",
        &json!({"requests": tried, "statuses": by_status, "seed": seed}),
    );
}

#[test]
fn two_hundred_concurrent_clients_all_get_the_right_bytes() {
    let served = serve();
    let addr = served.mirror.addr();
    let v2 = served.world.mirror.manifest(TOOL, NEW);
    let model = v2.file("models/model.gguf").unwrap().clone();
    let bytes = Arc::new(served.blobs[&model.sha256].clone());
    let clients = 200;
    let barrier = Arc::new(Barrier::new(clients));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (barrier, bytes, sha) = (barrier.clone(), bytes.clone(), model.sha256.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let size = bytes.len();
                let route = format!("/api/v1/blobs/sha256/{sha}");
                let (headers, want): (String, &[u8]) = match i % 4 {
                    0 => (String::new(), &bytes[..]),
                    1 => (
                        format!("Range: bytes={}-\r\n", size / 2),
                        &bytes[size / 2..],
                    ),
                    2 => ("Range: bytes=-1000\r\n".to_owned(), &bytes[size - 1000..]),
                    _ => (
                        format!("Range: bytes={}-{}\r\n", i * 100, i * 100 + 4095),
                        &bytes[i * 100..i * 100 + 4096],
                    ),
                };
                let resp = raw(addr, "GET", route.as_bytes(), &headers);
                let ok = matches!(resp.status, 200 | 206) && resp.body == want;
                (i, resp.status, ok)
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for h in handles {
        let (i, status, ok) = h.join().unwrap();
        *statuses.entry(status).or_default() += 1;
        if !ok {
            failures.push((i, status));
        }
    }
    assert!(
        failures.is_empty(),
        "clients with wrong answers: {failures:?}"
    );
    let metrics = raw(addr, "GET", b"/metrics", "");
    assert_eq!(metrics.status, 200);
    record_figures(
        "mirror-200-clients",
        &json!({"clients": clients, "failures": failures.len(), "statuses": statuses}),
    );
}
