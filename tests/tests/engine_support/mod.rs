//! Shared set-up of the engine's end-to-end tests: a static mirror served by
//! the testkit's fault server, TEST ONLY keys, an install root, and the real
//! `tooldelta` binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;
use tooldelta_core::hash::hash_file;
use tooldelta_core::manifest::Manifest;
use tooldelta_testkit::{CmdOutput, FaultServer, StaticMirror, TestKeys, ToolTree, bin_path, run};

/// The tool every scenario installs.
pub const TOOL: &str = "demo-tool";

/// One test's world.
pub struct World {
    pub tmp: TempDir,
    pub keys: TestKeys,
    pub mirror: StaticMirror,
    pub server: FaultServer,
    pub root: PathBuf,
}

impl World {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mirror = StaticMirror::new(tmp.path().join("mirror"));
        let server = FaultServer::serve_dir(mirror.root());
        let root = tmp.path().join("root");
        Self {
            keys: TestKeys::new(),
            mirror,
            server,
            root,
            tmp,
        }
    }

    /// A tool folder under the test's temp dir.
    pub fn tree(&self, name: &str) -> ToolTree {
        ToolTree::new(self.tmp.path().join("trees").join(name))
    }

    /// Publishes `tree` as `TOOL` `version` with the trusted key (it becomes latest).
    pub fn publish(&mut self, tree: &ToolTree, version: &str) -> Manifest {
        self.mirror
            .publish(tree.root(), TOOL, version, self.keys.signing_key())
    }

    /// `tooldelta ARGS...` with nothing added.
    #[allow(clippy::unused_self)] // a method so every call reads `world.…`
    pub fn raw(&self, args: &[&str]) -> CmdOutput {
        run(Command::new(bin_path("tooldelta"))
            .args(args)
            .env_remove("TOOLDELTA_ROOT")
            .env_remove("TOOLDELTA_MIRROR")
            .env_remove("TOOLDELTA_TRUST")
            .env_remove("TOOLDELTA_CONFIG"))
    }

    /// `--root R --mirror M --trust K` in front of `extra`.
    pub fn with_target<'a>(&'a self, cmd: &'a str, extra: &[&'a str]) -> Vec<String> {
        let mut args = vec![
            cmd.to_owned(),
            "--root".into(),
            self.root.display().to_string(),
            "--mirror".into(),
            self.server.url(),
            "--trust".into(),
            self.keys.public_pem().display().to_string(),
            "--json".into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    }

    /// `tooldelta update TOOL --json` plus `extra`.
    pub fn update(&self, extra: &[&str]) -> CmdOutput {
        let mut args = vec![TOOL];
        args.extend_from_slice(extra);
        let args = self.with_target("update", &args);
        self.raw(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `tooldelta repair TOOL --json`.
    pub fn repair(&self) -> CmdOutput {
        let args = self.with_target("repair", &[TOOL]);
        self.raw(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `tooldelta verify TOOL --root R --json`.
    pub fn verify(&self) -> CmdOutput {
        let root = self.root.display().to_string();
        self.raw(&["verify", TOOL, "--root", &root, "--json"])
    }

    /// `tooldelta rollback TOOL --root R --json`.
    pub fn rollback(&self) -> CmdOutput {
        let root = self.root.display().to_string();
        self.raw(&["rollback", TOOL, "--root", &root, "--json"])
    }

    /// `tooldelta status --root R --json` (no mirror).
    pub fn status(&self) -> CmdOutput {
        let root = self.root.display().to_string();
        self.raw(&["status", "--root", &root, "--json"])
    }

    pub fn current(&self) -> PathBuf {
        self.root.join("tools").join(TOOL).join("current")
    }

    /// Where `current` points (`releases/<version>`), if anywhere.
    pub fn current_target(&self) -> Option<PathBuf> {
        std::fs::read_link(self.current()).ok()
    }

    pub fn release(&self, version: &str) -> PathBuf {
        self.root
            .join("tools")
            .join(TOOL)
            .join("releases")
            .join(version)
    }

    /// The partial-download folder of the store.
    pub fn partial_dir(&self) -> PathBuf {
        self.root.join("objects/partial")
    }
}

/// Every regular file under `dir` (relative path -> SHA-256), symlinks reported.
pub fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let base = dir.canonicalize().unwrap();
    for entry in walk(&base) {
        let rel = entry
            .strip_prefix(&base)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        let value = if meta.file_type().is_symlink() {
            "symlink".to_owned()
        } else {
            hash_file(&entry).unwrap().sha256
        };
        out.insert(rel, value);
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Asserts that `current/` holds exactly the files of `tree`.
#[track_caller]
pub fn assert_same_tree(current: &Path, tree: &ToolTree) {
    assert_eq!(
        snapshot(current),
        snapshot(tree.root()),
        "current/ differs from the published tree"
    );
}

pub fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

/// The size of each file of a manifest, by path.
pub fn sizes(m: &Manifest) -> BTreeMap<String, u64> {
    m.files.iter().map(|f| (f.path.clone(), f.size)).collect()
}

/// SHA-256 of a path in a manifest.
pub fn sha(m: &Manifest, path: &str) -> String {
    m.file(path).unwrap().sha256.clone()
}
pub mod real_mirror;
