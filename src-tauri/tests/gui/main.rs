//! End-to-end tests of the desktop app in a real window: Xvfb, tauri-driver
//! and WebKitWebDriver drive the real `tooldelta-app` binary against a real
//! `tooldelta-mirror` on 127.0.0.1 seeded with the demo-tool fixture.
//! Screenshots land in `target/gui-screenshots/`. Run with `make test-gui`
//! (`cargo test -p tooldelta-app --test gui -- --ignored --test-threads=1`).

mod agent;
mod fixture;
mod fleet;
mod minisign;
mod procs;
mod scale;
mod throttle;
mod tray;
mod webdriver;

use std::process::Command;

use fixture::{Fixture, TOOL, bin, files, run};
use procs::Proc;
use webdriver::Session;

/// The app in a window, with everything it needs running. Dropped in field
/// order: driver (closes WebKitWebDriver), then Xvfb.
struct Gui {
    session: Option<Session>,
    _driver: Proc,
    _xvfb: Proc,
}

impl Gui {
    async fn open(fixture: &Fixture, args: &[&str], extra_env: &[(&'static str, String)]) -> Gui {
        let app = std::path::PathBuf::from(env!("CARGO_BIN_EXE_tooldelta-app"));
        Self::open_binary(fixture, &app, args, extra_env).await
    }

    async fn open_binary(
        fixture: &Fixture,
        app: &std::path::Path,
        args: &[&str],
        extra_env: &[(&'static str, String)],
    ) -> Gui {
        let mut env = fixture.env();
        env.extend_from_slice(extra_env);
        Self::open_on(procs::xvfb(), app, args, &env).await
    }

    /// The app on a screen of `width`×`height` with `env`.
    async fn open_sized(env: &[(&'static str, String)], args: &[&str], size: (u32, u32)) -> Gui {
        let app = std::path::PathBuf::from(env!("CARGO_BIN_EXE_tooldelta-app"));
        Self::open_on(procs::xvfb_sized(size.0, size.1), &app, args, env).await
    }

    async fn open_on(
        (xvfb, display): (Proc, String),
        app: &std::path::Path,
        args: &[&str],
        env: &[(&'static str, String)],
    ) -> Gui {
        // Kept after the run (target/gui-logs) for a failure's post-mortem.
        let logs = webdriver::screenshot_dir().join("../gui-logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let name = std::thread::current()
            .name()
            .unwrap_or("gui")
            .replace("::", "-");
        let (driver, port) = procs::tauri_driver(&display, env, &logs.join(format!("{name}.log")));
        let session = Session::start(port, app, args).await;
        Gui {
            session: Some(session),
            _driver: driver,
            _xvfb: xvfb,
        }
    }

    fn s(&self) -> &Session {
        self.session.as_ref().expect("session open")
    }

    async fn close(mut self) {
        if let Some(session) = self.session.take() {
            session.close().await;
        }
    }
}

fn card(part: &str) -> String {
    format!("[data-testid=\"tool-card-{TOOL}\"] [data-testid=\"{part}\"]")
}

/// `tooldelta verify --json` on the fixture's root: the acceptance check.
fn cli_verify(fixture: &Fixture) -> serde_json::Value {
    // Exactly the acceptance setup: root, mirror and trust from the environment.
    let env = fixture.env();
    let acceptance = env
        .iter()
        .filter(|(k, _)| k.starts_with("TOOLDELTA_") && *k != "TOOLDELTA_CONFIG");
    let out = run(Command::new(bin("tooldelta"))
        .args(["verify", TOOL, "--json"])
        .env_remove("TOOLDELTA_CONFIG")
        .envs(acceptance.map(|(k, v)| (*k, v.as_str()))));
    serde_json::from_str(&out).expect("verify --json prints JSON")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
async fn dashboard_shows_the_pending_delta_and_update_installs_the_new_version() {
    let fixture = Fixture::new(&["1.0.0", "1.1.0"], "1.0.0").await;
    let gui = Gui::open(&fixture, &[], &[]).await;
    let s = gui.s();

    s.wait_for(&format!("[data-testid=\"tool-card-{TOOL}\"]"))
        .await;
    assert_eq!(
        s.wait_text(&card("tool-id"), "the tool id", |t| t == TOOL)
            .await,
        TOOL
    );
    s.wait_text(&card("installed-version"), "1.0.0", |t| t == "1.0.0")
        .await;
    s.wait_text(&card("available-version"), "1.1.0", |t| t == "1.1.0")
        .await;
    let sig = s
        .wait_text(&card("signature-badge"), "valid", |t| t.contains("valid"))
        .await;
    assert!(!sig.contains("invalid"), "{sig}");
    // The shared 6 MiB model is not downloaded again.
    s.wait_text(&card("bytes-saved"), "bytes saved", |t| {
        t.contains("MiB saved")
    })
    .await;
    let update = s
        .find(&card("update-button"))
        .await
        .expect("an Update button");
    assert_eq!(s.text(&update).await, "Update");
    assert!(s.enabled(&update).await);
    s.screenshot("dashboard-pending-update").await;

    s.click(&update).await;
    let report = s.wait_for(&card("update-report")).await;
    assert!(s.text(&report).await.contains("Updated to 1.1.0"));
    s.wait_text(&card("report-bytes-saved"), "bytes saved", |t| {
        t.ends_with("MiB")
    })
    .await;
    s.wait_text(&card("installed-version"), "1.1.0", |t| t == "1.1.0")
        .await;
    s.screenshot("dashboard-after-update").await;
    gui.close().await;

    // On disk: the engine's verify, the CLI's verify, and the published tree itself.
    let verify = fixture
        .engine()
        .verify(TOOL, &tooldelta_core::events::NullReporter)
        .await;
    let verify = verify.expect("verify");
    assert!(verify.ok && verify.version == "1.1.0", "{verify:?}");
    let cli = cli_verify(&fixture);
    assert_eq!(cli["ok"], true, "{cli}");
    assert_eq!(cli["version"], "1.1.0", "{cli}");
    assert_eq!(files(&fixture.current()), files(&fixture.tree("1.1.0")));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
async fn update_progress_is_shown_live_while_the_download_runs() {
    // 3 MiB new at 1 MiB/s through a throttling proxy: about three seconds to watch.
    let fixture = Fixture::with_new_file(&["1.0.0", "1.1.0"], "1.0.0", 3 << 20).await;
    let proxy = throttle::Throttle::start(fixture.mirror_port, 1 << 20);
    let mirror = format!("http://127.0.0.1:{}", proxy.port);
    let gui = Gui::open(&fixture, &[], &[("TOOLDELTA_MIRROR", mirror)]).await;
    let s = gui.s();
    s.wait_text(&card("available-version"), "1.1.0", |t| t == "1.1.0")
        .await;
    s.wait_text(&card("delta-summary"), "3 MiB to download", |t| {
        t.contains("3.0 MiB to download")
    })
    .await;

    // Record every state the progress view goes through.
    s.exec(
        "window.__seen = []; new MutationObserver(() => { \
           const p = document.querySelector('[data-testid=\"run-progress\"]'); \
           if (p) { const b = p.querySelector('[role=progressbar]'); \
             window.__seen.push([p.dataset.phase, b && b.getAttribute('aria-valuenow')]); } \
         }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true}); \
         return true;",
    )
    .await;
    s.click(&s.find(&card("update-button")).await.expect("Update"))
        .await;
    s.wait_text(&card("run-bytes"), "a MiB arriving", |t| {
        t.contains("MiB of")
    })
    .await;
    s.screenshot("dashboard-progress").await;
    s.wait_for(&card("update-report")).await;

    let seen = s.exec("return window.__seen").await;
    let midway = seen.as_array().expect("array").iter().any(|e| {
        let value = e[1].as_str().and_then(|v| v.parse::<f64>().ok());
        e[0] == "fetch" && value.is_some_and(|v| v > 0.0 && v < 100.0)
    });
    assert!(
        midway,
        "no fetch progress between 0 and 100 % was shown: {seen}"
    );
    gui.close().await;
    drop(proxy);
    assert_eq!(files(&fixture.current()), files(&fixture.tree("1.1.0")));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
async fn appending_to_an_installed_file_shows_modified_and_repair_fixes_it() {
    let fixture = Fixture::new(&["1.0.0"], "1.0.0").await;
    let gui = Gui::open(&fixture, &[], &[]).await;
    let s = gui.s();
    s.wait_text(&card("integrity-badge"), "not verified", |t| {
        t.contains("not verified")
    })
    .await;

    let file = fixture.current().join("bin/run.sh");
    let mut perms = std::fs::metadata(&file)
        .expect("installed file")
        .permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&file, perms).expect("chmod");
    let mut text = std::fs::read(&file).expect("read");
    text.extend_from_slice(b"echo tampered\n");
    std::fs::write(&file, text).expect("append");

    s.wait_text(&card("integrity-badge"), "modified", |t| {
        t.contains("modified")
    })
    .await;
    assert!(s.page_text().await.contains("modified"));
    let notice = s
        .wait_text(&card("modified-notice"), "the path", |t| {
            t.contains("bin/run.sh")
        })
        .await;
    assert!(notice.contains("bin/run.sh"), "{notice}");
    s.screenshot("watcher-modified").await;

    // The inspector names the file and both hashes; Repair restores it.
    s.click(&s.wait_for(&card("inspect-button")).await).await;
    s.wait_for("[data-testid=\"file-row\"][data-status=\"modified\"]")
        .await;
    s.screenshot("inspector-modified").await;
    s.click(&s.wait_for("[data-testid=\"repair-button\"]").await)
        .await;
    s.wait_text("[data-testid=\"verify-verdict\"]", "all intact", |t| {
        t.contains("All files intact")
    })
    .await;
    s.screenshot("inspector-repaired").await;
    gui.close().await;

    let verify = fixture
        .engine()
        .verify(TOOL, &tooldelta_core::events::NullReporter)
        .await;
    assert!(verify.expect("verify").ok);
    assert_eq!(files(&fixture.current()), files(&fixture.tree("1.0.0")));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
async fn kiosk_mode_renders_the_tool_list_without_controls() {
    let fixture = Fixture::new(&["1.0.0", "1.1.0"], "1.0.0").await;
    let gui = Gui::open(&fixture, &["--kiosk"], &[]).await;
    let s = gui.s();
    let row = format!("[data-testid=\"kiosk-tool-{TOOL}\"]");
    // The tile's text as the page holds it (WebKitWebDriver's element text
    // reads "" for a tile of the kiosk's clipped grid; the scale test checks
    // that every tile lies fully on screen).
    let script = format!(
        "const e = document.querySelector('[data-testid=kiosk-tool-{TOOL}]'); \
         return e && e.getBoundingClientRect().height > 0 ? e.textContent : ''"
    );
    s.wait_for(&row).await;
    let mut text = String::new();
    for _ in 0..450 {
        text = s
            .exec(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if text.contains(TOOL) && text.contains("pending") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(text.contains(TOOL) && text.contains("pending"), "{text}");
    assert!(text.contains("1.0.0") && text.contains("1.1.0"), "{text}");
    let controls = s
        .exec("return document.querySelectorAll('button, input, a').length")
        .await;
    assert_eq!(controls, 0, "kiosk mode shows no controls");
    s.screenshot("kiosk").await;
    gui.close().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
async fn check_for_app_updates_finds_the_release_the_mirror_offers() {
    let fixture = Fixture::new(&["1.0.0"], "1.0.0").await;
    let key = minisign::Key::generate();
    let artifact = fixture
        .dir
        .path()
        .join("tooldelta-app_9.9.9_amd64.AppImage");
    std::fs::write(&artifact, b"not really an AppImage").expect("artifact");
    let sig = fixture.dir.path().join("app.sig");
    std::fs::write(&sig, key.sign_b64(b"not really an AppImage", "9.9.9")).expect("sig");
    run(Command::new(bin("tooldelta-mirror"))
        .arg("import-app")
        .arg("--store")
        .arg(&fixture.store)
        .args([
            "--target",
            "linux",
            "--arch",
            std::env::consts::ARCH,
            "--version",
            "9.9.9",
        ])
        .args(["--notes", "Faster updates"])
        .arg("--signature")
        .arg(&sig)
        .arg("--artifact")
        .arg(&artifact));

    let gui = Gui::open(
        &fixture,
        &[],
        &[("TOOLDELTA_APP_UPDATE_PUBKEY", key.public_b64())],
    )
    .await;
    let s = gui.s();
    s.click(&s.wait_for("[data-testid=\"nav-settings\"]").await)
        .await;
    s.click(&s.wait_for("[data-testid=\"check-app-update\"]").await)
        .await;
    s.wait_text("[data-testid=\"app-update-version\"]", "9.9.9", |t| {
        t == "9.9.9"
    })
    .await;
    s.exec("document.querySelector('[data-testid=\"app-update\"]').scrollIntoView(); return true;")
        .await;
    assert!(s.page_text().await.contains("Faster updates"));
    s.screenshot("settings-app-update").await;
    gui.close().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
async fn an_app_update_whose_bytes_do_not_match_its_signature_is_refused() {
    let fixture = Fixture::new(&["1.0.0"], "1.0.0").await;
    let key = minisign::Key::generate();
    let artifact = fixture
        .dir
        .path()
        .join("tooldelta-app_9.9.9_amd64.AppImage");
    std::fs::write(&artifact, b"tampered bytes").expect("artifact");
    let sig = fixture.dir.path().join("app.sig");
    std::fs::write(&sig, key.sign_b64(b"the bytes HQ signed", "9.9.9")).expect("sig");
    run(Command::new(bin("tooldelta-mirror"))
        .arg("import-app")
        .arg("--store")
        .arg(&fixture.store)
        .args([
            "--target",
            "linux",
            "--arch",
            std::env::consts::ARCH,
            "--version",
            "9.9.9",
        ])
        .arg("--signature")
        .arg(&sig)
        .arg("--artifact")
        .arg(&artifact));
    // A copy of the app: were the check broken, only the copy would be replaced.
    let app = fixture.dir.path().join("tooldelta-app");
    std::fs::copy(env!("CARGO_BIN_EXE_tooldelta-app"), &app).expect("copy app");
    let before = std::fs::read(&app).expect("read app");

    let gui = Gui::open_binary(
        &fixture,
        &app,
        &[],
        &[("TOOLDELTA_APP_UPDATE_PUBKEY", key.public_b64())],
    )
    .await;
    let s = gui.s();
    s.click(&s.wait_for("[data-testid=\"nav-settings\"]").await)
        .await;
    s.click(&s.wait_for("[data-testid=\"check-app-update\"]").await)
        .await;
    s.wait_text("[data-testid=\"app-update-version\"]", "9.9.9", |t| {
        t == "9.9.9"
    })
    .await;
    let install = s.wait_for("[data-testid=\"install-app-update\"]").await;
    s.click(&install).await;
    let err = s
        .wait_text("[data-testid=\"app-update-error\"]", "a refusal", |t| {
            !t.is_empty()
        })
        .await;
    assert!(err.contains("integrity"), "{err}");
    s.exec("document.querySelector('[data-testid=\"app-update\"]').scrollIntoView(); return true;")
        .await;
    s.screenshot("settings-app-update-refused").await;
    gui.close().await;
    assert!(
        std::fs::read(&app).expect("read app") == before,
        "the app binary changed"
    );
}
