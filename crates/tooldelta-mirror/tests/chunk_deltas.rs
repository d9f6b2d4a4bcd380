//! Issue 11's acceptance: real GGUF files (llama.cpp's gguf-py, edited with
//! its `gguf-new-metadata`), published with chunk indexes, served by the real
//! mirror and by nginx over an export; the bytes are counted by the server.
//!
//! Needs `python3` with the `gguf` package (scripts/install-deps.sh installs
//! scripts/requirements-test.txt) and Debian's nginx-light. The model size of
//! the acceptance test is 1 GiB; `TOOLDELTA_CHUNK_TEST_MIB` changes it.

mod common;

use common::chunked::{
    MIB, NEW_TEMPLATE, TOOL, World, logged, make_gguf, new_metadata, served, tree,
};
use common::nginx::Nginx;

fn size_mib() -> u64 {
    std::env::var("TOOLDELTA_CHUNK_TEST_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

#[test]
fn a_chat_template_fix_of_a_1_gib_gguf_moves_under_a_mib_from_the_mirror_and_from_nginx() {
    let world = World::new();
    let mib = size_mib();
    let base = world.path("base.gguf");
    make_gguf(&base, mib, 64, &[]);
    let edited = world.path("edited.gguf");
    new_metadata(&base, &edited, &["--chat-template", NEW_TEMPLATE]);
    let retrained = world.path("retrained.gguf");
    make_gguf(&retrained, mib, 64, &["--change-tensor", "5"]);
    let t1 = tree(&world.path("v1"), &base, "echo 1\n");
    let t2 = tree(&world.path("v2"), &edited, "echo 1\n");
    let t3 = tree(&world.path("v3"), &retrained, "echo 1\n");
    world.publish(&t1, "1.0.0");
    let m2 = world.publish(&t2, "2.0.0");
    let model_size = m2.file("model.gguf").unwrap().size;
    assert!(model_size >= mib * MIB, "the model is {model_size} bytes");

    // The real mirror, bytes counted by its /metrics.
    let mirror = world.serve();
    let url = vec![mirror.url().to_owned()];
    let client = world.client("root-mirror");
    client.update(&url, Some("1.0.0"));
    let before = served(mirror.url());
    let r = client.update(&url, Some("2.0.0"));
    let after = served(mirror.url());
    let (bytes, requests) = (after.0 - before.0, after.1 - before.1);
    eprintln!(
        "chat-template edit via the mirror: {bytes} bytes in {requests} requests; report {r}"
    );
    assert!(
        bytes <= MIB,
        "{bytes} bytes served for a chat-template edit"
    );
    assert!(
        requests <= 6,
        "{requests} requests for a chat-template edit"
    );
    assert_eq!(
        r["bytes_downloaded"].as_u64().unwrap(),
        bytes - manifest_bytes(&world, "2.0.0")
    );
    assert!(
        r["bytes_from_local_chunks"].as_u64().unwrap() >= model_size - MIB,
        "{r}"
    );
    client.assert_installed(&t2);

    // One tensor retrained: at most that tensor + 1% + 1 MiB.
    world.publish(&t3, "3.0.0");
    let before = served(mirror.url());
    let r = client.update(&url, Some("3.0.0"));
    let bytes = served(mirror.url()).0 - before.0;
    let tensor = (mib * MIB) / 64;
    eprintln!("one-tensor change via the mirror: {bytes} bytes (tensor {tensor}); report {r}");
    assert!(
        bytes <= tensor + tensor / 100 + MIB,
        "{bytes} bytes for one {tensor}-byte tensor"
    );
    client.assert_installed(&t3);
    drop(mirror);

    // nginx serving an export, bytes counted by its access log.
    let export = world.path("export");
    tooldelta_mirror::export(&world.store, &export).unwrap();
    let nginx = Nginx::serve_export(&export);
    let url = vec![nginx.url()];
    let client = world.client("root-nginx");
    client.update(&url, Some("1.0.0"));
    let (_, _, from) = logged(&nginx, 0);
    let r = client.update(&url, Some("2.0.0"));
    let (bytes, requests, _) = logged(&nginx, from);
    eprintln!("chat-template edit via nginx: {bytes} bytes in {requests} requests; report {r}");
    assert!(
        bytes <= MIB,
        "{bytes} bytes sent by nginx for a chat-template edit"
    );
    assert!(
        requests <= 6,
        "{requests} requests to nginx for a chat-template edit"
    );
    client.assert_installed(&t2);
}

fn manifest_bytes(world: &World, version: &str) -> u64 {
    world
        .store
        .read_manifest(TOOL, version)
        .unwrap()
        .unwrap()
        .len() as u64
}

/// Bytes the mirror served for updating a fresh client from 1.0.0 to `version`.
fn delta_bytes(world: &World, name: &str, version: &str) -> (u64, serde_json::Value) {
    let mirror = world.serve();
    let url = vec![mirror.url().to_owned()];
    let client = world.client(name);
    client.update(&url, Some("1.0.0"));
    let before = served(mirror.url()).0;
    let report = client.update(&url, Some(version));
    (served(mirror.url()).0 - before, report)
}

#[test]
fn each_kind_of_gguf_change_moves_what_changed_and_a_complete_change_the_whole_file() {
    let world = World::new();
    let base = world.path("base.gguf");
    make_gguf(&base, 32, 16, &[]);
    let layout = {
        let file = std::fs::File::open(&base).unwrap();
        let size = file.metadata().unwrap().len();
        tooldelta_core::chunks::gguf::read_layout(file, size)
            .unwrap()
            .unwrap()
    };
    // A longer general.name that still fits in the alignment padding: no shift.
    let pad = (layout.data_start - layout.header_len) as usize;
    let name = format!("tooldelta-test-modeL{}", "x".repeat(pad));
    let padded = world.path("padded.gguf");
    new_metadata(&base, &padded, &["--general-name", &name[..name.len() - 1]]);
    let requant = world.path("requant.gguf");
    make_gguf(&requant, 32, 16, &["--requant-tensor", "3"]);
    let complete = world.path("complete.gguf");
    make_gguf(&complete, 32, 16, &["--seed", "5"]);
    let t1 = tree(&world.path("v1"), &base, "echo\n");
    world.publish(&t1, "1.0.0");
    let cases = [
        ("padded", &padded, "2.0.0"),
        ("requant", &requant, "3.0.0"),
        ("complete", &complete, "4.0.0"),
    ];
    for (name, model, version) in &cases {
        let t = tree(&world.path(name), model, "echo\n");
        world.publish(&t, version);
    }
    let tensor = 32 * MIB / 16;

    let (bytes, r) = delta_bytes(&world, "root-padded", "2.0.0");
    eprintln!("edit inside the padding: {bytes} bytes; {r}");
    assert!(
        bytes <= MIB,
        "{bytes} bytes for a name edit that shifts nothing"
    );

    let (bytes, r) = delta_bytes(&world, "root-requant", "3.0.0");
    eprintln!("one tensor re-quantised (F32 -> F16): {bytes} bytes; {r}");
    let new_tensor = tensor / 2;
    assert!(
        bytes <= new_tensor + new_tensor / 100 + MIB,
        "{bytes} bytes for one {new_tensor}-byte tensor"
    );
    assert!(bytes >= new_tensor, "the new tensor itself was fetched");

    let (bytes, r) = delta_bytes(&world, "root-complete", "4.0.0");
    eprintln!("complete change: {bytes} bytes; {r}");
    let size = std::fs::metadata(&complete).unwrap().len();
    assert_eq!(r["bytes_from_local_chunks"], 0, "the whole file: {r}");
    assert!(bytes >= size, "{bytes} < {size}");
}
