//! Shared world of the fault, attack, crash and concurrency tests: a tool in
//! two versions published to a static mirror, install roots inside a watched
//! folder, the `tooldelta` binary, and the checks every test repeats
//! ("`current/` is exactly old or new and verifies", "nothing outside the
//! root changed").
//!
//! Each test file includes this module (`mod fault_support;`) and uses what
//! it needs, hence the `dead_code` allowance.

#![allow(dead_code)]

mod tmpfs;

#[allow(unused_imports)] // used by the full-disk tests only
pub use tmpfs::Tmpfs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tooldelta_testkit::{CmdOutput, FaultServer, StaticMirror, TestKeys, ToolTree, bin_path};

/// The tool every test installs.
pub const TOOL: &str = "demo";
/// The version installed first.
pub const OLD: &str = "1.0.0";
/// The version an update brings.
pub const NEW: &str = "2.0.0";

/// Size of the model of the old version.
pub const OLD_MODEL: u64 = 256 * 1024;
/// Size of the model of the new version: the bulk of an update's download.
pub const NEW_MODEL: u64 = 2 * 1024 * 1024;

/// Bound of one `tooldelta` run in these tests: a hang fails the test.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(120);

/// A tool in two versions on a static mirror, and a folder for install roots.
///
/// Version 2 changes the README, the config and the model, drops
/// `docs/old.txt`, adds `docs/new.txt`, and keeps `bin/run.sh`.
pub struct World {
    /// Holds everything; removed on drop.
    pub tmp: TempDir,
    /// The signing key (trusted by the roots).
    pub keys: TestKeys,
    /// The static mirror export.
    pub mirror: StaticMirror,
    /// The published trees by version.
    pub trees: BTreeMap<String, ToolTree>,
}

impl World {
    /// Publishes versions 1 and 2 of [`TOOL`]; `latest` is version 2.
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("tooldelta-fault-")
            .tempdir()
            .expect("create a temp folder");
        let keys = TestKeys::new();
        let mut mirror = StaticMirror::new(tmp.path().join("mirror"));
        let v1 = ToolTree::sample(tmp.path().join("src/v1"), OLD_MODEL, 1);
        v1.text("docs/old.txt", "dropped in 2.0.0\n");
        let v2 = ToolTree::sample(tmp.path().join("src/v2"), NEW_MODEL, 2);
        v2.text("README.md", "# demo tool, second edition\n")
            .text("docs/new.txt", "added in 2.0.0\n");
        mirror.publish(v1.root(), TOOL, OLD, keys.signing_key());
        mirror.publish(v2.root(), TOOL, NEW, keys.signing_key());
        std::fs::create_dir_all(tmp.path().join("work")).expect("create the work folder");
        std::fs::write(tmp.path().join("work/canary.txt"), "must never change\n")
            .expect("write the canary");
        let trees = BTreeMap::from([(OLD.to_owned(), v1), (NEW.to_owned(), v2)]);
        Self {
            tmp,
            keys,
            mirror,
            trees,
        }
    }

    /// The folder that holds the install roots (and a canary file): nothing
    /// but the roots inside it may ever change.
    pub fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    /// A fresh, empty install root path `work/<name>` (not created).
    pub fn root(&self, name: &str) -> PathBuf {
        self.work().join(name)
    }

    /// Starts a fault server over the mirror folder.
    pub fn server(&self) -> FaultServer {
        FaultServer::serve_dir(self.mirror.root())
    }

    /// The published tree of `version`.
    pub fn tree(&self, version: &str) -> &ToolTree {
        &self.trees[version]
    }

    /// `tooldelta update TOOL --root ROOT --mirror URL --trust KEY --json`
    /// plus `extra`, as a command to run or spawn.
    pub fn update_cmd(&self, root: &Path, mirror: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(bin_path("tooldelta"));
        cmd.arg("update")
            .arg(TOOL)
            .arg("--root")
            .arg(root)
            .arg("--mirror")
            .arg(mirror)
            .arg("--trust")
            .arg(self.keys.public_pem())
            .arg("--json")
            .args(extra);
        cmd
    }

    /// Runs an update to the end.
    pub fn update(&self, root: &Path, mirror: &str, extra: &[&str]) -> CmdOutput {
        tooldelta_testkit::run_with_timeout(&mut self.update_cmd(root, mirror, extra), CMD_TIMEOUT)
    }

    /// Installs `version` into `root` from `mirror` and checks it.
    pub fn install(&self, root: &Path, mirror: &str, version: &str) {
        self.update(root, mirror, &["--version", version])
            .assert_success();
        assert_active(root, self.tree(version), version);
    }
}

/// Runs `tooldelta ARGS` to the end (bounded).
pub fn tooldelta(args: &[&std::ffi::OsStr]) -> CmdOutput {
    tooldelta_testkit::run_with_timeout(Command::new(bin_path("tooldelta")).args(args), CMD_TIMEOUT)
}

/// `tooldelta verify TOOL --root ROOT --json`.
pub fn verify(root: &Path) -> CmdOutput {
    tooldelta(&[
        "verify".as_ref(),
        TOOL.as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
        "--json".as_ref(),
    ])
}

/// The version `current` names, if it exists: `releases/<v>` -> `v`.
///
/// # Panics
/// When `current` exists but is not a relative link to `releases/<version>`.
pub fn current_version(root: &Path) -> Option<String> {
    let link = root.join("tools").join(TOOL).join("current");
    let target = match std::fs::read_link(&link) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("read {}: {e}", link.display()),
    };
    let text = target.to_str().expect("a UTF-8 link target");
    let version = text
        .strip_prefix("releases/")
        .unwrap_or_else(|| panic!("current points to {text}, not to releases/<version>"));
    assert!(!version.contains('/'), "current points to {text}");
    Some(version.to_owned())
}

/// Every regular file under `dir` (following no symlink), by relative path.
pub fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("list {}: {e}", d.display())) {
            let entry = entry.expect("a folder entry");
            let kind = entry.file_type().expect("a file type");
            let rel = entry
                .path()
                .strip_prefix(dir)
                .expect("under the folder")
                .to_string_lossy()
                .into_owned();
            if kind.is_dir() {
                stack.push(entry.path());
            } else {
                assert!(
                    kind.is_file(),
                    "{rel} in {} is not a regular file",
                    dir.display()
                );
                out.insert(rel, std::fs::read(entry.path()).expect("read a file"));
            }
        }
    }
    out
}

/// Panics unless `current/` of `root` is exactly `tree` (same paths, same
/// bytes, nothing else), `current` names `version`, and `tooldelta verify`
/// passes.
#[track_caller]
pub fn assert_active(root: &Path, tree: &ToolTree, version: &str) {
    assert_eq!(current_version(root).as_deref(), Some(version));
    let current = root.join("tools").join(TOOL).join("current");
    let got = files_under(&current);
    let want = files_under(tree.root());
    let got_paths: Vec<&String> = got.keys().collect();
    let want_paths: Vec<&String> = want.keys().collect();
    assert_eq!(got_paths, want_paths, "files of current/ ({version})");
    for (path, bytes) in &want {
        assert!(got[path] == *bytes, "current/{path} differs from {version}");
    }
    let out = verify(root);
    out.assert_success();
    assert_eq!(out.json()["ok"], true, "{}", out.stdout);
}

/// Panics unless `current/` is exactly one of the world's versions and
/// verifies; returns which.
#[track_caller]
pub fn assert_old_or_new(world: &World, root: &Path) -> String {
    let version = current_version(root).expect("current exists");
    assert!(
        version == OLD || version == NEW,
        "current names {version}, neither {OLD} nor {NEW}"
    );
    assert_active(root, world.tree(&version), &version);
    version
}

/// What a folder holds, for "nothing outside the root changed": every entry
/// below `dir` except the subtrees named in `skip`, with its kind, size,
/// modification time and (for symlinks) target.
pub fn snapshot(dir: &Path, skip: &[&Path]) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a folder entry").path();
            if skip.iter().any(|s| path == *s) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).expect("stat an entry");
            let desc = if meta.is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_owned()
            } else {
                format!(
                    "file {} bytes, mtime {:?}",
                    meta.len(),
                    meta.modified().ok()
                )
            };
            out.insert(path, desc);
        }
    }
    out
}

/// Panics, listing only what differs, unless two snapshots are equal.
#[track_caller]
pub fn assert_same(
    before: &BTreeMap<PathBuf, String>,
    after: &BTreeMap<PathBuf, String>,
    what: &str,
) {
    let mut diff = Vec::new();
    for (path, desc) in before {
        match after.get(path) {
            None => diff.push(format!("removed {}: {desc}", path.display())),
            Some(now) if now != desc => {
                diff.push(format!("changed {}: {desc} -> {now}", path.display()));
            }
            Some(_) => {}
        }
    }
    for (path, desc) in after {
        if !before.contains_key(path) {
            diff.push(format!("added {}: {desc}", path.display()));
        }
    }
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}

/// The one-line error of a failed `--json` run (from stdout's
/// `{"error": {"message"}}`, else stderr).
pub fn error_message(out: &CmdOutput) -> String {
    serde_json::from_str::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| out.stderr.clone())
}

/// Panics unless the run failed with an error message containing every one of `needles`.
#[track_caller]
pub fn assert_refused(out: &CmdOutput, needles: &[&str]) -> String {
    out.assert_failure();
    assert!(!out.timed_out, "the command hung:\n{}", out.stderr);
    let message = error_message(out);
    assert!(
        out.stderr.contains("error:"),
        "a refusal must print its error on stderr:\n{}",
        out.stderr
    );
    for needle in needles {
        assert!(
            message.contains(needle),
            "the error does not mention {needle:?}:\n{message}\n--- stderr\n{}",
            out.stderr
        );
    }
    message
}

/// Temporary names the engine must never leave behind after a run (resume
/// data in `objects/partial/` is kept on purpose and is not listed here).
pub fn leftovers(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let tool = root.join("tools").join(TOOL);
    if let Ok(entries) = std::fs::read_dir(tool.join("staging")) {
        out.extend(entries.map(|e| e.expect("an entry").path()));
    }
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let entry = entry.expect("an entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_dir()) && name != "releases" {
                stack.push(entry.path());
            }
            if name.contains(".tmp-") || name.contains(".tmp.") {
                out.push(entry.path());
            }
        }
    }
    out
}

/// `.partial` files under the root with their lengths.
pub fn partials(root: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(root.join("objects/partial")) {
        for entry in entries {
            let entry = entry.expect("an entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                out.insert(name, entry.metadata().map_or(0, |m| m.len()));
            }
        }
    }
    out
}

/// A small deterministic PRNG (SplitMix64) for kill moments and Range fuzz:
/// seeded, so a failing run can be replayed.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A seed from `$NAME` when set (to replay a run), else from the clock.
pub fn seed_from_env(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// A count from `$NAME` when set, else `default`.
pub fn count_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Writes a figure of the fault matrix to `target/fault-matrix/<name>.json`
/// (read by the closing report; best effort).
pub fn record_figures(name: &str, value: &Value) {
    let dir = tooldelta_testkit::target_dir().join("fault-matrix");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_vec_pretty(value).unwrap_or_default(),
    );
    eprintln!("fault-matrix {name}: {value}");
}
