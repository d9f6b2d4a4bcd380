//! The agent's run, seen live in the kiosk and on the dashboard's card:
//! `tooldelta agent --once` (a separate process) updates the tool through a
//! throttling proxy while one app in `--kiosk` mode and another with the
//! dashboard show its progress from the snapshots the engine publishes, then
//! the new version. The dashboard app's OS notifications ("update available",
//! then "updated", once) reach a real notification server (dunst) on a
//! private session bus, and its tray icon's label, read over that bus from
//! the indicator it exports, goes "1" (pending), "N %", then empty.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::{Fixture, TOOL, bin, files};
use crate::tray::{tray_label, wait_tray};
use crate::{Gui, card, procs, throttle, webdriver};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
#[allow(clippy::too_many_lines)] // one scenario, told in order
async fn the_kiosk_and_the_dashboard_show_the_agents_update_live_and_notify_it() {
    // 8 MiB new at 1 MiB/s: about eight seconds to watch (the idle kiosk polls every 5 s).
    let fixture = Fixture::with_new_file(&["1.0.0", "1.1.0"], "1.0.0", 8 << 20).await;
    let proxy = throttle::Throttle::start(fixture.mirror_port, 1 << 20);
    let config = fixture.dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "root = \"{}\"\nmirrors = [\"http://127.0.0.1:{}\"]\ntrust = [\"{}\"]\n[tools.{TOOL}]\npolicy = \"auto\"\n",
            fixture.root.display(),
            proxy.port,
            fixture.trust.display()
        ),
    )
    .expect("agent settings");

    // A real notification server on a bus of its own, for the dashboard app.
    let (_bus, bus) = procs::session_bus();
    let (_screen, display) = procs::xvfb();
    let logs = webdriver::screenshot_dir().join("../gui-logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let notified = logs.join("agent-notifications.log");
    let _dunst = procs::notification_server(&display, &bus, &notified);

    let gui = Gui::open(&fixture, &["--kiosk"], &[]).await;
    let dash = Gui::open(&fixture, &[], &[("DBUS_SESSION_BUS_ADDRESS", bus.clone())]).await;
    let (s, d) = (gui.s(), dash.s());
    s.wait_for(&format!("[data-testid=\"kiosk-tool-{TOOL}\"]"))
        .await;
    d.wait_text(&card("installed-version"), "1.0.0", |t| t == "1.0.0")
        .await;
    // The dashboard's listing found 1.1.0 pending.
    wait_notified(&notified, &format!("Update available: {TOOL}")).await;
    // The tray icon (its indicator label, over D-Bus) counts one pending update.
    wait_tray(&bus, "1").await;
    // Record every percentage the card's bar shows for another process's run.
    d.exec(&format!(
        "window.__seen = []; new MutationObserver(() => {{ \
           const b = document.querySelector('[data-testid=\"tool-card-{TOOL}\"] [data-testid=external-run] [data-testid=progress-bar]'); \
           if (b && b.getAttribute('aria-valuenow')) window.__seen.push(b.getAttribute('aria-valuenow') + ' %'); \
         }}).observe(document.body, {{subtree: true, childList: true, attributes: true, characterData: true}}); \
         return true;"
    ))
    .await;
    // Record every percentage the running strip shows.
    s.exec(
        "window.__seen = []; new MutationObserver(() => { \
           const p = document.querySelector('[data-testid=\"kiosk-running\"]'); \
           if (p) window.__seen.push(p.textContent); \
         }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true}); \
         return true;",
    )
    .await;

    let mut agent = Command::new(bin("tooldelta"))
        .arg("agent")
        .arg("--once")
        .arg("--config")
        .arg(&config)
        .env_remove("TOOLDELTA_CONFIG")
        .env_remove("TOOLDELTA_MIRROR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent");
    // The strip's text as the page holds it (WebKitWebDriver's element text
    // leaves out what the kiosk clips).
    let strip = "const e = document.querySelector('[data-testid=kiosk-running]'); return e ? e.textContent : ''";
    let mut text = String::new();
    for _ in 0..450 {
        text = s.exec(strip).await.as_str().unwrap_or_default().to_owned();
        if text.contains(TOOL) && text.contains("run by process") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        text.contains(TOOL) && text.contains("run by process"),
        "the kiosk never showed the agent's run: {text:?}"
    );
    s.screenshot("kiosk-agent-run").await;
    d.screenshot("dashboard-agent-run").await;
    let started = Instant::now();
    let mut labels = Vec::new();
    let status = loop {
        if let Some(status) = agent.try_wait().expect("wait for the agent") {
            break status;
        }
        labels.extend(tray_label(&bus));
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the agent hangs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "agent --once failed: {status}");

    let seen = s.exec("return window.__seen").await;
    assert!(
        percents(&seen).iter().any(|p| *p > 0.0 && *p < 100.0),
        "no progress between 0 and 100 % of the agent's run was shown: {seen}"
    );
    // The run over, the tile shows the new version.
    let script = format!(
        "const e = document.querySelector('[data-testid=kiosk-tool-{TOOL}]'); return e ? e.textContent : ''"
    );
    let mut text = String::new();
    for _ in 0..150 {
        text = s
            .exec(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if text.contains("1.1.0") && !text.contains("1.0.0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(text.contains("1.1.0") && !text.contains("1.0.0"), "{text}");
    s.screenshot("kiosk-agent-done").await;

    // The card followed the agent's run with real figures, not an
    // indeterminate bar, then shows what it installed.
    let seen = d.exec("return window.__seen").await;
    assert!(
        percents(&seen).iter().any(|p| *p > 0.0 && *p < 100.0),
        "the dashboard card showed no progress between 0 and 100 % of the agent's run: {seen}"
    );
    d.wait_text(&card("installed-version"), "1.1.0", |t| t == "1.1.0")
        .await;
    d.screenshot("dashboard-agent-done").await;
    // The tray said "updating N %" while the agent ran, and nothing once done.
    assert!(
        labels.iter().any(|l| l.ends_with(" %")),
        "the tray never showed the agent's progress: {labels:?}"
    );
    wait_tray(&bus, "").await;
    // Announced once, though the outcome stays in its snapshot for every poll.
    let updated = format!("Updated: {TOOL}");
    wait_notified(&notified, &updated).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = std::fs::read_to_string(&notified).expect("dunst log");
    // dunst prints each notification's summary on its own line once.
    let once = format!("summary: '{updated}'");
    assert_eq!(log.matches(&once).count(), 1, "{log}");
    assert!(log.contains("is now at 1.1.0 (run by process"), "{log}");
    dash.close().await;
    gui.close().await;
    drop(proxy);
    assert_eq!(files(&fixture.current()), files(&fixture.tree("1.1.0")));
}

/// The percentages in the strip's recorded texts (`"… 42 % …"`).
fn percents(seen: &serde_json::Value) -> Vec<f64> {
    seen.as_array()
        .expect("array")
        .iter()
        .filter_map(|t| {
            let t = t.as_str()?;
            let end = t.find(" %")?;
            let digits: String = t[..end]
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.chars().rev().collect::<String>().parse().ok()
        })
        .collect()
}

/// Waits (bounded) until the notification server printed `summary`.
async fn wait_notified(log: &std::path::Path, summary: &str) {
    for _ in 0..150 {
        if std::fs::read_to_string(log).is_ok_and(|t| t.contains(summary)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    panic!("no notification {summary:?} reached the server: {text}");
}
