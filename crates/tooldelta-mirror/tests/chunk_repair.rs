//! Issue 11 item 5: a large file damaged in place (a flipped byte, an
//! append) is repaired by fetching only its damaged chunks; its intact
//! chunks are read where they are, each checked against the index first.
//! Real GGUF (gguf-py), the real mirror, bytes counted by its `/metrics`.
//!
//! Needs `python3` with the `gguf` package (scripts/install-deps.sh).

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::chunked::{Client, MIB, World, make_gguf, served, tree};

/// Opens an installed (read-only) file for writing, as a careless user would.
fn open_rw(path: &Path) -> std::fs::File {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

fn flip_byte(path: &Path, at: u64) {
    let mut file = open_rw(path);
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(at)).unwrap();
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(&[byte[0] ^ 0x5a]).unwrap();
}

fn append(path: &Path, bytes: usize) {
    let mut file = open_rw(path);
    file.seek(SeekFrom::End(0)).unwrap();
    file.write_all(&vec![0x42; bytes]).unwrap();
}

/// Repairs through the mirror: `(bytes served, report)`.
fn repair(client: &Client, url: &str) -> (u64, serde_json::Value) {
    let before = served(url).0;
    let report = client.repair(&[url.to_owned()]);
    (served(url).0 - before, report)
}

#[test]
fn a_flipped_byte_and_an_append_in_a_64_mib_gguf_cost_one_chunk_each_to_repair() {
    let world = World::new();
    let base = world.path("base.gguf");
    make_gguf(&base, 64, 16, &[]);
    let t1 = tree(&world.path("v1"), &base, "echo 1\n");
    let manifest = world.publish(&t1, "1.0.0");
    let size = manifest.file("model.gguf").unwrap().size;
    assert!(size >= 64 * MIB, "the model is {size} bytes");
    let mirror = world.serve();
    let url = mirror.url().to_owned();
    let client = world.client("root");
    client.update(std::slice::from_ref(&url), None);
    let model = client.current().join("model.gguf");

    flip_byte(&model, size / 2 + 12_345);
    let (bytes, r) = repair(&client, &url);
    eprintln!("flipped byte: {bytes} bytes served; {r}");
    assert_eq!(
        r["files_repaired"],
        serde_json::json!(["model.gguf"]),
        "{r}"
    );
    assert!(bytes <= MIB, "{bytes} bytes to repair one flipped byte");
    assert!(bytes > 0, "the damaged chunk came from the mirror");
    assert_eq!(r["bytes_downloaded"].as_u64().unwrap(), bytes, "{r}");
    let local = r["bytes_from_local_chunks"].as_u64().unwrap();
    assert_eq!(local + bytes, size, "every byte is local or fetched: {r}");
    client.assert_installed(&t1);

    append(&client.current().join("model.gguf"), 300_000);
    let (bytes, r) = repair(&client, &url);
    eprintln!("append: {bytes} bytes served; {r}");
    assert_eq!(
        r["files_repaired"],
        serde_json::json!(["model.gguf"]),
        "{r}"
    );
    assert!(bytes <= MIB, "{bytes} bytes to repair an append");
    assert_eq!(
        r["bytes_from_local_chunks"].as_u64().unwrap() + bytes,
        size,
        "{r}"
    );
    client.assert_installed(&t1);
}
