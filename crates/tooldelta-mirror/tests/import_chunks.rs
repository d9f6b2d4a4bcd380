//! `import` of chunk index objects: stored as blobs after being checked
//! against the manifest and against the file they index; `export` links them.

mod common;

use common::{Publisher, noise, sha256};
use tooldelta_core::chunks::ChunkIndex;
use tooldelta_core::manifest::Manifest;
use tooldelta_mirror::{ImportError, ImportOptions, Store};

const MIB: usize = 1 << 20;

fn chunked(hq: &Publisher, version: &str, model: &[u8]) -> (common::Published, String) {
    let published = hq.publish_chunked(
        "chat",
        version,
        &[("model.bin", model), ("run.sh", b"echo\n")],
        Some(MIB as u64),
    );
    let manifest = Manifest::parse(&published.manifest_bytes).unwrap().manifest;
    let index = manifest.file("model.bin").unwrap().chunks.clone().unwrap();
    assert!(manifest.file("run.sh").unwrap().chunks.is_none());
    (published, index.sha256)
}

fn opts(hq: &Publisher) -> ImportOptions {
    ImportOptions {
        trust: hq.trust(),
        replace: false,
        chunks_dir: None,
    }
}

#[test]
fn the_index_is_stored_as_a_blob_and_exported_at_the_blob_route() {
    let hq = Publisher::new(1);
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let model = noise(7, 3 * MIB);
    let (published, index_hex) = chunked(&hq, "1.0.0", &model);
    let report = store
        .import_file(&published.manifest, &published.tool_dir, &opts(&hq))
        .unwrap();
    assert_eq!(report.indexes_added, 1);
    let stored = std::fs::read(store.blob_path(&index_hex)).unwrap();
    assert_eq!(sha256(&stored), index_hex);
    let index = ChunkIndex::parse(&stored).unwrap();
    index
        .check_bound_to(&sha256(&model), model.len() as u64)
        .unwrap();

    // Without the publisher's folder the index is rebuilt from the file.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Store::open(other_dir.path()).unwrap();
    std::fs::remove_dir_all(hq.chunks_dir()).unwrap();
    let rebuilt = other
        .import_file(&published.manifest, &published.tool_dir, &opts(&hq))
        .unwrap();
    assert_eq!(rebuilt.indexes_added, 1);
    assert_eq!(std::fs::read(other.blob_path(&index_hex)).unwrap(), stored);

    let out = store_dir.path().join("export");
    tooldelta_mirror::export::export(&store, &out).unwrap();
    let exported = out.join("api/v1/blobs/sha256").join(&index_hex);
    assert_eq!(std::fs::read(exported).unwrap(), stored);
}

#[test]
fn an_index_that_does_not_match_the_manifest_or_the_file_is_refused() {
    let hq = Publisher::new(2);
    let model = noise(8, 3 * MIB);
    let (published, index_hex) = chunked(&hq, "1.0.0", &model);
    let path = hq.chunks_dir().join(&index_hex);
    let good = std::fs::read(&path).unwrap();
    let import = |bytes: &[u8]| {
        std::fs::remove_file(&path).ok();
        std::fs::write(&path, bytes).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store
            .import_file(&published.manifest, &published.tool_dir, &opts(&hq))
            .unwrap_err();
        assert!(store.tool_ids().unwrap().is_empty(), "nothing listed");
        assert!(!store.has_blob(&index_hex));
        err
    };
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let err = import(&flipped);
    assert!(matches!(err, ImportError::BadIndex { .. }), "{err}");
    assert!(err.to_string().contains("model.bin"), "{err}");
    assert!(err.to_string().contains(&index_hex), "{err}");
    let err = import(&good[..good.len() - 36]);
    assert!(err.to_string().contains("is not a file of"), "{err}");
}
