//! Two updaters at once: on one tool the lock holds (one runs, the other is
//! refused with a clear error and changes nothing) and the result is one
//! consistent release; on two tools that share content in one store, both
//! succeed and neither's garbage collection removes what the other links.

mod fault_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fault_support::{
    NEW, OLD, TOOL, World, assert_active, error_message, partials, record_figures, tooldelta,
};
use serde_json::json;
use tooldelta_testkit::{ChildGuard, Fault, FaultServer, Rule};

fn throttled(world: &World, bytes_per_sec: u64) -> FaultServer {
    let server = world.server();
    server
        .faults()
        .set(Rule::new(Fault::Throttle(bytes_per_sec)).path_prefix("/api/v1/blobs/"));
    server
}

fn spawn(cmd: &mut Command) -> ChildGuard {
    ChildGuard::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()))
}

/// Waits for the child and returns (exit code, stdout).
fn finish(mut child: ChildGuard) -> (Option<i32>, String) {
    let code = child.wait_timeout(Duration::from_secs(120));
    let mut out = String::new();
    let inner: &mut Child = child.child_mut();
    std::io::Read::read_to_string(inner.stdout.as_mut().unwrap(), &mut out).unwrap();
    (code, out)
}

fn updater_running(root: &Path) -> bool {
    let out = tooldelta(&[
        "status".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
        "--json".as_ref(),
    ]);
    out.assert_success();
    out.json()["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["tool_id"] == TOOL && t["updater_running"] == true)
}

#[test]
fn a_second_updater_on_the_same_tool_is_refused_while_the_first_runs_and_changes_nothing() {
    let world = World::new();
    let fast = world.server();
    let slow = throttled(&world, 1024 * 1024);
    let root = world.root("root");
    world.install(&root, &fast.url(), OLD);

    let first = spawn(&mut world.update_cmd(&root, &slow.url(), &[]));
    let deadline = Instant::now() + Duration::from_secs(30);
    while partials(&root).values().sum::<u64>() == 0 {
        assert!(
            Instant::now() < deadline,
            "the first update never started downloading"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        updater_running(&root),
        "status must say an update is running"
    );
    let before = partials(&root);
    let second = world.update(&root, &fast.url(), &[]);
    second.assert_failure();
    let message = error_message(&second);
    assert!(
        message.contains(TOOL) && message.contains("another tooldelta process is updating"),
        "{message}"
    );
    // The refused run touched nothing: the first run's download only grew.
    for (name, len) in &before {
        assert!(partials(&root).get(name).is_none_or(|now| now >= len));
    }
    let (code, out) = finish(first);
    assert_eq!(code, Some(0), "the first update must finish: {out}");
    assert_active(&root, world.tree(NEW), NEW);
    assert!(!updater_running(&root));
    record_figures(
        "concurrency-lock",
        &json!({
            "second_exit_code": second.code,
            "first_exit_code": code,
            "partial_bytes_when_refused": before.values().sum::<u64>(),
        }),
    );
}

#[test]
fn two_updaters_started_together_leave_exactly_one_consistent_release() {
    let world = World::new();
    let fast = world.server();
    let root = world.root("pristine");
    world.install(&root, &fast.url(), OLD);
    let mut winners = 0;
    for round in 0..3 {
        let slow = throttled(&world, 2 * 1024 * 1024);
        let root_n = world.root(&format!("r{round}"));
        let status = Command::new("cp")
            .arg("-a")
            .arg(&root)
            .arg(&root_n)
            .status()
            .unwrap();
        assert!(status.success());
        let a = spawn(&mut world.update_cmd(&root_n, &slow.url(), &[]));
        let b = spawn(&mut world.update_cmd(&root_n, &slow.url(), &[]));
        let (ca, oa) = finish(a);
        let (cb, ob) = finish(b);
        let codes = [ca, cb];
        // Either one ran and the other was refused by the lock, or (if the
        // first finished within the second's brief wait) both ran in turn.
        for (code, out) in [(ca, &oa), (cb, &ob)] {
            if code != Some(0) {
                assert!(
                    out.contains("another tooldelta process is updating"),
                    "{out}"
                );
            }
        }
        assert!(
            codes.contains(&Some(0)),
            "neither updater succeeded: {oa}\n{ob}"
        );
        winners += codes.iter().filter(|c| **c == Some(0)).count();
        assert_active(&root_n, world.tree(NEW), NEW);
    }
    record_figures(
        "concurrency-simultaneous",
        &json!({"rounds": 3, "successes": winners}),
    );
}

#[test]
fn two_tools_sharing_content_update_at_once_and_neither_gc_removes_the_others_objects() {
    let mut world = World::new();
    // A second tool with the very same trees: every object is shared.
    let key = world.keys.signing_key().clone();
    let (v1, v2) = (
        world.tree(OLD).root().to_owned(),
        world.tree(NEW).root().to_owned(),
    );
    world.mirror.publish(&v1, "twin", OLD, &key);
    world.mirror.publish(&v2, "twin", NEW, &key);
    let fast = world.server();
    let root = world.root("root");
    world.install(&root, &fast.url(), OLD);
    let twin = |version: Option<&str>, url: &str| {
        let mut cmd = Command::new(tooldelta_testkit::bin_path("tooldelta"));
        cmd.args(["update", "twin", "--json", "--root"])
            .arg(&root)
            .arg("--mirror")
            .arg(url)
            .arg("--trust")
            .arg(world.keys.public_pem());
        if let Some(v) = version {
            cmd.args(["--version", v]);
        }
        cmd
    };
    tooldelta_testkit::run(&mut twin(Some(OLD), &fast.url())).assert_success();

    let slow = throttled(&world, 2 * 1024 * 1024);
    let a = spawn(&mut world.update_cmd(&root, &slow.url(), &[]));
    let b = spawn(&mut twin(None, &slow.url()));
    let (ca, oa) = finish(a);
    let (cb, ob) = finish(b);
    assert_eq!((ca, cb), (Some(0), Some(0)), "{oa}\n{ob}");
    assert_active(&root, world.tree(NEW), NEW);
    let out = tooldelta(&[
        "verify".as_ref(),
        "twin".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
        "--json".as_ref(),
    ]);
    out.assert_success();
    let verified = out.json();
    assert_eq!(verified["ok"], true);
    let downloaded = |stdout: &str| {
        serde_json::from_str::<serde_json::Value>(stdout)
            .map_or(serde_json::Value::Null, |r| r["bytes_downloaded"].clone())
    };
    record_figures(
        "concurrency-two-tools",
        &json!({
            "exit_codes": [ca, cb],
            "twin_files_verified": verified["files"].as_array().map_or(0, Vec::len),
            "bytes_downloaded": [downloaded(&oa), downloaded(&ob)],
        }),
    );
}
