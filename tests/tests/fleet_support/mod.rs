//! Fleet and disk tests with the real binaries: `tooldelta-mirror serve`
//! processes (HQ, a site pulling through from it) on 127.0.0.1, tools
//! published and imported with the real CLI, and workstation roots driven
//! by real `tooldelta` processes.

#![allow(dead_code)] // each test file uses its own part

pub mod http;
pub mod webdriver;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tooldelta_testkit::{ChildGuard, CmdOutput, TestKeys, ToolTree, bin_path, run};

/// The tool the fleet tests install.
pub const TOOL: &str = "fleet-tool";

/// A running mirror.
pub struct Mirror {
    pub store: PathBuf,
    pub url: String,
    pub port: u16,
    _child: ChildGuard,
}

impl Mirror {
    /// `tooldelta-mirror serve --store STORE` on a free port with `extra`.
    pub fn start(store: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(store).unwrap();
        let port = free_port();
        let log = std::fs::File::create(store.with_extension("log")).unwrap();
        let child = ChildGuard::spawn(
            Command::new(bin_path("tooldelta-mirror"))
                .args(["serve", "--store", s(store), "--listen"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["--refresh-secs", "0"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(log),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while http::get(port, "/healthz").status != 200 {
            assert!(Instant::now() < deadline, "the mirror did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            store: store.to_owned(),
            url: format!("http://127.0.0.1:{port}"),
            port,
            _child: child,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> http::Reply {
        http::get(self.port, path)
    }

    /// `GET path` as JSON (asserting 200).
    pub fn json(&self, path: &str) -> Value {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        serde_json::from_slice(&reply.body).unwrap()
    }

    /// The value of one sample of `/metrics` (`name{labels}` as written), or `None`.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        let text = self.get("/metrics").text();
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    /// Waits until `f` holds (a bound against hangs, never a measurement).
    pub fn wait_for(&self, what: &str, mut f: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// HQ's key, published trees and a scratch folder.
pub struct Hq {
    pub tmp: tempfile::TempDir,
    pub keys: TestKeys,
}

impl Hq {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
            keys: TestKeys::new(),
        }
    }

    /// A path in the scratch folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Publishes `version` of `tool` (a script naming it, a file shared by
    /// every version, and `extra` random bytes unique to the version) and
    /// imports it into `store`.
    pub fn publish(&self, store: &Path, tool: &str, version: &str, extra: u64) -> PathBuf {
        let tree = ToolTree::new(self.path(&format!("trees/{tool}/{version}")));
        tree.text("run.sh", &format!("echo {tool} {version}\n"))
            .text("lib/common.txt", "shared by every version and tool\n");
        if extra > 0 {
            let seed = format!("{tool}@{version}")
                .bytes()
                .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            tree.random("model.bin", extra, seed);
        }
        let out = self.path(&format!("{tool}-{version}.json"));
        tooldelta(&[
            "publish",
            "--tool-dir",
            s(tree.root()),
            "--tool-id",
            tool,
            "--version",
            version,
            "--key",
            s(&self.keys.secret_pem()),
            "--out",
            s(&out),
        ])
        .assert_success();
        mirror_cli(&[
            "import",
            "--store",
            s(store),
            "--manifest",
            s(&out),
            "--tool-dir",
            s(tree.root()),
        ])
        .assert_success();
        out
    }

    /// `tooldelta update TOOL` on `root` from `mirror`, with `extra`.
    pub fn update(&self, root: &Path, mirror: &str, tool: &str, extra: &[&str]) -> CmdOutput {
        let trust = self.keys.public_pem();
        let mut args = vec![
            "update",
            tool,
            "--mirror",
            mirror,
            "--root",
            s(root),
            "--trust",
            s(&trust),
            "--json",
        ];
        args.extend_from_slice(extra);
        tooldelta(&args)
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn tooldelta(args: &[&str]) -> CmdOutput {
    run(Command::new(bin_path("tooldelta")).args(args))
}

pub fn mirror_cli(args: &[&str]) -> CmdOutput {
    run(Command::new(bin_path("tooldelta-mirror")).args(args))
}

/// Runs `jobs` in parallel batches of `width` (real processes each).
pub fn in_batches<T: Send>(jobs: Vec<T>, width: usize, f: impl Fn(T) + Sync) {
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let batch: Vec<T> = jobs.by_ref().take(width).collect();
        std::thread::scope(|scope| {
            for job in batch {
                scope.spawn(|| f(job));
            }
        });
    }
}
