//! Issue 15's disk management with the real binaries: `tooldelta du` agrees
//! with the disk, `remove` and `gc` never delete content a kept release or
//! another tool needs (`verify` passes for every remaining tool), and a
//! mirror's `remove`, `gc` and `--max-cache-bytes` keep every version it
//! serves whole.

mod fleet_support;

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use fleet_support::{Hq, Mirror, mirror_cli, s, tooldelta};
use serde_json::Value;

const A: &str = "tool-a";
const B: &str = "tool-b";
const MODEL: u64 = 96 * 1024;

/// Bytes of the regular files under `root`, each inode once.
fn disk_bytes(root: &Path) -> u64 {
    let mut seen = HashSet::new();
    walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().unwrap())
        .filter(|m| seen.insert((m.dev(), m.ino())))
        .map(|m| m.len())
        .sum()
}

fn du(root: &Path) -> Value {
    let du = tooldelta(&["du", "--root", s(root), "--json"])
        .assert_success()
        .json();
    assert_eq!(
        du["total_bytes"],
        disk_bytes(root),
        "du agrees with the disk: {du}"
    );
    let objects = walkdir::WalkDir::new(root.join("objects/sha256"))
        .min_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(du["objects"], objects as u64);
    du
}

fn tool<'a>(du: &'a Value, id: &str) -> &'a Value {
    du["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool_id"] == id)
        .unwrap()
}

fn verify_all(root: &Path, tool: &str) {
    tooldelta(&["verify", tool, "--root", s(root), "--all-releases"]).assert_success();
}

#[test]
fn du_remove_and_gc_agree_with_the_disk_and_keep_what_kept_releases_and_other_tools_need() {
    let hq = Hq::new();
    let mirror = Mirror::start(&hq.path("hq"), &[]);
    for (tool, version) in [(A, "1.0.0"), (A, "1.1.0"), (B, "1.0.0")] {
        hq.publish(&mirror.store, tool, version, MODEL);
    }
    let root = hq.path("ws");
    hq.update(&root, &mirror.url, A, &["--version", "1.0.0"])
        .assert_success();
    hq.update(&root, &mirror.url, A, &[]).assert_success();
    hq.update(&root, &mirror.url, B, &[]).assert_success();
    // An interrupted download and an object nothing lists.
    std::fs::write(
        root.join("objects/partial")
            .join(format!("{}.partial", "e".repeat(64))),
        vec![7u8; 1000],
    )
    .unwrap();
    let stray = root.join("objects/sha256/ff").join("f".repeat(64));
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, vec![1u8; 500]).unwrap();

    let before = du(&root);
    let common = "shared by every version and tool\n".len() as u64;
    let script = |t: &str, v: &str| format!("echo {t} {v}\n").len() as u64;
    let a = tool(&before, A);
    assert_eq!(a["active"], "1.1.0");
    assert_eq!(a["releases"].as_array().unwrap().len(), 2, "{a}");
    assert_eq!(a["shared_bytes"], common, "lib/common.txt is B's too");
    assert_eq!(
        a["unique_bytes"],
        2 * MODEL + script(A, "1.0.0") + script(A, "1.1.0")
    );
    assert_eq!(a["kept_only_bytes"], MODEL + script(A, "1.0.0"));
    assert_eq!(tool(&before, B)["unique_bytes"], MODEL + script(B, "1.0.0"));
    assert_eq!(
        (&before["partials"], &before["partial_bytes"]),
        (&1.into(), &1000.into())
    );
    assert_eq!(before["unreferenced_bytes"], 500);
    assert!(before["free_bytes"].as_u64().unwrap() > 0);

    // A young partial survives --older-than; `gc` takes the stray object.
    let gc = tooldelta(&[
        "gc",
        "--root",
        s(&root),
        "--partials",
        "--older-than",
        "7d",
        "--json",
    ])
    .assert_success()
    .json();
    assert_eq!(
        (
            &gc["objects_removed"],
            &gc["objects_bytes"],
            &gc["partials_removed"]
        ),
        (&1.into(), &500.into(), &0.into())
    );
    assert!(!stray.exists());
    let gc = tooldelta(&["gc", "--root", s(&root), "--partials", "--json"])
        .assert_success()
        .json();
    assert_eq!(
        (&gc["partials_removed"], &gc["partials_bytes"]),
        (&1.into(), &1000.into())
    );
    du(&root);

    // Removing B frees its model; the file A shares stays and A verifies.
    let removed = tooldelta(&["remove", B, "--root", s(&root), "--json"])
        .assert_success()
        .json();
    assert_eq!(removed["version"], "1.0.0");
    assert_eq!(removed["gc"]["objects_bytes"], MODEL + script(B, "1.0.0"));
    assert!(!root.join("tools").join(B).exists());
    verify_all(&root, A);
    let after = du(&root);
    assert_eq!(
        tool(&after, A)["shared_bytes"],
        0,
        "nobody shares with A any more"
    );
    assert_eq!(after["tools"].as_array().unwrap().len(), 1);
    tooldelta(&["remove", B, "--root", s(&root)]).assert_failure();

    // Dropping kept releases frees what only 1.0.0 listed; 1.1.0 verifies.
    let gc = tooldelta(&["gc", "--root", s(&root), "--releases", "--json"])
        .assert_success()
        .json();
    assert_eq!(
        gc["releases_removed"],
        serde_json::json!([format!("{A}@1.0.0")])
    );
    assert_eq!(gc["objects_bytes"], MODEL + script(A, "1.0.0"));
    verify_all(&root, A);
    let last = du(&root);
    assert_eq!(tool(&last, A)["releases"].as_array().unwrap().len(), 1);
    assert_eq!(tool(&last, A)["kept_only_bytes"], 0);
    // A rollback target is gone, so rollback says so instead of breaking.
    tooldelta(&["rollback", A, "--root", s(&root)]).assert_failure();
}

fn blobs(store: &Path) -> Vec<(String, u64)> {
    walkdir::WalkDir::new(store.join("blobs/sha256"))
        .min_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect()
}

#[test]
fn mirror_remove_and_gc_free_only_what_no_stored_version_lists() {
    let hq = Hq::new();
    let store = hq.path("hq");
    std::fs::create_dir_all(&store).unwrap();
    hq.publish(&store, A, "1.0.0", MODEL);
    hq.publish(&store, A, "1.1.0", MODEL);
    let before = blobs(&store).len();
    // A channel offering 1.1.0 protects it.
    let channel = hq.path("stable.json");
    let key = hq.keys.secret_pem();
    tooldelta(&[
        "channel",
        "set",
        "--tool",
        A,
        "--channel",
        "stable",
        "--version",
        "1.1.0",
        "--key",
        s(&key),
        "--out",
        s(&channel),
    ])
    .assert_success();
    mirror_cli(&[
        "import-channel",
        "--store",
        s(&store),
        "--channel",
        s(&channel),
    ])
    .assert_success();
    let refused = mirror_cli(&[
        "remove",
        "--store",
        s(&store),
        "--tool",
        A,
        "--version",
        "1.1.0",
    ]);
    refused.assert_failure();
    assert!(
        refused.stderr.contains("channel stable"),
        "{}",
        refused.stderr
    );

    mirror_cli(&[
        "remove",
        "--store",
        s(&store),
        "--tool",
        A,
        "--version",
        "1.0.0",
    ])
    .assert_success();
    let young = mirror_cli(&["gc", "--store", s(&store), "--json"])
        .assert_success()
        .json();
    assert_eq!(
        young["blobs_removed"], 0,
        "fresh blobs wait out the grace time"
    );
    let gc = mirror_cli(&["gc", "--store", s(&store), "--grace-secs", "0", "--json"])
        .assert_success()
        .json();
    // 1.0.0's script and model were its own, and so was its pack of small
    // files (index + pack blob); run.sh of 1.1.0, common.txt and 1.1.0's
    // pack stay (a gc blind to packs removes 1.1.0's too: 6).
    assert_eq!(gc["blobs_removed"], 4, "{gc}");
    assert!(
        gc["bytes_removed"].as_u64().unwrap() > MODEL + "echo tool-a 1.0.0\n".len() as u64,
        "{gc}"
    );
    assert_eq!(blobs(&store).len(), before - 4);

    let mirror = Mirror::start(&store, &[]);
    assert_eq!(
        mirror
            .get(&format!("/api/v1/tools/{A}/1.0.0/manifest.json"))
            .status,
        404
    );
    let root = hq.path("ws");
    hq.update(&root, &mirror.url, A, &[]).assert_success();
    verify_all(&root, A);
}

#[test]
fn a_pull_through_cache_stays_under_its_limit_and_every_version_it_serves_verifies() {
    let hq = Hq::new();
    let hq_mirror = Mirror::start(&hq.path("hq"), &[]);
    let versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"];
    for v in versions {
        hq.publish(&hq_mirror.store, A, v, MODEL);
    }
    let limit = 2 * MODEL + 1024;
    let trust = hq.keys.public_pem();
    let site = Mirror::start(
        &hq.path("site"),
        &[
            "--upstream",
            &hq_mirror.url,
            "--trust",
            s(&trust),
            "--max-cache-bytes",
            &limit.to_string(),
            "--cache-pin-secs",
            "1",
        ],
    );
    let stored = || blobs(&site.store).iter().map(|(_, n)| n).sum::<u64>();
    for round in 0..2 {
        for v in versions {
            // Past the pin window of the version served before.
            std::thread::sleep(std::time::Duration::from_millis(1100));
            let root = hq.path(&format!("ws-{round}-{v}"));
            hq.update(&root, &site.url, A, &["--version", v])
                .assert_success();
            verify_all(&root, A);
            assert!(
                stored() <= limit,
                "round {round} {v}: {} stored, limit {limit}",
                stored()
            );
            let pulled = site.metric("tooldelta_mirror_cache_pulled_bytes").unwrap();
            assert!(
                pulled <= limit as f64,
                "round {round} {v}: {pulled} > {limit}"
            );
        }
    }
    let evictions = site
        .metric("tooldelta_mirror_cache_evictions_total")
        .unwrap();
    assert!(
        evictions >= 4.0,
        "old versions were evicted and pulled again: {evictions}"
    );
}
