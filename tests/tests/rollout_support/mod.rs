//! A small fleet for the rollout tests: HQ's key, tool versions published
//! with the real `tooldelta publish`, a real `tooldelta-mirror serve` on
//! 127.0.0.1, channel documents written by `tooldelta channel set` and
//! loaded by `tooldelta-mirror import-channel`, and workstation roots.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tooldelta_testkit::{ChildGuard, CmdOutput, TestKeys, ToolTree, bin_path, run};

/// The tool every rollout test ships.
pub const TOOL: &str = "fleet-tool";

/// HQ, its mirror and a scratch folder.
pub struct Fleet {
    pub tmp: tempfile::TempDir,
    pub keys: TestKeys,
    pub store: PathBuf,
    pub url: String,
    _mirror: ChildGuard,
}

impl Fleet {
    /// Starts the mirror on a free port of 127.0.0.1.
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        std::fs::create_dir_all(&store).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mirror = ChildGuard::spawn(
            Command::new(bin_path("tooldelta-mirror"))
                .args(["serve", "--store", s(&store), "--listen"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["--refresh-secs", "0"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(port, "/healthz").0 != 200 {
            assert!(Instant::now() < deadline, "the mirror did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            tmp,
            keys: TestKeys::new(),
            store,
            url: format!("http://127.0.0.1:{port}"),
            _mirror: mirror,
        }
    }

    /// A path in the scratch folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Publishes `version` of `tool` (one script naming the version, plus
    /// `extra` files) with the real CLI and imports it into the mirror.
    pub fn publish(&self, tool: &str, version: &str, notes: Option<&str>) -> PathBuf {
        let tree = ToolTree::new(self.path(&format!("trees/{tool}/{version}")));
        tree.text("run.sh", &format!("echo {tool} {version}\n"))
            .text("lib/common.txt", "shared by every version\n");
        let out = self.path(&format!("{tool}-{version}.json"));
        let mut args = vec![
            "publish".to_owned(),
            "--tool-dir".into(),
            s(tree.root()).into(),
            "--tool-id".into(),
            tool.into(),
            "--version".into(),
            version.into(),
            "--key".into(),
            s(&self.keys.secret_pem()).into(),
            "--out".into(),
            s(&out).into(),
        ];
        if let Some(notes) = notes {
            let file = self.path(&format!("{tool}-{version}.notes.md"));
            std::fs::write(&file, notes).unwrap();
            args.extend(["--notes".into(), s(&file).into()]);
        }
        tooldelta(&args).assert_success();
        mirror(&[
            "import",
            "--store",
            s(&self.store),
            "--manifest",
            s(&out),
            "--tool-dir",
            s(tree.root()),
        ])
        .assert_success();
        out
    }

    /// `tooldelta channel set … --key HQ --out FILE` with `args`; returns the file.
    pub fn channel_file(&self, name: &str, args: &[&str]) -> PathBuf {
        let out = self.path(&format!("{name}.channel.json"));
        let mut all = vec!["channel", "set"];
        all.extend_from_slice(args);
        let key = self.keys.secret_pem();
        all.extend(["--key", s(&key), "--out", s(&out)]);
        tooldelta_str(&all).assert_success();
        out
    }

    /// Loads a channel file with `tooldelta-mirror import-channel --trust HQ`.
    pub fn import_channel(&self, file: &Path) -> CmdOutput {
        let trust = self.keys.public_pem();
        mirror(&[
            "import-channel",
            "--store",
            s(&self.store),
            "--channel",
            s(file),
            "--trust",
            s(&trust),
        ])
    }

    /// `channel set` then `import-channel`, both succeeding.
    pub fn set_channel(&self, name: &str, args: &[&str]) {
        let file = self.channel_file(name, args);
        self.import_channel(&file).assert_success();
    }

    /// Where the mirror keeps (and serves) the tool's channel document: a
    /// hostile mirror writes anything here.
    pub fn served_channel(&self, tool: &str, channel: &str) -> PathBuf {
        self.store
            .join("tools")
            .join(tool)
            .join("channels")
            .join(format!("{channel}.json"))
    }

    /// `tooldelta update` of `tool` on `root` as workstation `ws`, with `extra`.
    pub fn update(&self, root: &Path, ws: &str, extra: &[&str]) -> CmdOutput {
        let trust = self.keys.public_pem();
        let mut args = vec![
            "update",
            TOOL,
            "--mirror",
            &self.url,
            "--root",
            s(root),
            "--trust",
            s(&trust),
            "--workstation-id",
            ws,
            "--json",
        ];
        args.extend_from_slice(extra);
        tooldelta_str(&args)
    }

    /// `tooldelta status --json` with the mirror and HQ's key.
    pub fn status(&self, root: &Path, ws: &str) -> Value {
        let trust = self.keys.public_pem();
        tooldelta_str(&[
            "status",
            "--mirror",
            &self.url,
            "--root",
            s(root),
            "--trust",
            s(&trust),
            "--workstation-id",
            ws,
            "--json",
        ])
        .assert_success()
        .json()
    }

    /// `GET path` on the mirror: status, content type, body.
    pub fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        let port = self.url.rsplit(':').next().unwrap().parse().unwrap();
        get(port, path)
    }
}

/// The version `current` points at, or `None`.
pub fn active(root: &Path, tool: &str) -> Option<String> {
    let link = root.join("tools").join(tool).join("current");
    let target = std::fs::read_link(link).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// The activations recorded for a tool.
pub fn activations(root: &Path, tool: &str) -> usize {
    let path = root.join("tools").join(tool).join("state.json");
    let state: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    state["history"].as_array().map_or(0, Vec::len)
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn tooldelta(args: &[String]) -> CmdOutput {
    run(Command::new(bin_path("tooldelta")).args(args))
}

pub fn tooldelta_str(args: &[&str]) -> CmdOutput {
    run(Command::new(bin_path("tooldelta")).args(args))
}

pub fn mirror(args: &[&str]) -> CmdOutput {
    run(Command::new(bin_path("tooldelta-mirror")).args(args))
}

/// One raw `GET` (no client normalization); reads until the server closes.
fn get(port: u16, path: &str) -> (u16, String, Vec<u8>) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), Vec::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new(), Vec::new());
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, String::new(), Vec::new());
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, raw[split + 4..].to_vec())
}
