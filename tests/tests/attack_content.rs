//! Attacks through file content, from a hostile mirror: bytes substituted at
//! the same size, endless data, more data than announced, and slow
//! retrieval. The manifest is genuine; the defence is that no byte enters
//! the store, let alone a release, before its size and SHA-256 match.

mod fault_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fault_support::{
    NEW, NEW_MODEL, OLD, TOOL, World, assert_active, assert_refused, assert_same, leftovers,
    partials, record_figures, snapshot,
};
use serde_json::json;
use tooldelta_testkit::{Fault, FaultServer, PseudoRandom, Rule, StaticMirror};

const MODEL: &str = "models/model.gguf";

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

/// Both routes that serve the new model (by content and by path).
fn model_routes(world: &World) -> [String; 2] {
    [
        StaticMirror::blob_route(&model_sha(world)),
        StaticMirror::file_route(TOOL, NEW, MODEL),
    ]
}

fn object_exists(root: &std::path::Path, sha: &str) -> bool {
    root.join("objects/sha256")
        .join(&sha[..2])
        .join(sha)
        .exists()
}

/// The refusal checks shared by every content attack.
fn check_refused(
    name: &str,
    world: &World,
    server: &FaultServer,
    root: &std::path::Path,
    extra: &[&str],
    needles: &[&str],
) {
    let before = snapshot(&world.work(), &[root]);
    let out = world.update(root, &server.url(), extra);
    let message = assert_refused(&out, needles);
    assert!(
        message.contains(TOOL) && message.contains(MODEL),
        "names tool and file: {message}"
    );
    assert_active(root, world.tree(OLD), OLD);
    assert!(
        !object_exists(root, &model_sha(world)),
        "{name}: bad bytes entered the store"
    );
    assert_same(
        &before,
        &snapshot(&world.work(), &[root]),
        &format!("{name}: outside the root"),
    );
    assert!(leftovers(root).is_empty(), "{name}: {:?}", leftovers(root));
    record_figures(
        &format!("attack-{name}"),
        &json!({"refused": true, "error": message}),
    );
}

#[test]
fn a_file_substituted_by_other_bytes_of_the_same_size_is_refused_naming_file_mirror_and_both_hashes()
 {
    let (world, server, root) = installed();
    let fake = PseudoRandom::bytes(999, NEW_MODEL as usize);
    let fake_sha = tooldelta_core::hash::hash_bytes(&fake).sha256;
    world.mirror.write_blob_bytes(&model_sha(&world), &fake);
    world.mirror.write_file_bytes(TOOL, NEW, MODEL, &fake);
    let sha = model_sha(&world);
    check_refused(
        "same-size-substitution",
        &world,
        &server,
        &root,
        &[],
        &["integrity failure", &sha, &fake_sha, &server.url()],
    );
    // Integrity failures are never resumed from: the bad partial is gone.
    let bad = format!("{sha}.partial");
    assert!(!partials(&root).contains_key(&bad), "{:?}", partials(&root));
}

#[test]
fn a_substituted_blob_is_replaced_by_the_next_source_and_never_installed() {
    let (world, server, root) = installed();
    let fake = PseudoRandom::bytes(999, NEW_MODEL as usize);
    world.mirror.write_blob_bytes(&model_sha(&world), &fake);
    world.update(&root, &server.url(), &[]).assert_success();
    // The files/ route had the genuine bytes: what is installed is exactly 2.0.0.
    assert_active(&root, world.tree(NEW), NEW);
    let blob = StaticMirror::blob_route(&model_sha(&world));
    assert_eq!(
        server.log().count(&blob),
        1,
        "an integrity failure is not retried at the same source"
    );
}

#[test]
fn a_corrupted_byte_is_refused_even_when_every_source_serves_it() {
    let (world, server, root) = installed();
    for route in model_routes(&world) {
        server
            .faults()
            .add(Rule::new(Fault::CorruptByte(NEW_MODEL / 2)).path(route));
    }
    check_refused(
        "corrupt-byte",
        &world,
        &server,
        &root,
        &["--retries", "1"],
        &["integrity failure"],
    );
}

#[test]
fn endless_data_is_cut_at_the_manifest_size() {
    let (world, server, root) = installed();
    for route in model_routes(&world) {
        server
            .faults()
            .add(Rule::new(Fault::EndlessBody).path(route));
    }
    check_refused(
        "endless-data",
        &world,
        &server,
        &root,
        &["--retries", "1"],
        &["endless data refused"],
    );
    // Never more than the manifest size on disk.
    for len in partials(&root).values() {
        assert!(*len <= NEW_MODEL);
    }
}

#[test]
fn more_bytes_than_announced_in_the_manifest_are_refused() {
    let (world, server, root) = installed();
    for route in model_routes(&world) {
        server
            .faults()
            .add(Rule::new(Fault::ExtraBytes(1)).path(route));
    }
    check_refused(
        "extra-bytes",
        &world,
        &server,
        &root,
        &["--retries", "1"],
        &["more than the", "endless data refused"],
    );
}

#[test]
fn a_stalled_download_ends_in_a_timeout_naming_the_file() {
    let (world, server, root) = installed();
    for route in model_routes(&world) {
        server.faults().add(
            Rule::new(Fault::StallAfter {
                bytes: 0,
                duration: Duration::from_secs(600),
            })
            .path(route),
        );
    }
    let started = Instant::now();
    check_refused(
        "slow-retrieval-stall",
        &world,
        &server,
        &root,
        &["--stall-timeout", "1", "--retries", "1"],
        &["stalled", "no byte for 1 s"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the stall was not bounded"
    );
}

#[test]
fn a_mirror_that_trickles_a_few_bytes_between_stalls_cannot_hold_the_update_forever() {
    let (world, server, root) = installed();
    // Slow retrieval, TUF style: a few bytes, then silence past the stall
    // timeout, on every request. Each attempt "makes progress", so a client
    // that retries for as long as it progresses would take ~2000 attempts.
    for route in model_routes(&world) {
        server.faults().add(
            Rule::new(Fault::StallAfter {
                bytes: 1024,
                duration: Duration::from_secs(600),
            })
            .path(route),
        );
    }
    let started = Instant::now();
    check_refused(
        "slow-retrieval-trickle",
        &world,
        &server,
        &root,
        &["--stall-timeout", "1", "--retries", "2"],
        &["stalled"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}
