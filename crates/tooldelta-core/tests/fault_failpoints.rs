//! Fault injection at every write, fsync, rename and delete of the update
//! path (the `failpoints` feature; run by `make test` through mk/fault.mk as
//! `cargo test -p tooldelta-core --features failpoints --test fault_failpoints`).
//!
//! A first pass counts how often a normal update reaches each fail point
//! (each must be reached: a fail point the update no longer passes through
//! fails the test). Then, for each fail point and each of its hits (sampled
//! when there are many), an update fails at exactly that hit. Every time:
//! the error reaches the caller and names the cause, `current` is exactly the
//! old or the new release and verifies, the old release is intact, no
//! temporary file is left behind, and the next run converges.
//!
//! Fail points are process-global: `fail::FailScenario` serialises the tests
//! of this binary, and the engine is driven in-process against a tiny static
//! HTTP server (the testkit depends on this crate, so it cannot be used here).

#![cfg(feature = "failpoints")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use ed25519_dalek::SigningKey;
use tooldelta_core::events::NullReporter;
use tooldelta_core::publish::{PublishOptions, publish};
use tooldelta_core::signing::TrustStore;
use tooldelta_core::{CancellationToken, Engine, EngineConfig, UpdateError, UpdateOptions};

const TOOL: &str = "fp-tool";
const OLD: &str = "1.0.0";
const NEW: &str = "2.0.0";

/// Every fail point of the update path (see `fsutil::failpoint!` call sites).
const FAIL_POINTS: &[&str] = &[
    "fetch::open",
    "fetch::write",
    "fetch::fsync",
    "store::persist::rename",
    "store::persist::fsync_dir",
    "fs::syncfs",
    "write_atomic::write",
    "write_atomic::fsync",
    "write_atomic::rename",
    "activate::link",
    "activate::install_rename",
    "activate::symlink",
    "activate::swap_rename",
    "activate::swap_fsync",
    "activate::prune",
    "fsync_dir",
    "remove_file",
    "remove_tree",
];

/// A folder served over HTTP/1.1 on 127.0.0.1:0: GET of whole files, 404
/// otherwise, one request per connection.
struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    fn start(root: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let root = root.clone();
                    std::thread::spawn(move || serve(&root, conn));
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(root: &Path, conn: TcpStream) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Headers are read and ignored (a Range gets the whole file: 200).
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let rel = path.trim_start_matches('/');
    let file = (!rel.split('/').any(|c| c == ".." || c.is_empty()))
        .then(|| root.join(rel))
        .filter(|p| p.is_file());
    let mut conn = conn;
    let _ = match file.and_then(|p| std::fs::read(p).ok()) {
        Some(body) => conn
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .and_then(|()| conn.write_all(&body)),
        None => conn
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Deterministic filler bytes.
fn filler(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Two published versions of [`TOOL`] on a static server.
struct World {
    tmp: tempfile::TempDir,
    key: SigningKey,
    server: StaticServer,
    trees: BTreeMap<&'static str, PathBuf>,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(b"tooldelta TEST ONLY failpoint ky");
        let site = tmp.path().join("site");
        let v1 = tmp.path().join("v1");
        write(&v1.join("a.txt"), b"one\n");
        write(&v1.join("old.txt"), b"dropped in 2.0.0\n");
        write(&v1.join("sub/keep.txt"), b"same in both\n");
        write(&v1.join("models/m.bin"), &filler(1, 64 * 1024));
        let v2 = tmp.path().join("v2");
        write(&v2.join("a.txt"), b"two\n");
        write(&v2.join("new/n.txt"), b"added in 2.0.0\n");
        write(&v2.join("sub/keep.txt"), b"same in both\n");
        write(&v2.join("models/m.bin"), &filler(2, 160 * 1024));
        for (version, dir) in [(OLD, &v1), (NEW, &v2)] {
            let opts = PublishOptions {
                tool_dir: dir.clone(),
                tool_id: TOOL.into(),
                version: version.into(),
                base_url: None,
                created_at: None,
                expires_at: None,
                chunks: None,
                release_notes: None,
            };
            let manifest = publish(&opts, &key).unwrap();
            let bytes = manifest.to_pretty_json();
            let tool = site.join("api/v1/tools").join(TOOL);
            write(&tool.join(version).join("manifest.json"), bytes.as_bytes());
            if version == NEW {
                write(&tool.join("latest/manifest.json"), bytes.as_bytes());
            }
            for f in &manifest.files {
                let blob = site.join("api/v1/blobs/sha256").join(&f.sha256);
                write(&blob, &std::fs::read(dir.join(&f.path)).unwrap());
            }
        }
        let server = StaticServer::start(site);
        let trees = BTreeMap::from([(OLD, v1), (NEW, v2)]);
        Self {
            tmp,
            key,
            server,
            trees,
        }
    }

    fn engine(&self, root: &Path) -> Engine {
        let mut config = EngineConfig::new(root);
        config.mirrors = vec![self.server.url()];
        let mut trust = TrustStore::new();
        trust.add(self.key.verifying_key());
        config.trust = trust;
        // Prune every inactive release, so the prune path runs too.
        config.keep_releases = 0;
        config.retries = 0;
        Engine::new(config).unwrap()
    }

    fn update(&self, root: &Path, version: Option<&str>) -> Result<(), UpdateError> {
        let engine = self.engine(root);
        let opts = UpdateOptions {
            version: version.map(str::to_owned),
            allow_downgrade: false,
            ..UpdateOptions::default()
        };
        runtime()
            .block_on(engine.update(TOOL, &opts, &NullReporter, &CancellationToken::new()))
            .map(drop)
    }

    /// A copy of an install root with the old release active.
    fn old_root(&self, pristine: &Path, name: &str) -> PathBuf {
        let root = self.tmp.path().join(name);
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(pristine)
            .arg(&root)
            .status()
            .unwrap();
        assert!(status.success());
        root
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(dir).unwrap().to_owned();
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    out
}

/// The version `current` names; panics unless it is old or new, is exactly
/// that tree, and verifies.
fn assert_old_or_new(world: &World, root: &Path, context: &str) -> &'static str {
    let link = root.join("tools").join(TOOL).join("current");
    let target = std::fs::read_link(&link).unwrap_or_else(|e| panic!("{context}: {e}"));
    let version = match target.to_str() {
        Some("releases/1.0.0") => OLD,
        Some("releases/2.0.0") => NEW,
        other => panic!("{context}: current -> {other:?}"),
    };
    assert_eq!(
        files_under(&link),
        files_under(&world.trees[version]),
        "{context}: current/ is not exactly {version}"
    );
    let report = runtime()
        .block_on(world.engine(root).verify(TOOL, &NullReporter))
        .unwrap();
    assert!(report.ok, "{context}: verify failed: {report:?}");
    version
}

/// Temporary names left in the root (resume data in objects/partial excluded).
fn leftovers(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let staging = root.join("tools").join(TOOL).join("staging");
    if let Ok(entries) = std::fs::read_dir(&staging) {
        out.extend(entries.map(|e| e.unwrap().path()));
    }
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
            if name.contains(".tmp") {
                out.push(entry.path());
            }
        }
    }
    out
}

fn hit_counts(world: &World, pristine: &Path) -> BTreeMap<&'static str, usize> {
    let counters: Vec<(&'static str, Arc<AtomicUsize>)> = FAIL_POINTS
        .iter()
        .map(|name| {
            let n = Arc::new(AtomicUsize::new(0));
            let c = n.clone();
            fail::cfg_callback(*name, move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
            (*name, n)
        })
        .collect();
    let root = world.old_root(pristine, "count");
    world.update(&root, None).expect("an update without faults");
    for name in FAIL_POINTS {
        fail::remove(*name);
    }
    assert_eq!(assert_old_or_new(world, &root, "count"), NEW);
    counters
        .into_iter()
        .map(|(name, n)| (name, n.load(Ordering::SeqCst)))
        .collect()
}

/// Which hits of a fail point to fail at: all of few, else a spread.
fn sample(hits: usize) -> Vec<usize> {
    if hits <= 6 {
        return (0..hits).collect();
    }
    let mut s = vec![0, 1, 2, hits / 2, hits - 2, hits - 1];
    s.dedup();
    s
}

#[test]
fn a_fault_at_every_write_fsync_rename_and_delete_leaves_old_or_new_and_the_next_run_converges() {
    let scenario = fail::FailScenario::setup();
    let world = World::new();
    let pristine = world.tmp.path().join("pristine");
    world.update(&pristine, Some(OLD)).unwrap();
    assert_eq!(assert_old_or_new(&world, &pristine, "pristine"), OLD);

    let hits = hit_counts(&world, &pristine);
    for (name, n) in &hits {
        assert!(
            *n > 0,
            "an update never reaches fail point {name}: {hits:?}"
        );
    }

    let mut runs = 0;
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, n) in &hits {
        for at in sample(*n) {
            runs += 1;
            let context = format!("{name} at hit {at} of {n}");
            let root = world.old_root(&pristine, &format!("r{runs}"));
            fail::cfg(*name, &format!("{at}*off->1*return->off")).unwrap();
            let result = world.update(&root, None);
            fail::remove(*name);
            let active = assert_old_or_new(&world, &root, &context);
            let outcome = if let Err(e) = &result {
                let message = e.to_string();
                assert!(
                    message.contains(&format!("fail point {name}")),
                    "{context}: the cause does not reach the caller: {message}"
                );
                assert!(message.contains(TOOL), "{context}: {message}");
                // CONTRACT §3: a failed update leaves `current` as it was.
                assert_eq!(
                    active, OLD,
                    "{context}: failed, yet the new release is active: {message}"
                );
                "failed, old release active"
            } else {
                assert_eq!(active, NEW, "{context}: success but old active");
                "succeeded (fault past the commit point, logged)"
            };
            *outcomes.entry(outcome).or_default() += 1;
            if active == OLD {
                let kept = root.join("tools").join(TOOL).join("releases").join(OLD);
                assert_eq!(
                    files_under(&kept),
                    files_under(&world.trees[OLD]),
                    "{context}"
                );
            }
            assert!(
                leftovers(&root).is_empty(),
                "{context}: left {:?}",
                leftovers(&root)
            );
            world
                .update(&root, None)
                .unwrap_or_else(|e| panic!("{context}: the next run failed: {e}"));
            assert_eq!(assert_old_or_new(&world, &root, &context), NEW);
            assert!(
                leftovers(&root).is_empty(),
                "{context}: left {:?}",
                leftovers(&root)
            );
            std::fs::remove_dir_all(&root).unwrap();
        }
    }
    eprintln!(
        "fault matrix failpoints: {runs} injected faults over {} fail points: {outcomes:?}",
        hits.len()
    );
    scenario.teardown();
}

#[test]
fn a_full_disk_during_the_download_fails_before_activation_saying_needed_and_free() {
    let scenario = fail::FailScenario::setup();
    let world = World::new();
    let root = world.tmp.path().join("root");
    world.update(&root, Some(OLD)).unwrap();
    // The free-space check passed; then the disk fills up mid-download.
    fail::cfg("fetch::write", "1*return(enospc)").unwrap();
    let err = world
        .update(&root, None)
        .expect_err("a full disk must fail the update");
    fail::remove("fetch::write");
    assert_eq!(err.kind(), "disk_full", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("bytes needed") && message.contains("bytes free"),
        "{message}"
    );
    assert_eq!(assert_old_or_new(&world, &root, "enospc"), OLD);
    assert!(leftovers(&root).is_empty(), "{:?}", leftovers(&root));
    world.update(&root, None).unwrap();
    assert_eq!(assert_old_or_new(&world, &root, "after enospc"), NEW);
    scenario.teardown();
}
