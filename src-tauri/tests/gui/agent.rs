//! The agent's run, seen live in the kiosk: `tooldelta agent --once` (a
//! separate process) updates the tool through a throttling proxy while the
//! app in `--kiosk` mode shows its progress from the snapshots the engine
//! publishes, then the new version.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Gui;
use crate::fixture::{Fixture, TOOL, bin, files};
use crate::throttle;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
async fn the_kiosk_shows_the_agents_update_live() {
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

    let gui = Gui::open(&fixture, &["--kiosk"], &[]).await;
    let s = gui.s();
    s.wait_for(&format!("[data-testid=\"kiosk-tool-{TOOL}\"]"))
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
    let started = Instant::now();
    let status = loop {
        if let Some(status) = agent.try_wait().expect("wait for the agent") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the agent hangs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "agent --once failed: {status}");

    let seen = s.exec("return window.__seen").await;
    let percents = percents(&seen);
    assert!(
        percents.iter().any(|p| *p > 0.0 && *p < 100.0),
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
