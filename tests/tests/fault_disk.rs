//! Disk full: the free space is checked before anything is downloaded, and a
//! disk that fills up during the download (another program wrote to it)
//! fails the update before activation, saying how much is needed and free.
//!
//! The install root is a small tmpfs mounted for the test (root can mount
//! here and in CI). Where mounting is not permitted these tests say so and
//! stop; the injected-write-error variant in
//! `crates/tooldelta-core/tests/fault_failpoints.rs` (`return(enospc)` at
//! `fetch::write`) runs everywhere.

mod fault_support;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fault_support::{
    NEW, NEW_MODEL, OLD, TOOL, Tmpfs, World, assert_active, assert_refused, partials,
    record_figures,
};
use serde_json::json;
use tooldelta_testkit::{ChildGuard, Fault, Rule, StaticMirror};

fn model_route(world: &World) -> String {
    let m = world.mirror.manifest(TOOL, NEW);
    StaticMirror::blob_route(&m.file("models/model.gguf").unwrap().sha256)
}

/// `N bytes needed, M bytes free` from the error, as numbers.
fn needed_and_free(message: &str) -> (u64, u64) {
    let number_before = |word: &str| -> u64 {
        let at = message
            .find(word)
            .unwrap_or_else(|| panic!("{word:?} in {message}"));
        let head = message[..at].trim_end();
        let digits: String = head
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("a number before {word:?} in {message}"))
    };
    (number_before("bytes needed"), number_before("bytes free"))
}

#[test]
fn the_free_space_check_refuses_an_update_that_cannot_fit_before_downloading() {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    let Some(_tmpfs) = Tmpfs::mount(&root, 1024 * 1024) else {
        return;
    };
    world.install(&root, &server.url(), OLD);
    server.log().clear();
    let out = world.update(&root, &server.url(), &[]);
    let message = assert_refused(&out, &[TOOL, "not enough disk space"]);
    let (needed, free) = needed_and_free(&message);
    assert!(needed >= NEW_MODEL, "{message}");
    assert!(free < needed && free < 1024 * 1024, "{message}");
    assert_eq!(
        server.log().count(&model_route(&world)),
        0,
        "refused before downloading"
    );
    assert_active(&root, world.tree(OLD), OLD);
    record_figures(
        "disk-free-space-check",
        &json!({"refused": true, "needed": needed, "free": free}),
    );
}

#[test]
fn a_disk_that_fills_up_during_the_download_fails_before_activation_saying_needed_and_free() {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    let Some(_tmpfs) = Tmpfs::mount(&root, 4 * 1024 * 1024) else {
        return;
    };
    world.install(&root, &server.url(), OLD);
    server
        .faults()
        .set(Rule::new(Fault::Throttle(512 * 1024)).path_prefix("/api/v1/blobs/"));
    let mut child = ChildGuard::spawn(
        world
            .update_cmd(&root, &server.url(), &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    // Once the download is under way, another program fills the disk.
    let deadline = Instant::now() + Duration::from_secs(30);
    while partials(&root).values().sum::<u64>() < 100_000 {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let filler = root.join("filler.bin");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    drop(file);
    let code = child.wait_timeout(Duration::from_secs(60));
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.child_mut().stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert_eq!(
        code,
        Some(6),
        "the update must fail with the local-I/O exit code: {stdout}"
    );
    let message = serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("not enough disk space"), "{message}");
    let (needed, free) = needed_and_free(&message);
    assert!(needed > 0 && free < needed, "{message}");
    assert_active(&root, world.tree(OLD), OLD);

    // Space freed, the next run converges and reuses what was downloaded.
    std::fs::remove_file(&filler).unwrap();
    server.faults().clear();
    let out = world.update(&root, &server.url(), &[]);
    out.assert_success();
    assert!(
        out.json()["bytes_resumed"].as_u64().unwrap() > 0,
        "{}",
        out.stdout
    );
    assert_active(&root, world.tree(NEW), NEW);
    record_figures(
        "disk-full-mid-download",
        &json!({"refused": true, "needed": needed, "free": free}),
    );
}
