//! Helpers of the chunk-delta tests: real GGUF files (llama.cpp's gguf-py),
//! a publisher with chunk indexes, a store, clients running the real CLI,
//! and the servers' own byte counts (the mirror's /metrics, nginx's log).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Publisher;
use super::nginx::Nginx;
use tooldelta_core::manifest::Manifest;
use tooldelta_mirror::{ImportOptions, MirrorThread, ServeOptions, Store};

pub use super::process::workspace_bin;

pub const MIB: u64 = 1 << 20;
pub const TOOL: &str = "llm";
pub const NEW_TEMPLATE: &str = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn check(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A GGUF file written by gguf-py (`fixtures/make_gguf.py`).
pub fn make_gguf(out: &Path, mib: u64, tensors: u32, extra: &[&str]) {
    check(
        Command::new("python3")
            .arg(fixtures().join("make_gguf.py"))
            .arg(out)
            .args([
                "--tensor-mib",
                &mib.to_string(),
                "--tensors",
                &tensors.to_string(),
            ])
            .args(extra),
        "make_gguf.py (needs `pip install -r scripts/requirements-test.txt`)",
    );
}

/// gguf-py's `gguf-new-metadata`, as a model hub runs it.
pub fn new_metadata(input: &Path, output: &Path, args: &[&str]) {
    check(
        Command::new("gguf-new-metadata")
            .args(["--force"])
            .args(args)
            .arg(input)
            .arg(output),
        "gguf-new-metadata",
    );
}

/// A tool folder holding `model` (hardlinked) and a script.
pub fn tree(dir: &Path, model: &Path, script: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::hard_link(model, dir.join("model.gguf")).unwrap();
    std::fs::write(dir.join("run.sh"), script).unwrap();
    dir.to_owned()
}

pub struct Client {
    pub root: PathBuf,
    pub trust: PathBuf,
}

impl Client {
    pub fn update(&self, mirrors: &[String], version: Option<&str>) -> serde_json::Value {
        let mut cmd = Command::new(workspace_bin("tooldelta"));
        cmd.args(["update", TOOL, "--json", "--root"])
            .arg(&self.root);
        cmd.arg("--trust").arg(&self.trust);
        for m in mirrors {
            cmd.args(["--mirror", m]);
        }
        if let Some(v) = version {
            cmd.args(["--version", v]);
        }
        serde_json::from_slice(&check(&mut cmd, "tooldelta update").stdout).unwrap()
    }

    pub fn update_fails(&self, mirrors: &[String]) -> String {
        let mut cmd = Command::new(workspace_bin("tooldelta"));
        cmd.args(["update", TOOL, "--root"]).arg(&self.root);
        cmd.arg("--trust").arg(&self.trust);
        for m in mirrors {
            cmd.args(["--mirror", m]);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "the update should have been refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `tooldelta repair --json` with the mirrors.
    pub fn repair(&self, mirrors: &[String]) -> serde_json::Value {
        let mut cmd = Command::new(workspace_bin("tooldelta"));
        cmd.args(["repair", TOOL, "--json", "--root"])
            .arg(&self.root);
        cmd.arg("--trust").arg(&self.trust);
        for m in mirrors {
            cmd.args(["--mirror", m]);
        }
        serde_json::from_slice(&check(&mut cmd, "tooldelta repair").stdout).unwrap()
    }

    /// `tooldelta status --json` with the mirrors: the one tool's entry.
    pub fn status(&self, mirrors: &[String]) -> serde_json::Value {
        let mut cmd = Command::new(workspace_bin("tooldelta"));
        cmd.args(["status", "--json", "--root"]).arg(&self.root);
        cmd.arg("--trust").arg(&self.trust);
        for m in mirrors {
            cmd.args(["--mirror", m]);
        }
        let out: serde_json::Value =
            serde_json::from_slice(&check(&mut cmd, "tooldelta status").stdout).unwrap();
        out["tools"][0].clone()
    }

    pub fn current(&self) -> PathBuf {
        self.root.join("tools").join(TOOL).join("current")
    }

    /// `current/` holds exactly the tree's files, and `tooldelta verify` agrees.
    pub fn assert_installed(&self, tree: &Path) {
        for name in ["model.gguf", "run.sh"] {
            assert_eq!(
                file_sha(&self.current().join(name)),
                file_sha(&tree.join(name)),
                "{name} differs from the published tree"
            );
        }
        let entries = std::fs::read_dir(self.current()).unwrap().count();
        assert_eq!(entries, 2, "nothing but the manifest's files");
        let mut cmd = Command::new(workspace_bin("tooldelta"));
        cmd.args(["verify", TOOL, "--json", "--root"])
            .arg(&self.root);
        let report: serde_json::Value =
            serde_json::from_slice(&check(&mut cmd, "verify").stdout).unwrap();
        assert_eq!(report["ok"], true, "{report}");
    }
}

pub fn file_sha(path: &Path) -> String {
    tooldelta_core::hash::hash_file(path).unwrap().sha256
}

/// `(bytes served, requests)` from the mirror's `/metrics`.
pub fn served(url: &str) -> (u64, u64) {
    let text = http::get(&format!("{url}/metrics"));
    let mut bytes = 0;
    let mut requests = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap_or(0.0);
        if line.starts_with("tooldelta_mirror_bytes_served_total") {
            bytes += value as u64;
        } else if line.starts_with("tooldelta_mirror_requests_total") {
            requests += value as u64;
        }
    }
    (bytes, requests)
}

/// `(body bytes, requests)` logged by nginx after line `from`.
pub fn logged(nginx: &Nginx, from: usize) -> (u64, u64, usize) {
    let log = nginx.access_log();
    let lines: Vec<&str> = log.lines().collect();
    let mut bytes = 0;
    for line in &lines[from..] {
        // `... "GET /x HTTP/1.1" 206 12345 "-" "ua"`
        let after = line.splitn(3, '"').nth(2).unwrap_or("");
        let mut fields = after.split_whitespace();
        let _status = fields.next();
        bytes += fields
            .next()
            .and_then(|b| b.parse::<u64>().ok())
            .unwrap_or(0);
    }
    (bytes, (lines.len() - from) as u64, lines.len())
}

mod http {
    /// A tiny blocking GET over a raw socket (the metrics page is small).
    pub fn get(url: &str) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = std::net::TcpStream::connect(host).unwrap();
        write!(
            s,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }
}

pub struct World {
    pub work: tempfile::TempDir,
    pub hq: Publisher,
    pub store: Store,
}

impl World {
    pub fn new() -> Self {
        let work = tempfile::tempdir().unwrap();
        let store = Store::open(&work.path().join("store")).unwrap();
        Self {
            hq: Publisher::new(11),
            work,
            store,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// Publishes `tree` with chunk indexes (files ≥ 16 MiB) and imports it.
    pub fn publish(&self, tree: &Path, version: &str) -> Manifest {
        let published = self.hq.publish_dir(tree, TOOL, version, 16 * MIB);
        let opts = ImportOptions {
            trust: self.hq.trust(),
            replace: false,
            chunks_dir: None,
        };
        let report = self
            .store
            .import_file(&published.manifest, tree, &opts)
            .unwrap();
        assert_eq!(report.indexes_added, 1, "the model's index is stored");
        Manifest::parse(&published.manifest_bytes).unwrap().manifest
    }

    pub fn client(&self, name: &str) -> Client {
        Client {
            root: self.path(name),
            trust: self.hq.public_pem.clone(),
        }
    }

    pub fn serve(&self) -> MirrorThread {
        MirrorThread::start(ServeOptions::new(self.store.root())).unwrap()
    }
}
