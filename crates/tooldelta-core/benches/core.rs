//! In-process parts of `make bench` (Criterion): SHA-256 throughput, RFC 8785
//! canonical JSON of a large manifest, and the update diff of a
//! 100 000-file manifest. Whole-process ratios against the reference tools
//! are in `bench/*.py`.

use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tooldelta_core::diff::Plan;
use tooldelta_core::hash::{HASH_BUF_SIZE, hash_bytes, hash_file};
use tooldelta_core::manifest::{FileEntry, MANIFEST_VERSION, Manifest};

/// Files in the manifest the JSON and diff benchmarks work on.
const FILES: usize = 100_000;

fn entry(i: usize, generation: u8) -> FileEntry {
    // Distinct, realistic-looking paths and digests, sorted by construction.
    let sha = hash_bytes(format!("{i}:{generation}").as_bytes()).sha256;
    FileEntry {
        path: format!("data/shard-{:03}/file-{i:06}.bin", i / 1000),
        sha256: sha,
        size: (i as u64 * 7919) % 10_000_000,
        url: None,
        chunks: None,
        extra: BTreeMap::new(),
    }
}

fn manifest(files: Vec<FileEntry>) -> Manifest {
    let mut m = Manifest {
        manifest_version: MANIFEST_VERSION.to_owned(),
        tool_id: "bench".to_owned(),
        tool_version: "1.0.0".to_owned(),
        created_at: None,
        expires_at: None,
        release_notes: None,
        files,
        packs: None,
        manifest_hash: String::new(),
        signature: None,
        extra: BTreeMap::new(),
    };
    m.manifest_hash = m.compute_hash();
    m
}

fn hashing(c: &mut Criterion) {
    let mut group = c.benchmark_group("sha256");
    let data = vec![0x5au8; 16 << 20];
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("hash_bytes 16 MiB", |b| {
        b.iter(|| hash_bytes(black_box(&data)));
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("blob");
    std::fs::write(&path, &data).expect("write the test file");
    group.bench_function(
        format!("hash_file 16 MiB, {} KiB reads", HASH_BUF_SIZE / 1024),
        |b| b.iter(|| hash_file(black_box(&path)).expect("hash")),
    );
    group.finish();
}

fn canonical_json(c: &mut Criterion) {
    let m = manifest((0..FILES).map(|i| entry(i, 0)).collect());
    let bytes = m.to_pretty_json().into_bytes();
    let mut group = c.benchmark_group("manifest, 100 000 files");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    group.bench_function("manifest_hash (RFC 8785)", |b| {
        b.iter(|| black_box(&m).compute_hash());
    });
    group.bench_function("parse + canonical hash", |b| {
        b.iter(|| Manifest::parse(black_box(&bytes)).expect("parses"));
    });
    group.bench_function("check_rules (paths, order, collisions)", |b| {
        b.iter(|| black_box(&m).check_rules().expect("valid"));
    });
    group.finish();
}

fn diff(c: &mut Criterion) {
    let old: Vec<FileEntry> = (0..FILES).map(|i| entry(i, 0)).collect();
    // The new release: one file changed, one removed, one added.
    let mut new = old.clone();
    new[FILES / 2] = entry(FILES / 2, 1);
    new.remove(10);
    new.push(FileEntry {
        path: "zz-new.bin".to_owned(),
        ..entry(FILES, 0)
    });
    let stored: HashSet<String> = old.iter().map(|f| f.sha256.clone()).collect();
    let mut group = c.benchmark_group("diff, 100 000 files");
    group.sample_size(10);
    group.bench_function("Plan::from_files, 3 changes", |b| {
        b.iter_batched(
            || (),
            |()| Plan::from_files(black_box(&old), black_box(&new), |h, _| stored.contains(h)),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn config() -> Criterion {
    // Bounded so `make bench` stays short; CRITERION_* flags can lengthen it.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = hashing, canonical_json, diff
}
criterion_main!(benches);
