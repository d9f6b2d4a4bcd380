//! Issue 14's acceptance with the real binaries: forty workstations follow
//! the `stable` channel of one tool through a staged rollout, a halt, a
//! signed rollback and a full rollout; a pre-release imported last is not
//! `latest`; a held tool is left alone by `update --all`; release notes are
//! in `status --json`.

mod rollout_support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use rollout_support::{Fleet, TOOL, activations, active, s, tooldelta_str};

const WORKSTATIONS: usize = 40;

fn roots(fleet: &Fleet) -> Vec<(PathBuf, String)> {
    (0..WORKSTATIONS)
        .map(|i| (fleet.path(&format!("ws/{i}")), format!("ws-{i:02}")))
        .collect()
}

/// `channel set` of the tool's `stable` channel with `args`, imported.
fn stable(fleet: &Fleet, name: &str, args: &[&str]) {
    let mut all = vec!["--tool", TOOL, "--channel", "stable"];
    all.extend_from_slice(args);
    fleet.set_channel(name, &all);
}

/// 1.2.0 over 1.1.0 at `percent` on `stable`.
fn staged(fleet: &Fleet, name: &str, percent: &str) {
    let args = [
        "--version",
        "1.2.0",
        "--previous",
        "1.1.0",
        "--rollout",
        percent,
    ];
    stable(fleet, name, &args);
}

/// Updates every workstation; returns those on `version` afterwards.
fn round(fleet: &Fleet, roots: &[(PathBuf, String)], version: &str) -> BTreeSet<String> {
    for (root, ws) in roots {
        fleet.update(root, ws, &[]).assert_success();
    }
    roots
        .iter()
        .filter(|(root, _)| active(root, TOOL).as_deref() == Some(version))
        .map(|(_, ws)| ws.clone())
        .collect()
}

#[test]
fn forty_workstations_through_staged_rollout_halt_signed_rollback_and_full_rollout() {
    let fleet = Fleet::new();
    fleet.publish(TOOL, "1.1.0", None);
    fleet.publish(TOOL, "1.2.0", Some("Faster loading.\n"));
    stable(&fleet, "s1", &["--version", "1.1.0"]);
    let roots = roots(&fleet);
    assert_eq!(round(&fleet, &roots, "1.1.0").len(), WORKSTATIONS);

    // 25% of 1.2.0 over 1.1.0: between 4 and 16 take it, the same ones every run.
    staged(&fleet, "s2", "25");
    let quarter = round(&fleet, &roots, "1.2.0");
    assert!(
        (4..=16).contains(&quarter.len()),
        "{} of 40 at 25%",
        quarter.len()
    );
    assert_eq!(
        round(&fleet, &roots, "1.2.0"),
        quarter,
        "the same workstations on a second run"
    );
    let status = fleet.status(&roots[0].0, &roots[0].1);
    let channel = &status["tools"][0]["channel"];
    assert_eq!(channel["channel"], "stable");
    assert_eq!(channel["in_rollout"], quarter.contains(&roots[0].1));

    // Raising the percentage only adds workstations.
    staged(&fleet, "s3", "50");
    let half = round(&fleet, &roots, "1.2.0");
    assert!(
        quarter.is_subset(&half) && half.len() > quarter.len(),
        "{quarter:?} {half:?}"
    );

    // Halt: nobody new takes 1.2.0, nobody moves back.
    staged(&fleet, "s4", "0");
    assert_eq!(round(&fleet, &roots, "1.2.0"), half);

    // A signed rollback to 1.1.0 brings them back; nobody else moves.
    let before: Vec<usize> = roots.iter().map(|(r, _)| activations(r, TOOL)).collect();
    stable(&fleet, "s5", &["--version", "1.1.0", "--rollback"]);
    assert!(round(&fleet, &roots, "1.2.0").is_empty());
    for ((root, ws), count) in roots.iter().zip(before) {
        let moved = activations(root, TOOL) - count;
        assert_eq!(moved, usize::from(half.contains(ws)), "{ws}");
        let floor = &fleet.status(root, ws)["tools"][0]["highest_accepted"];
        assert_eq!(
            floor, "1.1.0",
            "{ws}: the signed rollback moved the floor down"
        );
    }

    // At 100% every workstation takes 1.2.0.
    stable(&fleet, "s6", &["--version", "1.2.0", "--rollout", "100"]);
    assert_eq!(round(&fleet, &roots, "1.2.0").len(), WORKSTATIONS);
}

#[test]
fn without_a_channel_latest_applies_and_a_pre_release_imported_last_is_not_latest() {
    let fleet = Fleet::new();
    fleet.publish(TOOL, "1.1.0", None);
    fleet.publish(TOOL, "1.2.0", None);
    fleet.publish(TOOL, "2.0.0-beta.1", None);
    let (status, content_type, body) = fleet.get(&format!("/api/v1/tools/{TOOL}"));
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["latest"], "1.2.0");
    let root = fleet.path("root");
    let report = fleet.update(&root, "ws-a", &[]).assert_success().json();
    assert_eq!(report["to_version"], "1.2.0");
    // By name (or through a `beta` channel) the pre-release installs.
    fleet.set_channel(
        "beta",
        &[
            "--tool",
            TOOL,
            "--channel",
            "beta",
            "--version",
            "2.0.0-beta.1",
        ],
    );
    let beta = fleet.path("beta-root");
    let report = fleet
        .update(&beta, "ws-b", &["--channel", "beta"])
        .assert_success()
        .json();
    assert_eq!(report["to_version"], "2.0.0-beta.1");
}

#[test]
fn a_held_tool_is_left_alone_by_update_all_and_release_notes_are_in_status() {
    let fleet = Fleet::new();
    let root = fleet.path("root");
    for tool in [TOOL, "other-tool"] {
        fleet.publish(tool, "1.0.0", None);
    }
    let trust = fleet.keys.public_pem();
    let common = [
        "--mirror",
        &fleet.url,
        "--root",
        s(&root),
        "--trust",
        s(&trust),
    ];
    for tool in [TOOL, "other-tool"] {
        let mut args = vec!["update", tool];
        args.extend_from_slice(&common);
        tooldelta_str(&args).assert_success();
    }
    let notes = "## 1.1.0\n<script>alert('x')</script> <b>bold</b> & more\n";
    for tool in [TOOL, "other-tool"] {
        fleet.publish(tool, "1.1.0", Some(notes));
    }
    let held = tooldelta_str(&["hold", TOOL, "--root", s(&root), "--json"])
        .assert_success()
        .json();
    assert_eq!(held["version"], "1.0.0");

    // Notes are returned as the exact text signed (JSON string, never HTML).
    let status = fleet.status(&root, "ws-1");
    let tools = status["tools"].as_array().unwrap();
    let mine = tools.iter().find(|t| t["tool_id"] == TOOL).unwrap();
    assert_eq!(mine["release_notes"], notes);
    assert_eq!(mine["hold"]["version"], "1.0.0");
    let mut check = vec!["check", TOOL];
    check.extend_from_slice(&common);
    check.push("--json");
    let checked = tooldelta_str(&check).assert_success().json();
    assert_eq!(checked["release_notes"], notes);
    assert_eq!(checked["hold"]["version"], "1.0.0");
    let (_, content_type, _) = fleet.get(&format!("/api/v1/tools/{TOOL}/1.1.0/manifest.json"));
    assert_eq!(content_type, "application/json");

    let mut all = vec!["update", "--all"];
    all.extend_from_slice(&common);
    all.push("--json");
    let report = tooldelta_str(&all).assert_success().json();
    let outcome = |tool: &str| {
        report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tool_id"] == tool)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome(TOOL), "held");
    assert_eq!(outcome("other-tool"), "updated");
    assert_eq!(active(&root, TOOL).as_deref(), Some("1.0.0"));
    assert_eq!(active(&root, "other-tool").as_deref(), Some("1.1.0"));
    // An explicit update of the held tool is refused too.
    let mut one = vec!["update", TOOL];
    one.extend_from_slice(&common);
    let out = tooldelta_str(&one);
    out.assert_failure();
    assert!(out.stderr.contains("held at 1.0.0"), "{}", out.stderr);

    tooldelta_str(&["unhold", TOOL, "--root", s(&root)]).assert_success();
    tooldelta_str(&all).assert_success();
    assert_eq!(active(&root, TOOL).as_deref(), Some("1.1.0"));
}
