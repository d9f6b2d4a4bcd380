//! Issue 15's fleet acceptance with the real binaries: fifty workstations
//! (real `tooldelta report` processes, distinct roots) report through a site
//! mirror to HQ; HQ's `/api/v1/fleet` and `/metrics` count them right; bad
//! and flooding reports are refused while the mirror keeps serving.

mod fleet_support;

use std::path::PathBuf;

use fleet_support::{Hq, Mirror, TOOL, in_batches, s, tooldelta};
use serde_json::{Value, json};

const WORKSTATIONS: usize = 50;
const ON_OLD: usize = 20;
const MODIFIED: [usize; 3] = [3, 17, 41];
const FAILED: [usize; 2] = [8, 29];
const HELD: usize = 44;

fn count(fleet: &Value) -> usize {
    fleet["workstations"].as_array().unwrap().len()
}

#[test]
fn fifty_workstations_report_through_a_site_mirror_and_hq_counts_them_right() {
    let hq = Hq::new();
    let hq_mirror = Mirror::start(&hq.path("hq"), &["--report-token", "hq-token"]);
    hq.publish(&hq_mirror.store, TOOL, "1.0.0", 0);
    hq.publish(&hq_mirror.store, TOOL, "1.1.0", 0);
    let trust = hq.keys.public_pem();
    let site = Mirror::start(
        &hq.path("site"),
        &[
            "--upstream",
            &hq_mirror.url,
            "--trust",
            s(&trust),
            "--report-token",
            "site-token",
            "--upstream-report-token",
            "hq-token",
            "--report-forward-secs",
            "0.2",
        ],
    );

    let roots: Vec<(usize, PathBuf)> = (0..WORKSTATIONS)
        .map(|i| (i, hq.path(&format!("ws/{i:02}"))))
        .collect();
    // Installs through the site: the first ON_OLD stay on 1.0.0.
    in_batches(roots.clone(), 10, |(i, root)| {
        let pin = if i < ON_OLD {
            vec!["--version", "1.0.0"]
        } else {
            vec![]
        };
        hq.update(&root, &site.url, TOOL, &pin).assert_success();
    });
    damage(&hq, &site, &roots);

    // Fifty real report processes, ten at a time, to the site.
    in_batches(roots.clone(), 10, |(i, root)| {
        let out = tooldelta(&[
            "report",
            "--mirror",
            &site.url,
            "--root",
            s(&root),
            "--token",
            "site-token",
            "--workstation-id",
            &format!("ws-{i:02}"),
            "--json",
        ]);
        out.assert_success();
        assert_eq!(out.json()["workstation_id"], format!("ws-{i:02}"));
    });

    hq_mirror.wait_for("fifty workstations at HQ", |m| {
        count(&m.json("/api/v1/fleet")) == WORKSTATIONS
    });
    let fleet = hq_mirror.json("/api/v1/fleet");
    for ws in fleet["workstations"].as_array().unwrap() {
        let i: usize = ws["workstation_id"].as_str().unwrap()[3..].parse().unwrap();
        let tool = &ws["tools"][0];
        let want = if i < ON_OLD { "1.0.0" } else { "1.1.0" };
        assert_eq!(tool["version"], want, "{ws}");
        assert_eq!(tool["tool_id"], TOOL);
        assert_eq!(tool["manifest_hash"].as_str().unwrap().len(), 64);
        assert_eq!(tool["channel"], "stable");
        assert_eq!(tool["held"], i == HELD, "{ws}");
        let integrity = if MODIFIED.contains(&i) {
            "modified"
        } else {
            "ok"
        };
        assert_eq!(tool["integrity"], integrity, "{ws}");
        let result = if FAILED.contains(&i) { "failed" } else { "ok" };
        assert_eq!(tool["last_result"], result, "{ws}");
        if FAILED.contains(&i) {
            assert!(
                tool["last_error"].as_str().unwrap().contains("9.9.9"),
                "{ws}"
            );
        }
        assert!(ws["free_disk_bytes"].as_u64().unwrap() > 0);
        assert_eq!(ws["stale"], false);
    }
    assert_eq!(
        count(&site.json("/api/v1/fleet")),
        WORKSTATIONS,
        "the site keeps its own view"
    );

    filters_and_metrics(&hq_mirror, &fleet);
    assert_eq!(
        site.metric("tooldelta_fleet_reports_forwarded_total"),
        Some(50.0)
    );
}

/// Modified files on some workstations, failed updates on others, a hold.
fn damage(hq: &Hq, site: &Mirror, roots: &[(usize, PathBuf)]) {
    for i in MODIFIED {
        let file = roots[i].1.join("tools").join(TOOL).join("current/run.sh");
        // Replace, not edit in place: the store's hard-linked object stays good.
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, "echo tampered\n").unwrap();
        let verify = tooldelta(&["verify", TOOL, "--root", s(&roots[i].1)]);
        assert_eq!(verify.code, Some(1), "{}", verify.stderr);
    }
    for i in FAILED {
        hq.update(&roots[i].1, &site.url, TOOL, &["--version", "9.9.9"])
            .assert_failure();
    }
    for (_, root) in roots {
        tooldelta(&["verify", TOOL, "--root", s(root)]);
    }
    tooldelta(&["hold", TOOL, "--root", s(&roots[HELD].1)]).assert_success();
}

/// HQ's filters and `/metrics` count the same fleet.
fn filters_and_metrics(hq_mirror: &Mirror, fleet: &Value) {
    // Filters.
    let old = hq_mirror.json(&format!("/api/v1/fleet?tool={TOOL}&version=1.0.0"));
    assert_eq!(count(&old), ON_OLD);
    assert_eq!(
        count(&hq_mirror.json("/api/v1/fleet?state=failed")),
        FAILED.len()
    );
    assert_eq!(
        count(&hq_mirror.json("/api/v1/fleet?state=modified")),
        MODIFIED.len()
    );
    assert_eq!(count(&hq_mirror.json("/api/v1/fleet?state=held")), 1);
    assert_eq!(count(&hq_mirror.json("/api/v1/fleet?state=stale")), 0);
    assert_eq!(count(&hq_mirror.json("/api/v1/fleet?tool=other")), 0);
    assert_eq!(hq_mirror.get("/api/v1/fleet?state=bogus").status, 400);
    let rollout = &fleet["rollouts"][0];
    assert_eq!(
        (
            &rollout["version"],
            &rollout["on_version"],
            &rollout["workstations"]
        ),
        (
            &json!("1.1.0"),
            &json!(WORKSTATIONS - ON_OLD),
            &json!(WORKSTATIONS)
        )
    );

    // The same counts in /metrics.
    let m = |sample: &str| hq_mirror.metric(sample);
    assert_eq!(m("tooldelta_fleet_workstations"), Some(50.0));
    let per_version = |v: &str| {
        m(&format!(
            "tooldelta_fleet_tool_version_workstations{{tool_id=\"{TOOL}\",version=\"{v}\"}}"
        ))
    };
    assert_eq!(per_version("1.0.0"), Some(ON_OLD as f64));
    assert_eq!(per_version("1.1.0"), Some((WORKSTATIONS - ON_OLD) as f64));
    let label = format!("{{tool_id=\"{TOOL}\"}}");
    assert_eq!(
        m(&format!("tooldelta_fleet_failed_workstations{label}")),
        Some(2.0)
    );
    assert_eq!(
        m(&format!("tooldelta_fleet_modified_workstations{label}")),
        Some(3.0)
    );
    assert_eq!(m("tooldelta_fleet_stale_workstations"), Some(0.0));
}

fn report(id: &str) -> Value {
    json!({
        "workstation_id": id,
        "hostname": "lab",
        "reported_at": jiff::Timestamp::now().to_string(),
        "tools": [{
            "tool_id": TOOL, "version": "9.9.9", "manifest_hash": "ab".repeat(32),
            "integrity": "ok", "last_result": "ok", "channel": "stable", "held": false
        }]
    })
}

#[test]
fn bad_and_flooding_reports_are_refused_and_change_nothing_else() {
    let hq = Hq::new();
    let mirror = Mirror::start(
        &hq.path("hq"),
        &[
            "--report-token",
            "t0ken",
            "--report-burst",
            "3",
            "--report-interval-secs",
            "3600",
        ],
    );
    let manifest = hq.publish(&mirror.store, TOOL, "1.0.0", 256 * 1024);
    let catalog = mirror.get("/api/v1/tools").body;
    let listed: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let blob = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "model.bin")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = "Authorization: Bearer t0ken\r\n";
    let post = |headers: &str, body: &[u8]| {
        fleet_support::http::post(mirror.port, "/api/v1/reports", headers, body)
    };
    let good = report("ws-good").to_string();

    // Bad reports, each with its own clear 4xx.
    let no_token = post("", good.as_bytes());
    assert_eq!(no_token.status, 401, "{}", no_token.text());
    assert_eq!(
        post("Authorization: Bearer wrong\r\n", good.as_bytes()).status,
        401
    );
    let malformed = post(auth, b"{\"workstation_id\": ");
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.text().contains("not valid report JSON"),
        "{}",
        malformed.text()
    );
    let oversized = post(auth, &vec![b' '; 8 * 1024 * 1024]);
    assert_eq!(oversized.status, 413, "{}", oversized.text());
    let mut big = report("ws-big");
    big["hostname"] = json!("h".repeat(100 * 1024));
    assert_eq!(post(auth, big.to_string().as_bytes()).status, 413);
    let mut hostile = report("ws-hostile");
    hostile["tools"][0]["version"] = json!("<img src=x onerror=alert(1)>");
    let refused = post(auth, hostile.to_string().as_bytes());
    assert_eq!(refused.status, 422);
    assert!(refused.text().contains("version"), "{}", refused.text());

    // A flood from one workstation: the burst passes, the rest is 429, and
    // the mirror serves a blob between every report.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(post(auth, good.as_bytes()).status);
        let reply = mirror.get(&format!("/api/v1/blobs/sha256/{blob}"));
        assert_eq!(reply.status, 200);
        assert_eq!(tooldelta_core::hash::hash_bytes(&reply.body).sha256, blob);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        27,
        "{statuses:?}"
    );

    // Only the good report is stored; nothing a workstation installs moved.
    let fleet = mirror.json("/api/v1/fleet");
    assert_eq!(count(&fleet), 1, "{fleet}");
    assert_eq!(fleet["workstations"][0]["workstation_id"], "ws-good");
    assert_eq!(
        mirror.get("/api/v1/tools").body,
        catalog,
        "a report claiming 9.9.9 changes no catalog"
    );
    let root = hq.path("ws");
    let update = hq
        .update(&root, &mirror.url, TOOL, &[])
        .assert_success()
        .json();
    assert_eq!(update["to_version"], "1.0.0");
    let refusals = |reason: &str| {
        mirror.metric(&format!(
            "tooldelta_fleet_reports_refused_total{{reason=\"{reason}\"}}"
        ))
    };
    assert_eq!(refusals("token"), Some(2.0));
    assert_eq!(refusals("rate"), Some(27.0));
}
