//! Broken servers (rustup's and curl's Range tests, Mender's resume
//! mutations): Range ignored, 416, wrong or malformed `Content-Range`, an
//! `ETag` that changed between attempts, a partial larger than the file, a
//! truncated body, 5xx on half the requests, and a server that is down.
//!
//! In every case the update either succeeds with exactly the published bytes
//! or fails with a clear error in bounded time, and `current/` is never
//! anything but the old or the new release.

mod fault_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fault_support::{
    NEW, NEW_MODEL, OLD, TOOL, World, assert_active, assert_refused, leftovers, partials,
    record_figures,
};
use serde_json::{Value, json};
use tooldelta_testkit::{
    EtagChange, Fault, FaultServer, PseudoRandom, RangeMutation, RequestRecord, Rule, StaticMirror,
};

const MODEL: &str = "models/model.gguf";
const HALF: u64 = NEW_MODEL / 2;

fn installed() -> (World, FaultServer, PathBuf) {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), OLD);
    (world, server, root)
}

fn model_sha(world: &World) -> String {
    let m = world.mirror.manifest(TOOL, NEW);
    m.file(MODEL).expect("the model is listed").sha256.clone()
}

fn blob_route(world: &World) -> String {
    StaticMirror::blob_route(&model_sha(world))
}

fn file_route() -> String {
    StaticMirror::file_route(TOOL, NEW, MODEL)
}

/// The new model's bytes (the v2 tree is generated from seed 2).
fn model_bytes() -> Vec<u8> {
    PseudoRandom::bytes(2, NEW_MODEL as usize)
}

/// Writes a partial download of the model, as an interrupted run leaves it.
fn plant_partial(world: &World, root: &Path, bytes: &[u8], etag: Option<&str>) {
    let dir = root.join("objects/partial");
    std::fs::create_dir_all(&dir).unwrap();
    let sha = model_sha(world);
    std::fs::write(dir.join(format!("{sha}.partial")), bytes).unwrap();
    if let Some(etag) = etag {
        std::fs::write(dir.join(format!("{sha}.etag")), etag).unwrap();
    }
}

/// Requests for the model (both routes), in order.
fn model_requests(world: &World, server: &FaultServer) -> Vec<RequestRecord> {
    let (blob, file) = (blob_route(world), file_route());
    server
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path == blob || r.path == file)
        .collect()
}

/// What a scenario measured: the report's byte counts and the model's requests.
fn figures(report: &Value, reqs: &[RequestRecord]) -> Value {
    json!({
        "bytes_downloaded": report["bytes_downloaded"],
        "bytes_resumed": report["bytes_resumed"],
        "model_requests": reqs
            .iter()
            .map(|r| json!({"status": r.status, "range": r.range, "bytes_sent": r.bytes_sent}))
            .collect::<Vec<_>>(),
    })
}

/// Runs the update to success and checks the result is exactly 2.0.0.
fn update_ok(world: &World, server: &FaultServer, root: &Path, extra: &[&str]) -> Value {
    let out = world.update(root, &server.url(), extra);
    out.assert_success();
    assert_active(root, world.tree(NEW), NEW);
    assert!(leftovers(root).is_empty(), "{:?}", leftovers(root));
    assert!(partials(root).is_empty(), "{:?}", partials(root));
    out.json()
}

#[test]
fn a_server_that_ignores_range_restarts_the_file_from_zero() {
    let (world, server, root) = installed();
    plant_partial(&world, &root, &model_bytes()[..HALF as usize], None);
    server.faults().set(Fault::IgnoreRange);
    let report = update_ok(&world, &server, &root, &[]);
    let reqs = model_requests(&world, &server);
    assert_eq!(
        reqs[0].range.as_deref(),
        Some(format!("bytes={HALF}-").as_str())
    );
    assert_eq!(reqs[0].status, 200, "{reqs:?}");
    assert_eq!(report["bytes_resumed"], 0, "{report}");
    record_figures("broken-ignore-range", &figures(&report, &reqs));
}

#[test]
fn a_complete_partial_is_verified_and_used_without_asking_the_server() {
    let (world, server, root) = installed();
    plant_partial(&world, &root, &model_bytes(), None);
    // A server that answers 416 to any Range would break a client that asks.
    server.faults().set(Fault::RangeNotSatisfiable);
    let report = update_ok(&world, &server, &root, &[]);
    let reqs = model_requests(&world, &server);
    assert!(reqs.is_empty());
    assert_eq!(report["bytes_resumed"], NEW_MODEL, "{report}");
    record_figures("broken-416-complete", &figures(&report, &reqs));
}

#[test]
fn a_complete_partial_with_wrong_bytes_is_discarded_and_fetched_again() {
    let (world, server, root) = installed();
    plant_partial(
        &world,
        &root,
        &PseudoRandom::bytes(77, NEW_MODEL as usize),
        None,
    );
    let report = update_ok(&world, &server, &root, &[]);
    let reqs = model_requests(&world, &server);
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].range, None, "fetched from zero");
    assert_eq!(report["bytes_resumed"], 0);
}

#[test]
fn a_416_to_an_incomplete_partial_reissues_the_request_without_range() {
    let (world, server, root) = installed();
    plant_partial(&world, &root, &model_bytes()[..HALF as usize], None);
    server.faults().set(Fault::RangeNotSatisfiable);
    let report = update_ok(&world, &server, &root, &[]);
    let reqs = model_requests(&world, &server);
    assert_eq!(reqs[0].status, 416);
    assert_eq!(reqs[1].range, None, "{reqs:?}");
    assert_eq!(reqs[1].status, 200);
    assert_eq!(report["bytes_resumed"], 0);
    record_figures("broken-416-incomplete", &figures(&report, &reqs));
}

#[test]
fn every_wrong_or_malformed_content_range_is_refused_and_the_file_fetched_whole() {
    for mutation in [
        RangeMutation::StartOffByOne,
        RangeMutation::StartAtZero,
        RangeMutation::WrongTotal,
        RangeMutation::Garbage,
        RangeMutation::Missing,
    ] {
        let (world, server, root) = installed();
        plant_partial(&world, &root, &model_bytes()[..HALF as usize], None);
        server.faults().set(Fault::ContentRange(mutation));
        let report = update_ok(&world, &server, &root, &[]);
        let reqs = model_requests(&world, &server);
        assert_eq!(reqs[0].status, 206, "{mutation:?}: {reqs:?}");
        assert!(
            reqs.iter()
                .skip(1)
                .any(|r| r.range.is_none() && r.status == 200),
            "{mutation:?}: never asked again without Range: {reqs:?}"
        );
        assert_eq!(report["bytes_resumed"], 0, "{mutation:?}");
        record_figures(
            &format!("broken-content-range-{mutation:?}"),
            &figures(&report, &reqs),
        );
    }
}

#[test]
fn a_content_range_with_an_unknown_total_but_the_right_start_is_resumed() {
    let (world, server, root) = installed();
    plant_partial(&world, &root, &model_bytes()[..HALF as usize], None);
    server
        .faults()
        .set(Fault::ContentRange(RangeMutation::UnknownTotal));
    let report = update_ok(&world, &server, &root, &[]);
    assert_eq!(report["bytes_resumed"], HALF, "{report}");
}

#[test]
fn an_etag_changed_since_the_partial_was_written_restarts_from_zero_through_if_range() {
    let (world, server, root) = installed();
    let real = format!("\"{}\"", model_sha(&world));
    plant_partial(&world, &root, &model_bytes()[..HALF as usize], Some(&real));
    // The server now has "another" file: If-Range no longer matches.
    server.faults().set(Fault::ChangeEtag(EtagChange::Fixed));
    let report = update_ok(&world, &server, &root, &[]);
    let reqs = model_requests(&world, &server);
    assert_eq!(reqs[0].if_range.as_deref(), Some(real.as_str()), "{reqs:?}");
    assert_eq!(reqs[0].status, 200, "a stale If-Range gets the whole file");
    assert_eq!(report["bytes_resumed"], 0);
    record_figures("broken-etag-changed", &figures(&report, &reqs));
}

#[test]
fn a_matching_etag_resumes_with_if_range() {
    let (world, server, root) = installed();
    let real = format!("\"{}\"", model_sha(&world));
    plant_partial(&world, &root, &model_bytes()[..HALF as usize], Some(&real));
    let report = update_ok(&world, &server, &root, &[]);
    let reqs = model_requests(&world, &server);
    assert_eq!(reqs[0].if_range.as_deref(), Some(real.as_str()));
    assert_eq!(reqs[0].status, 206);
    assert_eq!(report["bytes_resumed"], HALF);
}

#[test]
fn a_partial_larger_than_the_file_is_discarded() {
    let (world, server, root) = installed();
    let mut long = model_bytes();
    long.extend_from_slice(b"more than the manifest says");
    plant_partial(&world, &root, &long, None);
    let report = update_ok(&world, &server, &root, &[]);
    let reqs = model_requests(&world, &server);
    assert_eq!(reqs[0].range, None, "{reqs:?}");
    assert_eq!(report["bytes_resumed"], 0);
    record_figures("broken-partial-too-long", &figures(&report, &reqs));
}

#[test]
fn a_truncated_body_is_resumed_where_it_broke_off() {
    let (world, server, root) = installed();
    let cut = 700_000;
    server.faults().set(
        Rule::new(Fault::CutAfter(cut))
            .path(blob_route(&world))
            .first(1),
    );
    let report = update_ok(&world, &server, &root, &[]);
    let reqs = model_requests(&world, &server);
    assert!(reqs[0].cut, "{reqs:?}");
    let resumed_at: u64 = reqs[1]
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the second request is not a resume: {reqs:?}"));
    assert!(resumed_at > 0 && resumed_at <= cut, "{reqs:?}");
    assert_eq!(reqs[1].status, 206);
    record_figures("broken-truncated", &figures(&report, &reqs));
}

#[test]
fn five_hundreds_on_half_the_requests_are_retried_to_success() {
    let (world, server, root) = installed();
    server
        .faults()
        .set(Rule::new(Fault::ErrorStatus(503)).every_nth(2));
    let report = update_ok(&world, &server, &root, &[]);
    let failed = server
        .log()
        .records()
        .iter()
        .filter(|r| r.status == 503)
        .count();
    assert!(failed > 0, "no request failed: the fault did not fire");
    let mut figures = figures(&report, &model_requests(&world, &server));
    figures["503s"] = json!(failed);
    record_figures("broken-5xx-half", &figures);
}

#[test]
fn with_retries_off_a_failing_server_gives_a_clean_error_and_keeps_the_old_release() {
    let (world, server, root) = installed();
    for route in [blob_route(&world), file_route()] {
        server
            .faults()
            .add(Rule::new(Fault::ErrorStatus(503)).path(route));
    }
    let out = world.update(&root, &server.url(), &["--retries", "0"]);
    let message = assert_refused(&out, &[TOOL, MODEL, "503"]);
    assert_active(&root, world.tree(OLD), OLD);
    // Exactly one try per source: retries off means off.
    let reqs = model_requests(&world, &server);
    assert_eq!(reqs.len(), 2);
    record_figures(
        "broken-5xx-no-retries",
        &json!({"exit_code": out.code, "error": message, "model_requests": reqs.len()}),
    );
}

#[test]
fn a_server_that_is_down_fails_in_bounded_time_and_keeps_the_partial() {
    let (world, server, root) = installed();
    plant_partial(&world, &root, &model_bytes()[..HALF as usize], None);
    let url = server.url();
    server.shutdown();
    let started = Instant::now();
    let out = world.update(&root, &url, &["--retries", "2"]);
    let message = assert_refused(&out, &[TOOL]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(message.contains("127.0.0.1"), "names the mirror: {message}");
    assert_active(&root, world.tree(OLD), OLD);
    let sha = model_sha(&world);
    assert_eq!(
        partials(&root).get(&format!("{sha}.partial")).copied(),
        Some(HALF),
        "the partial must be kept for the next run"
    );
    record_figures(
        "broken-server-down",
        &json!({
            "exit_code": out.code,
            "error": message,
            "elapsed_ms": started.elapsed().as_millis() as u64,
            "partial_kept": HALF,
        }),
    );
}

#[test]
fn a_server_that_dies_mid_download_fails_in_bounded_time_and_the_next_run_resumes() {
    let (world, server, root) = installed();
    server
        .faults()
        .set(Rule::new(Fault::Throttle(512 * 1024)).path_prefix("/api/v1/blobs/"));
    let url = server.url();
    let mut child = tooldelta_testkit::ChildGuard::spawn(
        world
            .update_cmd(&root, &url, &["--retries", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    // Wait until some of the model is on disk, then pull the plug.
    let sha = model_sha(&world);
    let deadline = Instant::now() + Duration::from_secs(30);
    while partials(&root)
        .get(&format!("{sha}.partial"))
        .copied()
        .unwrap_or(0)
        < 100_000
    {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.shutdown();
    let code = child.wait_timeout(Duration::from_secs(60));
    assert_eq!(
        code,
        Some(3),
        "the update must fail with the network exit code, not hang"
    );
    assert_active(&root, world.tree(OLD), OLD);
    let kept = partials(&root)[&format!("{sha}.partial")];
    assert!(kept > 0);
    let back = world.server();
    let report = update_ok(&world, &back, &root, &[]);
    assert!(report["bytes_resumed"].as_u64().unwrap() > 0, "{report}");
    record_figures(
        "broken-server-dies",
        &json!({"exit_code": code, "kept": kept, "bytes_resumed": report["bytes_resumed"]}),
    );
}
