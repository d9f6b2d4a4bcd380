//! Issue 11's attacks and faults on chunk-level deltas, each against real
//! servers: a tampered export served by nginx, a mirror that ignores Range,
//! a corrupt mirror before a good one, and a kill in the middle of an update.
//! Every refusal leaves the active release as it was.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::chunked::{
    Client, NEW_TEMPLATE, TOOL, World, logged, make_gguf, new_metadata, tree, workspace_bin,
};
use common::nginx::Nginx;
use tooldelta_core::chunks::ChunkIndex;
use tooldelta_core::manifest::{ChunksRef, Manifest};

/// v1 (a GGUF) and v2 (its chat template edited), published and imported,
/// and a client with v1 installed from the real mirror.
struct Setup {
    world: World,
    t1: PathBuf,
    t2: PathBuf,
    m1: Manifest,
    m2: Manifest,
    client: Client,
}

fn setup() -> Setup {
    let world = World::new();
    let base = world.path("base.gguf");
    make_gguf(&base, 24, 12, &[]);
    let edited = world.path("edited.gguf");
    new_metadata(&base, &edited, &["--chat-template", NEW_TEMPLATE]);
    let t1 = tree(&world.path("v1"), &base, "echo 1\n");
    let t2 = tree(&world.path("v2"), &edited, "echo 1\n");
    let m1 = world.publish(&t1, "1.0.0");
    let m2 = world.publish(&t2, "2.0.0");
    let client = world.client("root");
    {
        let mirror = world.serve();
        client.update(&[mirror.url().to_owned()], Some("1.0.0"));
    }
    client.assert_installed(&t1);
    Setup {
        world,
        t1,
        t2,
        m1,
        m2,
        client,
    }
}

impl Setup {
    /// A fresh export of the store, to be tampered with.
    fn export(&self, name: &str) -> PathBuf {
        let out = self.world.path(name);
        tooldelta_mirror::export(&self.world.store, &out).unwrap();
        out
    }

    /// Re-signs v2 in `export` (as `2.0.0` and `latest`) after `edit`.
    fn resign(&self, export: &Path, edit: impl FnOnce(&mut Manifest)) {
        let mut m = self.m2.clone();
        edit(&mut m);
        tooldelta_core::signing::sign(&mut m, &self.world.hq.key);
        for v in ["2.0.0", "latest"] {
            let path = export.join(format!("api/v1/tools/{TOOL}/{v}/manifest.json"));
            std::fs::remove_file(&path).unwrap();
            std::fs::write(&path, m.to_pretty_json()).unwrap();
        }
    }

    /// Asserts an update from `mirrors` is refused and v1 stays active.
    fn refused(&self, mirrors: &[String], needle: &str) {
        let err = self.client.update_fails(mirrors);
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
        assert!(err.contains(TOOL), "the error names the tool: {err}");
        self.client.assert_installed(&self.t1);
    }
}

fn model_chunks(m: &Manifest) -> ChunksRef {
    m.file("model.gguf").unwrap().chunks.clone().unwrap()
}

/// Writes `bytes` as a blob of the export (replacing the store's hardlink).
fn put_blob(export: &Path, hex: &str, bytes: &[u8]) {
    let path = export.join("api/v1/blobs/sha256").join(hex);
    let _ = std::fs::remove_file(&path);
    std::fs::write(path, bytes).unwrap();
}

fn blob(export: &Path, hex: &str) -> Vec<u8> {
    std::fs::read(export.join("api/v1/blobs/sha256").join(hex)).unwrap()
}

#[test]
fn a_tampered_index_in_any_way_is_refused_and_the_release_kept() {
    let s = setup();
    let index = model_chunks(&s.m2);

    // The index's bytes do not hash to what the signed manifest names.
    let export = s.export("export-hash");
    let mut flipped = blob(&export, &index.sha256);
    flipped[60] ^= 1;
    put_blob(&export, &index.sha256, &flipped);
    let nginx = Nginx::serve_export(&export);
    s.refused(&[nginx.url()], "integrity");
    drop(nginx);

    // A correct index of another file (v1's model), named by a signed manifest.
    let export = s.export("export-bound");
    let other = model_chunks(&s.m1);
    s.resign(&export, |m| {
        m.files[0].chunks = Some(other.clone());
    });
    let nginx = Nginx::serve_export(&export);
    s.refused(&[nginx.url()], "bound to another file");
    drop(nginx);

    // Chunk lengths that do not add up to the file size.
    let export = s.export("export-sum");
    let mut parsed = ChunkIndex::parse(&blob(&export, &index.sha256)).unwrap();
    parsed.chunks[0].len -= 1;
    let bytes = parsed.encode();
    let hex = common::sha256(&bytes);
    put_blob(&export, &hex, &bytes);
    s.resign(&export, |m| {
        m.files[0].chunks = Some(ChunksRef {
            sha256: hex.clone(),
            size: bytes.len() as u64,
        });
    });
    let nginx = Nginx::serve_export(&export);
    s.refused(&[nginx.url()], "sum to");
    drop(nginx);

    // An index over the size cap is refused with the manifest, before any download.
    let export = s.export("export-oversized");
    s.resign(&export, |m| {
        m.files[0].chunks = Some(ChunksRef {
            sha256: index.sha256.clone(),
            size: (64 << 20) + 52 + 36,
        });
    });
    let nginx = Nginx::serve_export(&export);
    s.refused(&[nginx.url()], "bad-chunks");
}

#[test]
fn a_corrupt_chunk_from_one_mirror_moves_to_the_next_and_range_ignored_falls_back() {
    let s = setup();
    let model = s.m2.file("model.gguf").unwrap().clone();

    // Mirror A serves v2's model with every 64 KiB of the header region flipped.
    let bad = s.export("export-bad");
    let mut bytes = blob(&bad, &model.sha256);
    let layout =
        tooldelta_core::chunks::gguf::read_layout(std::io::Cursor::new(&bytes), bytes.len() as u64)
            .unwrap()
            .unwrap();
    for at in (0..layout.data_start as usize).step_by(64 * 1024) {
        bytes[at] ^= 0xff;
    }
    put_blob(&bad, &model.sha256, &bytes);
    let good = s.export("export-good");
    let (a, b) = (Nginx::serve_export(&bad), Nginx::serve_export(&good));
    let r = s.client.update(&[a.url(), b.url()], Some("2.0.0"));
    s.client.assert_installed(&s.t2);
    let ranged = a
        .access_log()
        .lines()
        .filter(|l| l.contains("\" 206 "))
        .count();
    assert!(
        ranged >= 1,
        "mirror A was asked for a range:\n{}",
        a.access_log()
    );
    assert!(
        r["bytes_from_local_chunks"].as_u64().unwrap() > model.size / 2,
        "still a delta, from mirror B: {r}"
    );

    // An nginx that ignores Range (`max_ranges 0`): the whole file, verified.
    let second = s.world.client("root-norange");
    second.update(&[b.url()], Some("1.0.0"));
    let plain = Nginx::serve_export_with(&good, "max_ranges 0;");
    let r = second.update(&[plain.url()], Some("2.0.0"));
    second.assert_installed(&s.t2);
    assert_eq!(r["bytes_from_local_chunks"], 0, "{r}");
    let (sent, _, _) = logged(&plain, 0);
    assert!(sent >= model.size, "the whole file came instead: {sent}");
}

#[test]
fn a_chunked_update_killed_at_random_moments_converges_old_or_new() {
    let s = setup();
    // A complete change (every tensor new) keeps the update busy long
    // enough to be killed while it fetches.
    let changed = s.world.path("changed.gguf");
    make_gguf(&changed, 24, 12, &["--seed", "9"]);
    new_metadata(
        &changed,
        &s.world.path("changed2.gguf"),
        &["--chat-template", NEW_TEMPLATE],
    );
    let t3 = tree(
        &s.world.path("v3"),
        &s.world.path("changed2.gguf"),
        "echo 3\n",
    );
    s.world.publish(&t3, "3.0.0");
    let mirror = s.world.serve();
    let url = mirror.url().to_owned();
    for delay_ms in [30u64, 80, 150, 250, 400] {
        let mut child = Command::new(workspace_bin("tooldelta"))
            .args(["update", TOOL, "--mirror", &url, "--root"])
            .arg(&s.client.root)
            .arg("--trust")
            .arg(&s.client.trust)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Old or new, never a mix.
        let active = std::fs::read_link(s.client.current()).unwrap();
        let version = active.file_name().unwrap().to_str().unwrap().to_owned();
        match version.as_str() {
            "1.0.0" => s.client.assert_installed(&s.t1),
            "3.0.0" => s.client.assert_installed(&t3),
            other => panic!("unexpected active version {other}"),
        }
    }
    let r = s.client.update(&[url], None);
    assert_eq!(r["to_version"], "3.0.0", "{r}");
    s.client.assert_installed(&t3);
}

#[test]
fn a_site_mirror_pulling_through_from_nginx_serves_the_index_and_the_ranges() {
    let s = setup();
    let export = s.export("export-hq");
    let hq = Nginx::serve_export(&export);
    let site_store = s.world.path("site-store");
    let mut options = tooldelta_mirror::ServeOptions::new(&site_store);
    options.upstream = Some(hq.url());
    options.trust = s.world.hq.trust();
    let site = tooldelta_mirror::MirrorThread::start(options).unwrap();
    let r = s.client.update(&[site.url().to_owned()], Some("2.0.0"));
    s.client.assert_installed(&s.t2);
    let model = s.m2.file("model.gguf").unwrap();
    assert!(
        r["bytes_from_local_chunks"].as_u64().unwrap() > model.size / 2,
        "a delta through the site mirror: {r}"
    );
    let index = model_chunks(&s.m2).sha256;
    let site_store = tooldelta_mirror::Store::open(&site_store).unwrap();
    assert!(
        site_store.has_blob(&index),
        "the site pulled the index through"
    );
}
