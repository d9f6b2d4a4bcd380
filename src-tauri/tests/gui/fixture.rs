//! A real mirror on 127.0.0.1 seeded with the `demo-tool` fixture, and a
//! workstation root with one version installed by the engine.

use std::path::{Path, PathBuf};
use std::process::Command;

use tooldelta_core::engine::{CancellationToken, Engine, EngineConfig, UpdateOptions};
use tooldelta_core::events::NullReporter;
use tooldelta_core::signing::TrustStore;

use crate::procs::{Proc, free_port, wait_for_port};

pub const TOOL: &str = "demo-tool";
/// A model file shared by every version: what a delta update saves.
const MODEL_BYTES: usize = 6 * 1024 * 1024;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `bin` finds the workspace binaries when set (the package test:
/// `/usr/bin`, the installed packages').
pub static BIN_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// `target/debug`, where the workspace binaries are (or `BIN_DIR`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = BIN_DIR.get() {
        return dir.clone();
    }
    let exe = std::env::current_exe().expect("test exe");
    // target/debug/deps/gui-<hash> → target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned()
}

pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} missing: build it first (`make test-gui` does)",
        path.display()
    );
    path
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub mirror_url: String,
    pub mirror_port: u16,
    pub root: PathBuf,
    pub trust: PathBuf,
    pub store: PathBuf,
    _mirror: Proc,
}

/// Publishes `version` of `tool` from `tree` signed with `secret`, and
/// imports it into the mirror's `store` (which checks it against `trust`).
pub fn publish(
    work: &Path,
    store: &Path,
    tool: &str,
    version: &str,
    tree: &Path,
    secret: &Path,
    trust: &Path,
) {
    let manifest = work.join(format!("{tool}-{version}.json"));
    run(Command::new(bin("tooldelta"))
        .args(["publish", "--tool-id", tool, "--version", version])
        .arg("--tool-dir")
        .arg(tree)
        .arg("--key")
        .arg(secret)
        .arg("--out")
        .arg(&manifest));
    run(Command::new(bin("tooldelta-mirror"))
        .arg("import")
        .arg("--store")
        .arg(store)
        .arg("--manifest")
        .arg(&manifest)
        .arg("--tool-dir")
        .arg(tree)
        .arg("--trust")
        .arg(trust));
}

/// A `tooldelta-mirror serve` of `store` on a free port (log in `work`).
pub fn serve(store: &Path, work: &Path) -> (Proc, u16) {
    let port = free_port();
    let log = std::fs::File::create(work.join("mirror.log")).expect("log");
    let mut mirror = Proc::spawn(
        "tooldelta-mirror",
        Command::new(bin("tooldelta-mirror"))
            .arg("serve")
            .arg("--store")
            .arg(store)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(log.try_clone().expect("log"))
            .stderr(log),
    );
    wait_for_port(&mut mirror, port);
    (mirror, port)
}

impl Fixture {
    /// Publishes `versions` of the demo tool, serves them, installs `installed`.
    pub async fn new(versions: &[&str], installed: &str) -> Fixture {
        Self::with_new_file(versions, installed, 0).await
    }

    /// Same, with a file of `new_bytes` that only the last version has.
    pub async fn with_new_file(versions: &[&str], installed: &str, new_bytes: usize) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("store");
        let trust = repo().join("fixtures/keys/test-only.public.pem");
        let secret = repo().join("fixtures/keys/test-only.secret.pem");
        let model: Vec<u8> = (0..MODEL_BYTES).map(|i| (i * 31 % 251) as u8).collect();
        for v in versions {
            let tree = tree_dir(dir.path(), v);
            copy_tree(&repo().join("fixtures/demo-tool").join(v), &tree);
            std::fs::write(tree.join("models/base-Q4_K_M.gguf"), &model).expect("model");
            if new_bytes > 0 && Some(v) == versions.last() {
                let lora: Vec<u8> = (0..new_bytes).map(|i| (i * 7 % 253) as u8).collect();
                std::fs::write(tree.join("models/lora.gguf"), lora).expect("new file");
            }
            publish(dir.path(), &store, TOOL, v, &tree, &secret, &trust);
        }
        let (mirror, port) = serve(&store, dir.path());
        let fixture = Fixture {
            root: dir.path().join("root"),
            mirror_url: format!("http://127.0.0.1:{port}"),
            mirror_port: port,
            trust,
            store,
            dir,
            _mirror: mirror,
        };
        let report = fixture
            .engine()
            .update(
                TOOL,
                &UpdateOptions {
                    version: Some(installed.to_owned()),
                    ..UpdateOptions::default()
                },
                &NullReporter,
                &CancellationToken::new(),
            )
            .await
            .expect("install the old version");
        assert_eq!(report.to_version, installed);
        fixture
    }

    pub fn engine(&self) -> Engine {
        let mut config = EngineConfig::new(&self.root);
        config.mirrors = vec![self.mirror_url.clone()];
        config.trust = TrustStore::from_pem_files(&[&self.trust]).expect("trust");
        Engine::new(config).expect("engine")
    }

    /// The environment of the acceptance checks, plus an isolated settings file.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TOOLDELTA_ROOT", self.root.display().to_string()),
            ("TOOLDELTA_MIRROR", self.mirror_url.clone()),
            ("TOOLDELTA_TRUST", self.trust.display().to_string()),
            (
                "TOOLDELTA_CONFIG",
                self.dir.path().join("config.toml").display().to_string(),
            ),
            ("HOME", self.dir.path().join("home").display().to_string()),
        ]
    }

    pub fn current(&self) -> PathBuf {
        self.root.join("tools").join(TOOL).join("current")
    }

    pub fn tree(&self, version: &str) -> PathBuf {
        tree_dir(self.dir.path(), version)
    }
}

fn tree_dir(base: &Path, version: &str) -> PathBuf {
    base.join("trees").join(version)
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk fixture");
        let rel = entry.path().strip_prefix(from).expect("prefix");
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
    std::fs::create_dir_all(to.join("models")).expect("models dir");
}

/// Every regular file under `dir`, relative path → bytes, sorted.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).expect("prefix");
            (
                rel.display().to_string(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    out.sort();
    out
}
