//! Issue 4's acceptance against the real mirror (`tooldelta-mirror serve`),
//! with manifests made by `tooldelta publish` and loaded by
//! `tooldelta-mirror import`: exact counts per CONTRACT §2, `current/` equal
//! to the published tree each time, verify / repair / rollback.

mod engine_support;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine_support::{assert_same_tree, u};
use serde_json::Value;
use tooldelta_core::manifest::Manifest;
use tooldelta_testkit::{ChildGuard, CmdOutput, TestKeys, ToolTree, bin_path, run};

const TOOL: &str = "mirror-tool";

struct Mirror {
    _child: ChildGuard,
    url: String,
    store: PathBuf,
}

impl Mirror {
    fn start(store: &Path) -> Self {
        std::fs::create_dir_all(store.join("blobs")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = ChildGuard::spawn(
            Command::new(bin_path("tooldelta-mirror"))
                .args([
                    "serve",
                    "--store",
                    store.to_str().unwrap(),
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while !healthy(port) {
            assert!(
                Instant::now() < deadline,
                "the mirror did not come up on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            store: store.to_owned(),
        }
    }

    fn import(&self, manifest: &Path, tree: &Path) {
        run(Command::new(bin_path("tooldelta-mirror")).args([
            "import",
            "--store",
            self.store.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--tool-dir",
            tree.to_str().unwrap(),
        ]))
        .assert_success();
    }
}

fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0; 12];
    s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

fn tooldelta(args: &[&str]) -> CmdOutput {
    run(Command::new(bin_path("tooldelta")).args(args))
}

#[test]
fn three_versions_from_the_real_mirror_with_exact_counts_verify_repair_and_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = TestKeys::new();
    let mirror = Mirror::start(&tmp.path().join("store"));
    let root = tmp.path().join("root");
    let (root_s, trust) = (
        root.display().to_string(),
        keys.public_pem().display().to_string(),
    );
    let publish = |tree: &ToolTree, version: &str| -> Manifest {
        let out = tmp.path().join(format!("{version}.json"));
        tooldelta(&[
            "publish",
            "--tool-dir",
            tree.root().to_str().unwrap(),
            "--tool-id",
            TOOL,
            "--version",
            version,
            "--key",
            keys.secret_pem().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .assert_success();
        mirror.import(&out, tree.root());
        Manifest::parse(&std::fs::read(&out).unwrap())
            .unwrap()
            .manifest
    };
    let update = || -> Value {
        tooldelta(&[
            "update",
            TOOL,
            "--mirror",
            &mirror.url,
            "--root",
            &root_s,
            "--trust",
            &trust,
            "--json",
        ])
        .assert_success()
        .json()
    };
    let counts = |r: &Value| {
        (
            u(r, "files_downloaded"),
            u(r, "files_unchanged"),
            u(r, "files_deleted"),
            u(r, "files_verified"),
        )
    };
    let current = root.join("tools").join(TOOL).join("current");

    let t1 = ToolTree::new(tmp.path().join("v1"));
    t1.text("README.md", "one\n")
        .text("lib/a.py", "print('a')\n")
        .text("lib/b.py", "print('b')\n")
        .random("models/m.gguf", 2 << 20, 5);
    let m1 = publish(&t1, "1.0.0");
    let r = update();
    assert_eq!(counts(&r), (4, 0, 0, 4));
    assert_eq!(
        (u(&r, "bytes_downloaded"), u(&r, "bytes_saved")),
        (m1.total_size(), 0)
    );
    assert_eq!(r["manifest_hash"], m1.manifest_hash);
    assert_eq!(r["signature"]["status"], "valid");
    assert_same_tree(&current, &t1);

    let t2 = t1.copy_to(tmp.path().join("v2"));
    t2.text("lib/a.py", "print('a2')\n");
    let m2 = publish(&t2, "2.0.0");
    let r = update();
    let changed = m2.file("lib/a.py").unwrap().size;
    assert_eq!(counts(&r), (1, 3, 0, 4));
    assert_eq!(
        (u(&r, "bytes_downloaded"), u(&r, "bytes_saved")),
        (changed, m2.total_size() - changed)
    );
    assert_same_tree(&current, &t2);

    let t3 = t2.copy_to(tmp.path().join("v3"));
    t3.remove("lib/b.py").text("lib/c.py", "print('c')\n");
    let m3 = publish(&t3, "3.0.0");
    let r = update();
    let added = m3.file("lib/c.py").unwrap().size;
    assert_eq!(counts(&r), (1, 3, 1, 4));
    assert_eq!(
        (u(&r, "bytes_downloaded"), u(&r, "bytes_saved")),
        (added, m3.total_size() - added)
    );
    assert_same_tree(&current, &t3);

    // Tamper one file (replacing the entry, as an editor does) and delete another.
    std::fs::remove_file(current.join("lib/c.py")).unwrap();
    std::fs::write(current.join("lib/c.py"), "tampered\n").unwrap();
    std::fs::remove_file(current.join("README.md")).unwrap();
    let out = tooldelta(&["verify", TOOL, "--root", &root_s, "--json"]);
    assert_eq!(out.code, Some(1));
    let files = out.json()["files"].clone();
    let status = |p: &str| {
        files
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(
        (status("lib/c.py"), status("README.md")),
        ("modified".into(), "missing".into())
    );

    let r = tooldelta(&[
        "repair",
        TOOL,
        "--mirror",
        &mirror.url,
        "--root",
        &root_s,
        "--trust",
        &trust,
        "--json",
    ])
    .assert_success()
    .json();
    assert_eq!(
        r["files_repaired"],
        serde_json::json!(["README.md", "lib/c.py"])
    );
    // Both contents were still in the local store: nothing had to be downloaded.
    assert_eq!(u(&r, "files_downloaded"), 0);
    tooldelta(&["verify", TOOL, "--root", &root_s]).assert_success();
    assert_same_tree(&current, &t3);

    let r = tooldelta(&["rollback", TOOL, "--root", &root_s, "--json"])
        .assert_success()
        .json();
    assert_eq!(r["to_version"], "2.0.0");
    assert_same_tree(&current, &t2);

    // A manifest from an unknown key is refused and nothing changes.
    let other = TestKeys::other();
    let t4 = t3.copy_to(tmp.path().join("v4"));
    t4.text("README.md", "four\n");
    let out4 = tmp.path().join("4.json");
    tooldelta(&[
        "publish",
        "--tool-dir",
        t4.root().to_str().unwrap(),
        "--tool-id",
        TOOL,
        "--version",
        "4.0.0",
        "--key",
        other.secret_pem().to_str().unwrap(),
        "--out",
        out4.to_str().unwrap(),
    ])
    .assert_success();
    mirror.import(&out4, t4.root());
    let out = tooldelta(&[
        "update",
        TOOL,
        "--mirror",
        &mirror.url,
        "--root",
        &root_s,
        "--trust",
        &trust,
    ]);
    out.assert_failure();
    assert!(out.stderr.contains("not trusted"), "{}", out.stderr);
    assert_same_tree(&current, &t2);
}
