//! The real mirror (`tooldelta-mirror serve`) on 127.0.0.1, loaded with
//! `tooldelta publish` + `tooldelta-mirror import` as HQ does.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tooldelta_core::manifest::Manifest;
use tooldelta_testkit::{ChildGuard, TestKeys, ToolTree, bin_path, run};

/// A running `tooldelta-mirror serve` over its own store.
pub struct RealMirror {
    child: ChildGuard,
    port: u16,
    store: PathBuf,
}

impl RealMirror {
    /// Starts the mirror over `store` (created) and waits for `/healthz`.
    pub fn start(store: &Path) -> Self {
        Self::start_with(store, &[])
    }

    /// [`RealMirror::start`] with more `serve` arguments (`--upstream URL`, …).
    pub fn start_with(store: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(store.join("blobs")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = ChildGuard::spawn(
            Command::new(bin_path("tooldelta-mirror"))
                .args(["serve", "--store"])
                .arg(store)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(port, "/healthz").is_none_or(|(status, _)| status != 200) {
            assert!(
                Instant::now() < deadline,
                "the mirror did not come up on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            store: store.to_owned(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server (its port then refuses connections).
    pub fn stop(mut self) {
        self.child.kill();
    }

    /// Publishes `tree` with the `tooldelta` CLI and imports it into the store.
    pub fn publish(
        &self,
        tree: &ToolTree,
        tool_id: &str,
        version: &str,
        keys: &TestKeys,
    ) -> Manifest {
        let out = self
            .store
            .with_file_name(format!("{tool_id}-{version}.json"));
        run(Command::new(bin_path("tooldelta"))
            .args(["publish", "--tool-dir"])
            .arg(tree.root())
            .args(["--tool-id", tool_id, "--version", version, "--key"])
            .arg(keys.secret_pem())
            .arg("--out")
            .arg(&out))
        .assert_success();
        run(Command::new(bin_path("tooldelta-mirror"))
            .args(["import", "--store"])
            .arg(&self.store)
            .arg("--manifest")
            .arg(&out)
            .arg("--tool-dir")
            .arg(tree.root()))
        .assert_success();
        Manifest::parse(&std::fs::read(&out).unwrap())
            .unwrap()
            .manifest
    }

    /// GETs answered on the blob route so far (from `/metrics`).
    pub fn blob_gets(&self) -> u64 {
        let (_, text) = get(self.port, "/metrics").expect("the mirror answers /metrics");
        text.lines()
            .filter(|l| {
                l.starts_with("tooldelta_mirror_requests_total")
                    && l.contains("/api/v1/blobs/sha256/{hex}")
                    && l.contains("GET")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

/// A raw `GET` on 127.0.0.1:`port`: `(status, body)`, `None` if nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}
