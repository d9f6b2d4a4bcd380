//! The `/fleet` page in a real headless Chromium (Debian's `chromium` and
//! `chromedriver`) against a real mirror holding reports from real
//! `tooldelta report` processes: workstations × tools with versions, the
//! failed, modified and stale ones highlighted, rollout progress per channel,
//! and report text shown as text, never run as markup.

mod fleet_support;

use fleet_support::webdriver::Browser;
use fleet_support::{Hq, Mirror, TOOL, s, tooldelta};
use serde_json::{Value, json};

/// What the test reads from the rendered page.
const READ_PAGE: &str = r#"
        const cell = (ws, tool) => {
          const td = document.querySelector(`#fleet tr[data-ws="${ws}"] td[data-tool="${tool}"]`);
          return td ? {text: td.firstChild.textContent, cls: td.className, state: td.dataset.state} : null;
        };
        const rollout = [...document.querySelectorAll('#rollouts tbody tr')].map(tr =>
          [tr.dataset.tool, tr.dataset.channel, tr.querySelector('.version').textContent, tr.querySelector('.progress').textContent]);
        return {
          title: document.title,
          counts: ['workstations','stale','failed','modified'].map(n => document.getElementById('count-' + n).textContent),
          ws0: cell('ws-0', 'fleet-tool'), ws1: cell('ws-1', 'fleet-tool'), ws1b: cell('ws-1', 'second-tool'),
          ws2: cell('ws-2', 'fleet-tool'), ws3: cell('ws-3', 'fleet-tool'),
          staleRow: document.querySelector('#fleet tr[data-ws="ws-stale"]').className,
          staleHost: document.querySelector('#fleet tr[data-ws="ws-stale"] td:nth-child(2)').textContent,
          images: document.querySelectorAll('#fleet img').length,
          headers: [...document.querySelectorAll('#fleet thead th')].map(th => th.textContent),
          rollout,
        };
        "#;

#[test]
fn the_fleet_page_shows_versions_states_and_rollout_progress_in_a_real_browser() {
    let hq = Hq::new();
    let (mirror, stale) = fleet_with_reports(&hq);

    let browser = Browser::start();
    browser.open(&format!("{}/fleet", mirror.url));
    browser.wait_until("the fleet table", "return document.body.dataset.loaded !== undefined && document.querySelectorAll('#fleet tbody tr').length === 5");
    let page = browser.eval(READ_PAGE);
    let shots = tooldelta_testkit::target_dir().join("fleet-screenshots");
    browser.screenshot(&shots.join("fleet.png"));
    assert_eq!(
        page["title"], "tooldelta fleet",
        "no report text ran as script: {page}"
    );
    assert_eq!(page["images"], 0, "the hostile host name is text: {page}");
    assert_eq!(page["staleHost"], stale["hostname"]);
    assert_eq!(page["counts"], json!(["5", "1", "1", "1"]), "{page}");
    assert_eq!(cell(&page["ws0"]), ("1.0.0", "ok"));
    assert_eq!(cell(&page["ws1"]), ("1.1.0", "ok"));
    assert_eq!(cell(&page["ws1b"]), ("2.0.0", "ok"));
    assert_eq!(cell(&page["ws2"]), ("1.1.0", "failed"));
    assert_eq!(cell(&page["ws3"]), ("1.1.0", "modified"));
    assert!(page["ws2"]["cls"].as_str().unwrap().contains("failed"));
    assert!(page["ws3"]["cls"].as_str().unwrap().contains("modified"));
    assert_eq!(page["staleRow"], "stale");
    assert!(
        page["headers"]
            .as_array()
            .unwrap()
            .contains(&json!("second-tool"))
    );
    // stable of fleet-tool: 3 of 5 on 1.1.0 (ws-0 and ws-stale on 1.0.0).
    assert!(
        page["rollout"]
            .as_array()
            .unwrap()
            .contains(&json!([TOOL, "stable", "1.1.0", "3 / 5"])),
        "{page}"
    );

    // The filter narrows the table in the page.
    browser.eval("const s = document.getElementById('filter-state'); s.value = 'failed'; s.dispatchEvent(new Event('change')); return true;");
    browser.wait_until(
        "the failed filter",
        "return document.querySelectorAll('#fleet tbody tr').length === 1",
    );
    let only: Value = browser.eval("return document.querySelector('#fleet tbody tr').dataset.ws;");
    assert_eq!(only, "ws-2");
    browser.screenshot(&shots.join("fleet-failed.png"));
}

/// A mirror holding reports from four real `tooldelta report` runs (one
/// failed update, one modified file) and a stale, hostile one.
fn fleet_with_reports(hq: &Hq) -> (Mirror, Value) {
    let mirror = Mirror::start(&hq.path("hq"), &[]);
    hq.publish(&mirror.store, TOOL, "1.0.0", 0);
    hq.publish(&mirror.store, TOOL, "1.1.0", 0);
    hq.publish(&mirror.store, "second-tool", "2.0.0", 0);
    let root = |i: usize| hq.path(&format!("ws/{i}"));
    for i in 0..4 {
        let pin = if i == 0 {
            vec!["--version", "1.0.0"]
        } else {
            vec![]
        };
        hq.update(&root(i), &mirror.url, TOOL, &pin)
            .assert_success();
        tooldelta(&["verify", TOOL, "--root", s(&root(i))]).assert_success();
    }
    hq.update(&root(1), &mirror.url, "second-tool", &[])
        .assert_success();
    // ws-2 fails its last update; ws-3 holds a modified file.
    hq.update(&root(2), &mirror.url, TOOL, &["--version", "7.7.7"])
        .assert_failure();
    let file = root(3).join("tools").join(TOOL).join("current/run.sh");
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, "tampered\n").unwrap();
    tooldelta(&["verify", TOOL, "--root", s(&root(3))]).assert_failure();
    for i in 0..4 {
        tooldelta(&[
            "report",
            "--mirror",
            &mirror.url,
            "--root",
            s(&root(i)),
            "--workstation-id",
            &format!("ws-{i}"),
        ])
        .assert_success();
    }
    // A workstation that has not reported for two days, with a hostile host name.
    let stale = json!({
        "workstation_id": "ws-stale",
        "hostname": "<img src=x onerror=\"document.title='pwned'\">",
        "reported_at": (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48)).to_string(),
        "tools": [{"tool_id": TOOL, "version": "1.0.0", "manifest_hash": null,
                   "integrity": "unknown", "last_result": "none", "channel": "stable", "held": false}]
    });
    let posted = fleet_support::http::post(
        mirror.port,
        "/api/v1/reports",
        "",
        stale.to_string().as_bytes(),
    );
    assert_eq!(posted.status, 202, "{}", posted.text());

    (mirror, stale)
}

fn cell(v: &Value) -> (&str, &str) {
    (
        v["text"].as_str().unwrap_or_default(),
        v["state"].as_str().unwrap_or_default(),
    )
}
