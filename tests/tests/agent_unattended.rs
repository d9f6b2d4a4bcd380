//! Unattended operation end to end (issue 13's acceptance): the real
//! `tooldelta` binary against a mirror on 127.0.0.1.
//!
//! Three tools, `auto`, `download` and `manual`, each installed at 1.0.0 with
//! 1.1.0 published: one `agent --once` inside an open window switches the
//! first, only downloads the second (`activate` then switches it with 0 bytes
//! downloaded and no mirror at all) and leaves the third alone; with the
//! window closed nothing switches; while `tooldelta run` holds a tool its
//! activation is deferred and `current` stays; an agent killed mid-download
//! leaves old-or-new and the next cycle converges.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use tooldelta_testkit::{
    ChildGuard, CmdOutput, Fault, FaultServer, Rule, StaticMirror, TestKeys, ToolTree, bin_path,
    run_with_timeout,
};

const OLD: &str = "1.0.0";
const NEW: &str = "1.1.0";
const TOOLS: [&str; 3] = ["auto-tool", "dl-tool", "man-tool"];
const TIMEOUT: Duration = Duration::from_secs(120);

struct Site {
    tmp: TempDir,
    keys: TestKeys,
    server: FaultServer,
}

impl Site {
    /// Every tool of [`TOOLS`] published at 1.0.0 and 1.1.0 (`latest`),
    /// with a 1 MiB model that changes between the two.
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let keys = TestKeys::new();
        let mut mirror = StaticMirror::new(tmp.path().join("mirror"));
        for (i, tool) in TOOLS.iter().enumerate() {
            for (j, version) in [OLD, NEW].iter().enumerate() {
                let seed = (i * 10 + j) as u64 + 1;
                let tree = ToolTree::sample(
                    tmp.path().join(format!("src/{tool}/{version}")),
                    1 << 20,
                    seed,
                );
                tree.text("VERSION", version);
                mirror.publish(tree.root(), tool, version, keys.signing_key());
            }
        }
        let server = FaultServer::serve_dir(mirror.root());
        Self { tmp, keys, server }
    }

    fn root(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// A root with every tool at 1.0.0.
    fn installed_root(&self, name: &str) -> PathBuf {
        let root = self.root(name);
        for tool in TOOLS {
            self.cli(&root, &["update", tool, "--version", OLD])
                .assert_success();
            assert_eq!(current(&root, tool).as_deref(), Some(OLD));
        }
        root
    }

    /// A settings file: the root, this mirror, the key, and per tool its policy.
    fn config(&self, root: &Path, window: &str, extra: &str) -> PathBuf {
        let path = root.with_extension("toml");
        let text = format!(
            "root = \"{root}\"\nmirrors = [{mirror:?}]\ntrust = [\"{key}\"]\nwindow = {window:?}\n{extra}\n\
             [tools.auto-tool]\npolicy = \"auto\"\n[tools.dl-tool]\npolicy = \"download\"\n[tools.man-tool]\npolicy = \"manual\"\n",
            // Temporary paths: no quote or backslash to escape in TOML.
            root = root.display(),
            mirror = self.server.url(),
            key = self.keys.public_pem().display(),
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `tooldelta ARGS --root ROOT --mirror URL --trust KEY --json`.
    fn cli(&self, root: &Path, args: &[&str]) -> CmdOutput {
        let mut cmd = Command::new(bin_path("tooldelta"));
        cmd.args(args)
            .arg("--root")
            .arg(root)
            .arg("--mirror")
            .arg(self.server.url())
            .arg("--trust")
            .arg(self.keys.public_pem())
            .arg("--json");
        run_with_timeout(&mut cmd, TIMEOUT)
    }
}

fn tooldelta<S: AsRef<OsStr>>(args: &[S]) -> CmdOutput {
    run_with_timeout(Command::new(bin_path("tooldelta")).args(args), TIMEOUT)
}

fn agent_once(config: &Path) -> CmdOutput {
    tooldelta(&[
        OsStr::new("agent"),
        OsStr::new("--once"),
        OsStr::new("--config"),
        config.as_os_str(),
    ])
}

fn current(root: &Path, tool: &str) -> Option<String> {
    let link = std::fs::read_link(root.join("tools").join(tool).join("current")).ok()?;
    Some(link.to_str()?.strip_prefix("releases/")?.to_owned())
}

fn agent_status(root: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join("agent/status.json")).unwrap()).unwrap()
}

fn outcome<'a>(status: &'a Value, tool: &str) -> &'a Value {
    status["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool_id"] == tool)
        .unwrap_or_else(|| panic!("{tool} missing from {status}"))
}

/// A daily window that is closed now: it opens two hours from now, local time.
fn closed_window() -> String {
    let now = jiff::Zoned::now();
    let start = now.hour() as u16 * 60 + now.minute() as u16 + 120;
    let end = start + 60;
    let hm = |m: u16| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    format!("daily {}-{}", hm(start), hm(end))
}

#[test]
fn one_cycle_in_an_open_window_switches_auto_downloads_download_and_leaves_manual() {
    let site = Site::new();
    let root = site.installed_root("open");
    let config = site.config(&root, "daily 00:00-24:00", "");
    let out = agent_once(&config);
    out.assert_success();

    assert_eq!(current(&root, "auto-tool").as_deref(), Some(NEW));
    assert_eq!(current(&root, "dl-tool").as_deref(), Some(OLD));
    assert_eq!(current(&root, "man-tool").as_deref(), Some(OLD));
    let status = agent_status(&root);
    assert_eq!(outcome(&status, "auto-tool")["outcome"], "updated");
    assert_eq!(outcome(&status, "dl-tool")["outcome"], "downloaded");
    assert_eq!(outcome(&status, "man-tool")["outcome"], "manual");
    assert!(
        outcome(&status, "dl-tool")["bytes_downloaded"]
            .as_u64()
            .unwrap()
            > 0
    );

    // `status` says what the downloaded version waits for.
    let st = tooldelta(&[
        OsStr::new("status"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--json"),
    ]);
    st.assert_success();
    assert!(
        st.stderr
            .contains("1.1.0 downloaded, waiting for activation"),
        "{}",
        st.stderr
    );

    // The download is complete: activation needs no mirror and moves 0 bytes.
    let act = tooldelta(&[
        OsStr::new("activate"),
        OsStr::new("dl-tool"),
        OsStr::new("--root"),
        root.as_os_str(),
        OsStr::new("--json"),
    ]);
    act.assert_success();
    let report = act.json();
    assert_eq!(report["bytes_downloaded"], 0, "{report}");
    assert_eq!(report["from_version"], OLD);
    assert_eq!(report["to_version"], NEW);
    assert_eq!(current(&root, "dl-tool").as_deref(), Some(NEW));
    let verify = tooldelta(&[
        OsStr::new("verify"),
        OsStr::new("dl-tool"),
        OsStr::new("--root"),
        root.as_os_str(),
    ]);
    verify.assert_success();

    // Nothing is pending any more: a second activation says so.
    let again = tooldelta(&[
        OsStr::new("activate"),
        OsStr::new("dl-tool"),
        OsStr::new("--root"),
        root.as_os_str(),
    ]);
    again.assert_failure();
    assert!(
        again.stderr.contains("no downloaded version"),
        "{}",
        again.stderr
    );
}

#[test]
fn with_the_window_closed_nothing_switches_and_auto_waits_downloaded() {
    let site = Site::new();
    let root = site.installed_root("closed");
    let config = site.config(&root, &closed_window(), "");
    agent_once(&config).assert_success();
    for tool in TOOLS {
        assert_eq!(current(&root, tool).as_deref(), Some(OLD), "{tool}");
    }
    let status = agent_status(&root);
    let auto = outcome(&status, "auto-tool");
    assert_eq!(auto["outcome"], "downloaded", "{auto}");
    assert!(status["next_window"].is_string(), "{status}");
    let st = tooldelta(&[
        OsStr::new("status"),
        OsStr::new("--config"),
        config.as_os_str(),
    ]);
    assert!(
        st.stderr.contains("auto-tool: 1.0.0")
            && st
                .stderr
                .contains("1.1.0 downloaded, waiting for the window (opens "),
        "{}",
        st.stderr
    );
}

#[test]
fn a_running_job_defers_activation_and_keeps_its_release() {
    let site = Site::new();
    let root = site.installed_root("in-use");
    site.cli(&root, &["update", "dl-tool", "--download-only"])
        .assert_success();
    assert_eq!(current(&root, "dl-tool").as_deref(), Some(OLD));

    // The job: reports where it runs, then stays until told to finish.
    let marker = root.with_extension("started");
    let finish = root.with_extension("finish");
    let script = format!(
        "pwd > {m}.pwd; cat VERSION > {m}.version; touch {m}; while [ ! -e {f} ]; do sleep 0.05; done; cat VERSION",
        m = marker.display(),
        f = finish.display()
    );
    let mut run = Command::new(bin_path("tooldelta"));
    run.args(["run", "dl-tool", "--root"])
        .arg(&root)
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::piped());
    let mut job = ChildGuard::spawn(&mut run);
    let started = Instant::now();
    while !marker.exists() {
        assert!(started.elapsed() < TIMEOUT, "the job never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pwd = std::fs::read_to_string(marker.with_extension("started.pwd")).unwrap();
    assert!(
        pwd.trim().ends_with("tools/dl-tool/releases/1.0.0"),
        "{pwd}"
    );

    let act = tooldelta(&[
        OsStr::new("activate"),
        OsStr::new("dl-tool"),
        OsStr::new("--root"),
        root.as_os_str(),
        OsStr::new("--in-use-wait"),
        OsStr::new("1"),
        OsStr::new("--json"),
    ]);
    act.assert_failure();
    assert_eq!(act.json()["error"]["kind"], "in_use", "{}", act.stdout);
    assert!(act.stderr.contains("deferred"), "{}", act.stderr);
    assert_eq!(current(&root, "dl-tool").as_deref(), Some(OLD));
    let st = tooldelta(&[
        OsStr::new("status"),
        OsStr::new("--root"),
        root.as_os_str(),
        OsStr::new("--json"),
    ]);
    let tools = st.json()["tools"].clone();
    let dl = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool_id"] == "dl-tool")
        .unwrap()
        .clone();
    assert_eq!(dl["in_use"], true, "{dl}");
    assert_eq!(dl["pending"]["version"], NEW, "{dl}");

    // The job ends with its own release intact; then the switch goes through.
    std::fs::write(&finish, "").unwrap();
    let code = job.wait_timeout(TIMEOUT).expect("the job ends");
    assert_eq!(code, 0);
    let mut stdout = String::new();
    std::io::Read::read_to_string(job.child_mut().stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert_eq!(stdout.trim(), OLD);
    let act = tooldelta(&[
        OsStr::new("activate"),
        OsStr::new("dl-tool"),
        OsStr::new("--root"),
        root.as_os_str(),
        OsStr::new("--json"),
    ]);
    act.assert_success();
    assert_eq!(act.json()["bytes_downloaded"], 0);
    assert_eq!(current(&root, "dl-tool").as_deref(), Some(NEW));
}

#[test]
fn run_passes_the_exit_code_of_its_command_on() {
    let site = Site::new();
    let root = site.root("exit");
    site.cli(&root, &["update", "man-tool", "--version", OLD])
        .assert_success();
    let out = tooldelta(&[
        OsStr::new("run"),
        OsStr::new("man-tool"),
        OsStr::new("--root"),
        root.as_os_str(),
        OsStr::new("--"),
        OsStr::new("sh"),
        OsStr::new("-c"),
        OsStr::new("test \"$TOOLDELTA_TOOL_VERSION\" = 1.0.0 && exit 7"),
    ]);
    assert_eq!(out.code, Some(7), "{}", out.stderr);
}

#[test]
fn an_agent_killed_mid_download_leaves_old_or_new_and_the_next_cycle_converges() {
    let site = Site::new();
    let root = site.installed_root("kill");
    let config = site.config(&root, "daily 00:00-24:00", "");
    // Blobs at 256 KiB/s: the 1 MiB model takes about 4 s.
    site.server
        .faults()
        .set(Rule::new(Fault::Throttle(256 * 1024)).path_prefix("/api/v1/blobs/"));
    let mut cmd = Command::new(bin_path("tooldelta"));
    cmd.arg("agent").arg("--once").arg("--config").arg(&config);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut agent = ChildGuard::spawn(&mut cmd);
    // Watch the live snapshot of the first tool: the download is under way.
    let progress = root.join("tools/auto-tool/progress.json");
    let started = Instant::now();
    let mut seen_bytes = false;
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(bytes) = std::fs::read(&progress)
            && let Ok(snap) = serde_json::from_slice::<Value>(&bytes)
            && snap["state"] == "running"
            && snap["phase"] == "fetch"
            && snap["bytes_done"].as_u64().unwrap_or(0) > 0
        {
            assert_eq!(snap["to_version"], NEW, "{snap}");
            seen_bytes = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        seen_bytes,
        "no live progress of the agent's download was published"
    );
    agent.kill();
    drop(agent);
    for tool in TOOLS {
        let v = current(&root, tool);
        assert!(
            v.as_deref() == Some(OLD) || v.as_deref() == Some(NEW),
            "{tool}: {v:?}"
        );
    }
    site.server.faults().clear();
    agent_once(&config).assert_success();
    assert_eq!(current(&root, "auto-tool").as_deref(), Some(NEW));
    let verify = tooldelta(&[
        OsStr::new("verify"),
        OsStr::new("auto-tool"),
        OsStr::new("--root"),
        root.as_os_str(),
    ]);
    verify.assert_success();
}
