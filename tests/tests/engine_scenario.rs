//! Issue 4's acceptance as one scenario, run against both servers a
//! workstation meets: the testkit's static mirror (the `export` layout over
//! the fault server, no faults) and the real `tooldelta-mirror serve` loaded
//! by `tooldelta publish` + `tooldelta-mirror import`. Three versions (one
//! file changed; then one deleted and one added) with CONTRACT §2's exact
//! counts, verify / repair / rollback, and a manifest from an unknown key
//! refused with `current/` unchanged.

mod engine_support;

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use engine_support::real_mirror::RealMirror;
use engine_support::{TOOL, assert_same_tree, sha, sizes, snapshot, u};
use serde_json::Value;
use tempfile::TempDir;
use tooldelta_core::manifest::Manifest;
use tooldelta_testkit::{CmdOutput, FaultServer, StaticMirror, TestKeys, ToolTree, bin_path, run};

const MODEL: &str = "models/model.gguf";

/// The server side of the scenario.
enum Server {
    Static {
        mirror: StaticMirror,
        server: FaultServer,
    },
    Real(RealMirror),
}

impl Server {
    fn url(&self) -> String {
        match self {
            Self::Static { server, .. } => server.url(),
            Self::Real(m) => m.url(),
        }
    }

    fn publish(&mut self, tree: &ToolTree, version: &str, keys: &TestKeys) -> Manifest {
        match self {
            Self::Static { mirror, .. } => {
                mirror.publish(tree.root(), TOOL, version, keys.signing_key())
            }
            Self::Real(m) => m.publish(tree, TOOL, version, keys),
        }
    }

    /// Where the content-request count starts for [`Self::blob_requests`].
    fn mark(&self) -> u64 {
        match self {
            Self::Static { server, .. } => {
                server.log().clear();
                0
            }
            Self::Real(m) => m.blob_gets(),
        }
    }

    /// Content requests since `mark`: every non-manifest path where the
    /// server logs them (the fault server), else the number of blob GETs
    /// (the mirror's `/metrics`).
    fn blob_requests(&self, mark: u64) -> (u64, Option<Vec<String>>) {
        match self {
            Self::Static { server, .. } => {
                let paths: Vec<String> = server
                    .log()
                    .records()
                    .into_iter()
                    .filter(|r| {
                        !r.path.ends_with("/manifest.json") && !r.path.contains("/channels/")
                    })
                    .map(|r| r.path)
                    .collect();
                (paths.len() as u64, Some(paths))
            }
            Self::Real(m) => (m.blob_gets() - mark, None),
        }
    }
}

struct Scenario {
    tmp: TempDir,
    keys: TestKeys,
    server: Server,
    root: PathBuf,
}

impl Scenario {
    fn new(real: bool) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let server = if real {
            Server::Real(RealMirror::start(&tmp.path().join("store")))
        } else {
            let mirror = StaticMirror::new(tmp.path().join("mirror"));
            let server = FaultServer::serve_dir(mirror.root());
            Server::Static { mirror, server }
        };
        Self {
            root: tmp.path().join("root"),
            keys: TestKeys::new(),
            server,
            tmp,
        }
    }

    #[allow(clippy::unused_self)] // a method so every call reads `s.…`
    fn tooldelta(&self, args: &[&str]) -> CmdOutput {
        run(Command::new(bin_path("tooldelta"))
            .args(args)
            .env_remove("TOOLDELTA_ROOT")
            .env_remove("TOOLDELTA_MIRROR")
            .env_remove("TOOLDELTA_TRUST")
            .env_remove("TOOLDELTA_CONFIG"))
    }

    /// `CMD TOOL --root R --json`, plus `--mirror M --trust K` when `remote`.
    fn command(&self, cmd: &str, remote: bool) -> CmdOutput {
        let root = self.root.display().to_string();
        let (url, trust) = (
            self.server.url(),
            self.keys.public_pem().display().to_string(),
        );
        let mut args = vec![cmd, TOOL, "--root", &root, "--json"];
        if remote {
            args.extend(["--mirror", &url, "--trust", &trust]);
        }
        self.tooldelta(&args)
    }

    fn update(&self) -> Value {
        self.command("update", true).assert_success().json()
    }

    fn current(&self) -> PathBuf {
        self.root.join("tools").join(TOOL).join("current")
    }

    fn current_target(&self) -> Option<PathBuf> {
        std::fs::read_link(self.current()).ok()
    }

    fn tree(&self, name: &str) -> ToolTree {
        ToolTree::new(self.tmp.path().join("trees").join(name))
    }
}

fn counts(r: &Value) -> (u64, u64, u64, u64) {
    (
        u(r, "files_downloaded"),
        u(r, "files_unchanged"),
        u(r, "files_deleted"),
        u(r, "files_verified"),
    )
}

/// The operation and state of the tool's progress snapshot (`progress.json`).
fn live_outcome(s: &Scenario) -> (String, String) {
    let path = s.root.join("tools").join(TOOL).join("progress.json");
    let snap: Value = serde_json::from_slice(&std::fs::read(&path).expect("progress.json"))
        .expect("progress.json is JSON");
    let text = |k: &str| snap[k].as_str().unwrap_or_default().to_owned();
    (text("operation"), text("state"))
}

fn status_of(v: &Value, path: &str) -> Value {
    file_entry(v, path)["status"].clone()
}

fn file_entry<'a>(v: &'a Value, path: &str) -> &'a Value {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {v}"))
}

#[test]
fn three_versions_verify_repair_rollback_and_an_unknown_key_from_the_static_mirror() {
    three_versions_verify_repair_rollback_and_an_unknown_key(false);
}

#[test]
fn three_versions_verify_repair_rollback_and_an_unknown_key_from_the_real_mirror() {
    three_versions_verify_repair_rollback_and_an_unknown_key(true);
}

#[allow(clippy::too_many_lines)] // one scenario, told in order
fn three_versions_verify_repair_rollback_and_an_unknown_key(real: bool) {
    let mut s = Scenario::new(real);

    // v1: first install, everything fetched.
    let t1 = s.tree("v1");
    t1.text("README.md", "demo tool, version 1\n")
        .text("bin/run.sh", "#!/bin/sh\necho run\n")
        .text("config/settings.toml", "threads = 4\n")
        .random(MODEL, 3 << 20, 7);
    let m1 = s.server.publish(&t1, "1.0.0", &s.keys);
    let r = s.update();
    assert_eq!(r["tool_id"], TOOL);
    assert_eq!(r["from_version"], Value::Null);
    assert_eq!(r["to_version"], "1.0.0");
    assert_eq!(counts(&r), (4, 0, 0, 4));
    assert_eq!(u(&r, "bytes_downloaded"), m1.total_size());
    assert_eq!((u(&r, "bytes_saved"), u(&r, "bytes_resumed")), (0, 0));
    assert_eq!(r["manifest_hash"], m1.manifest_hash);
    assert_eq!(r["signature"]["status"], "valid");
    assert_eq!(r["signature"]["public_key_id"], s.keys.key_id().to_string());
    assert!(r["duration_ms"].is_u64());
    assert_same_tree(&s.current(), &t1);
    assert_eq!(
        s.current_target().unwrap(),
        Path::new("releases/1.0.0"),
        "current must be a relative link"
    );

    // v2: one file changed; only it is fetched.
    let t2 = t1.copy_to(s.tmp.path().join("trees/v2"));
    t2.text("README.md", "demo tool, version 2, longer text\n");
    let m2 = s.server.publish(&t2, "2.0.0", &s.keys);
    let mark = s.server.mark();
    let r = s.update();
    let readme = sizes(&m2)["README.md"];
    assert_eq!(
        (r["from_version"].as_str(), r["to_version"].as_str()),
        (Some("1.0.0"), Some("2.0.0"))
    );
    assert_eq!(counts(&r), (1, 3, 0, 4));
    assert_eq!(u(&r, "bytes_downloaded"), readme);
    assert_eq!(u(&r, "bytes_saved"), m2.total_size() - readme);
    assert_same_tree(&s.current(), &t2);
    let (n, paths) = s.server.blob_requests(mark);
    assert_eq!(n, 1, "only the changed file is fetched: {paths:?}");
    if let Some(paths) = paths {
        assert_eq!(paths, [StaticMirror::blob_route(&sha(&m2, "README.md"))]);
    }

    // v3: one file deleted, one added.
    let t3 = t2.copy_to(s.tmp.path().join("trees/v3"));
    t3.remove("config/settings.toml")
        .text("data/new.txt", "added in v3\n");
    let m3 = s.server.publish(&t3, "3.0.0", &s.keys);
    let r = s.update();
    let added = sizes(&m3)["data/new.txt"];
    assert_eq!(counts(&r), (1, 3, 1, 4));
    assert_eq!(u(&r, "bytes_downloaded"), added);
    assert_eq!(u(&r, "bytes_saved"), m3.total_size() - added);
    assert_same_tree(&s.current(), &t3);
    // The unchanged model cost O(1): one inode shared by every kept release.
    let release = |v: &str| s.root.join("tools").join(TOOL).join("releases").join(v);
    let ino = |v: &str| std::fs::metadata(release(v).join(MODEL)).unwrap().ino();
    assert_eq!(
        ino("3.0.0"),
        ino("2.0.0"),
        "the model was copied, not linked"
    );

    // verify: one file written in place, one replaced as an editor does (a
    // new inode), one deleted.
    let in_place = s.current().join("data/new.txt");
    let mut perms = std::fs::metadata(&in_place).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&in_place, perms).unwrap();
    std::fs::write(&in_place, "tampered\n").unwrap();
    std::fs::remove_file(s.current().join("README.md")).unwrap();
    std::fs::write(s.current().join("README.md"), "replaced\n").unwrap();
    std::fs::remove_file(s.current().join("bin/run.sh")).unwrap();
    let out = s.command("verify", false);
    assert_eq!(out.code, Some(1), "verify must exit 1: {}", out.stderr);
    let v = out.json();
    assert_eq!(
        (v["ok"].as_bool(), v["version"].as_str()),
        (Some(false), Some("3.0.0"))
    );
    assert_eq!(status_of(&v, "data/new.txt"), "modified");
    assert_eq!(status_of(&v, "README.md"), "modified");
    assert_eq!(status_of(&v, "bin/run.sh"), "missing");
    assert_eq!(status_of(&v, MODEL), "ok");
    let modified = file_entry(&v, "data/new.txt");
    assert_eq!(modified["expected_sha256"], sha(&m3, "data/new.txt"));
    assert_ne!(modified["actual_sha256"], modified["expected_sha256"]);

    // repair fixes all three from the store, with no download: small files
    // are staged as copies (issue 16), so neither the edit in place, the
    // replacement nor the deletion reached the store's objects.
    let mark = s.server.mark();
    let r = s.command("repair", true).assert_success().json();
    assert_eq!(
        r["files_repaired"],
        serde_json::json!(["README.md", "bin/run.sh", "data/new.txt"])
    );
    assert_eq!(r["verify"]["ok"], true);
    assert_eq!(u(&r, "files_downloaded"), 0, "{r}");
    let (n, paths) = s.server.blob_requests(mark);
    assert_eq!(
        n, 0,
        "repair fetched although the store is intact: {paths:?}"
    );
    s.command("verify", false).assert_success();
    assert_same_tree(&s.current(), &t3);
    // Viewers (the app, the kiosk) saw the repair through its progress snapshot.
    assert_eq!(live_outcome(&s), ("repair".to_owned(), "done".to_owned()));

    // rollback brings v2 back.
    let r = s.command("rollback", false).assert_success().json();
    assert_eq!(
        (r["from_version"].as_str(), r["to_version"].as_str()),
        (Some("3.0.0"), Some("2.0.0"))
    );
    assert_same_tree(&s.current(), &t2);
    s.command("verify", false).assert_success();
    assert_eq!(live_outcome(&s), ("rollback".to_owned(), "done".to_owned()));

    // A manifest signed by an unknown key is refused; current/ is unchanged.
    let before = (s.current_target(), snapshot(&s.current()));
    let t4 = t3.copy_to(s.tmp.path().join("trees/v4"));
    t4.text("README.md", "v4 from an unknown key\n");
    s.server.publish(&t4, "4.0.0", &TestKeys::other());
    let out = s.command("update", true);
    out.assert_failure();
    assert!(
        out.stderr.contains("not trusted") && out.stderr.contains(TOOL),
        "{}",
        out.stderr
    );
    assert_eq!((s.current_target(), snapshot(&s.current())), before);
    assert_same_tree(&s.current(), &t2);
}
