//! The packages, installed on this machine (`make test-package`, which builds
//! them first; root, as on CI): `dpkg -i` puts `tooldelta`, `tooldelta-mirror`
//! and `tooldelta-app` on PATH, `systemd-analyze verify` accepts every unit
//! installed, and the packaged app, in a real window (Xvfb + tauri-driver),
//! lists tools from a real mirror run by the packaged `tooldelta-mirror`, then
//! updates itself: version N refuses an N+1 whose bytes do not match their
//! signature (N stays installed and running), then installs the N+1 that
//! `make release`'s script signed and imported, restarts, and the process now
//! running reports N+1. `#[ignore]`d: it installs packages system-wide.

#[allow(dead_code)]
#[path = "../gui/fixture.rs"]
mod fixture;
#[allow(dead_code)]
#[path = "../gui/procs.rs"]
mod procs;
mod system;
#[allow(dead_code)]
#[path = "../gui/webdriver.rs"]
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fixture::{Fixture, TOOL, repo, run};
use procs::{Proc, free_port, wait_for_port};
use system::{KillOnDrop, poll};
use webdriver::Session;

const APP: &str = "/usr/bin/tooldelta-app";

/// Installs version N of both packages (again: a previous run may have left N+1).
fn install_n() -> (String, PathBuf) {
    let dir = system::packages_dir();
    let headless = system::deb(&dir, "tooldelta");
    let app = system::deb(&dir, "tooldelta-app");
    system::dpkg_install(&[&headless, &app]);
    let version = system::deb_version(&app);
    assert_eq!(
        system::installed_version("tooldelta-app"),
        Some(version.clone())
    );
    assert_eq!(
        system::installed_version("tooldelta"),
        Some(system::deb_version(&headless))
    );
    (version, app)
}

#[test]
#[ignore = "installs the packages system-wide: make test-package"]
fn the_packages_put_the_commands_on_path_with_valid_units_and_a_config() {
    install_n();
    for name in ["tooldelta", "tooldelta-mirror", "tooldelta-app"] {
        let found = system::on_path(name);
        assert_eq!(
            found,
            Some(PathBuf::from("/usr/bin").join(name)),
            "{name} on PATH"
        );
    }
    for name in ["tooldelta", "tooldelta-mirror"] {
        let help = run(Command::new(name).arg("--help"));
        assert!(help.contains("Usage"), "{name} --help: {help}");
    }
    // Every unit in packaging/systemd/ is installed, and each verifies.
    let units = system::installed_units("tooldelta");
    let shipped: Vec<String> = std::fs::read_dir(repo().join("packaging/systemd"))
        .expect("packaging/systemd")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!shipped.is_empty());
    for name in &shipped {
        assert!(
            units.iter().any(|u| u.ends_with(name)),
            "{name} not installed: {units:?}"
        );
    }
    for unit in &units {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(unit)
            .output()
            .expect("systemd-analyze");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "systemd-analyze verify {}:\n{stderr}",
            unit.display()
        );
    }
    // The mirror's unit runs as its own system user, made by postinst.
    run(Command::new("getent").args(["passwd", "tooldelta-mirror"]));
    // /etc files are conffiles (kept on upgrade), and the default config parses.
    let conffiles = system::installed_field("tooldelta", "Conffiles");
    assert!(
        conffiles.contains("/etc/tooldelta/config.toml"),
        "{conffiles}"
    );
    tooldelta_core::config::Settings::load(Path::new("/etc/tooldelta/config.toml"))
        .expect("the default config parses");
    // The app's desktop entry and icon.
    let files = run(Command::new("dpkg").args(["-L", "tooldelta-app"]));
    assert!(
        files.contains("/usr/share/applications/tooldelta-app.desktop"),
        "{files}"
    );
    assert!(files.contains("/usr/share/icons/hicolor/"), "{files}");
    let depends = system::installed_field("tooldelta-app", "Depends");
    assert!(depends.contains("libwebkit2gtk-4.1-0"), "{depends}");
    // dlopened by the tray icon: not found by dpkg-shlibdeps, named by hand.
    assert!(depends.contains("libayatana-appindicator3-1"), "{depends}");
}

/// The N+1 package signed by the release script (what `make release` runs)
/// into `store`, with the TEST ONLY key.
fn release(deb: &Path, version: &str, store: &Path) {
    run(Command::new(repo().join("packaging/release-app.sh"))
        .arg(deb)
        .arg(version)
        .arg(repo().join("fixtures/app-update/TEST-ONLY-app-update.key"))
        .arg(store)
        .arg("Signed by the test key")
        .env("TOOLDELTA_MIRROR_BIN", "/usr/bin/tooldelta-mirror"));
}

/// Imports N+1 whose bytes were changed after signing: a valid signature of
/// other bytes.
fn import_tampered(deb: &Path, version: &str, fixture: &Fixture) {
    let scratch = fixture.dir.path().join("signing");
    std::fs::create_dir_all(&scratch).expect("scratch");
    let signed = scratch.join(deb.file_name().expect("name"));
    std::fs::copy(deb, &signed).expect("copy");
    release(&signed, version, &scratch.join("store"));
    let mut bytes = std::fs::read(&signed).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    let tampered = scratch.join("tampered.deb");
    std::fs::write(&tampered, bytes).expect("write");
    run(Command::new("tooldelta-mirror")
        .arg("import-app")
        .arg("--store")
        .arg(&fixture.store)
        .args(["--target", "linux", "--arch", std::env::consts::ARCH])
        .args(["--version", version])
        .arg("--artifact")
        .arg(&tampered)
        .arg("--signature")
        .arg(signed.with_extension("deb.sig")));
}

/// Settings → Check for app updates, until `version` is offered.
async fn check_offers(s: &Session, version: &str) {
    s.click(&s.wait_for("[data-testid=\"nav-settings\"]").await)
        .await;
    s.click(&s.wait_for("[data-testid=\"check-app-update\"]").await)
        .await;
    s.wait_text("[data-testid=\"app-update-version\"]", version, |t| {
        t == version
    })
    .await;
}

/// A WebKitWebDriver attached to the app process `pid` through the inspector
/// address it inherited (WEBKIT_INSPECTOR_SERVER, with automation allowed by
/// TAURI_WEBVIEW_AUTOMATION): the way to drive a process nobody here started.
fn attach_driver(pid: u32, display: &str, log: &Path) -> (Proc, u16) {
    let target = system::environ(pid, "WEBKIT_INSPECTOR_SERVER")
        .expect("the restarted app inherited WEBKIT_INSPECTOR_SERVER");
    let port = free_port();
    let log = std::fs::File::create(log).expect("log");
    let mut driver = Proc::spawn(
        "WebKitWebDriver",
        Command::new("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .arg(format!("--target={target}"))
            .env("DISPLAY", display)
            .stdout(Stdio::null())
            .stderr(log),
    );
    wait_for_port(&mut driver, port);
    (driver, port)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "installs the packages system-wide: make test-package"]
async fn the_packaged_app_lists_tools_and_updates_itself_to_the_next_signed_version() {
    let (n, _) = install_n();
    let next_deb = system::next_app_deb();
    let next = system::deb_version(&next_deb);
    assert_ne!(n, next);
    fixture::BIN_DIR.get_or_init(|| PathBuf::from("/usr/bin"));
    let fixture = Fixture::new(&["1.0.0", "1.1.0"], "1.0.0").await;
    import_tampered(&next_deb, &next, &fixture);

    let logs = webdriver::screenshot_dir().join("../gui-logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let (xvfb, display) = procs::xvfb();
    let mut env = fixture.env();
    let pubkey =
        std::fs::read_to_string(repo().join("fixtures/app-update/TEST-ONLY-app-update.key.pub"))
            .expect("test public key");
    env.push(("TOOLDELTA_APP_UPDATE_PUBKEY", pubkey.trim().to_owned()));
    let (driver, port) = procs::tauri_driver(&display, &env, &logs.join("package-n.log"));
    let s = Session::start(port, Path::new(APP), &[]).await;
    let old = poll(Duration::from_secs(30), "the packaged app running", || {
        system::pids_of(Path::new(APP)).into_iter().next()
    });

    // N lists the tools of the mirror the packaged tooldelta-mirror serves.
    let card = format!("[data-testid=\"tool-card-{TOOL}\"] [data-testid=\"available-version\"]");
    s.wait_text(&card, "1.1.0 offered", |t| t == "1.1.0").await;
    s.screenshot("package-n-dashboard").await;

    // A bad signature: refused, N still installed and running.
    let before = std::fs::read(APP).expect("app binary");
    check_offers(&s, &next).await;
    s.click(&s.wait_for("[data-testid=\"install-app-update\"]").await)
        .await;
    let err = s
        .wait_text("[data-testid=\"app-update-error\"]", "a refusal", |t| {
            !t.is_empty()
        })
        .await;
    assert!(err.contains("integrity"), "{err}");
    s.exec("document.querySelector('[data-testid=\"app-update\"]').scrollIntoView(); return true;")
        .await;
    s.screenshot("package-n-bad-signature").await;
    assert_eq!(system::installed_version("tooldelta-app"), Some(n.clone()));
    assert!(
        std::fs::read(APP).expect("app binary") == before,
        "the binary changed"
    );
    assert!(system::alive(old), "N stopped after the refusal");
    s.wait_text(".version", "N answers", |t| t == format!("v{n}"))
        .await;

    // The release script signs and imports N+1; N installs it and restarts.
    release(&next_deb, &next, &fixture.store);
    check_offers(&s, &next).await;
    s.click(&s.wait_for("[data-testid=\"install-app-update\"]").await)
        .await;
    poll(
        Duration::from_secs(180),
        "N exits after installing N+1",
        || (!system::alive(old)).then_some(()),
    );
    let new = poll(Duration::from_secs(60), "N+1 started in N's place", || {
        system::pids_of(Path::new(APP))
            .into_iter()
            .find(|p| *p != old)
    });
    let new_app = KillOnDrop(new);
    assert_eq!(
        system::installed_version("tooldelta-app"),
        Some(next.clone())
    );
    drop(s); // N's session went with N

    // The process now running is N+1 and says so.
    let (attached, aport) = attach_driver(new, &display, &logs.join("package-next.log"));
    let s = Session::attach(aport).await;
    s.wait_text(&card, "N+1 lists the tools", |t| t == "1.1.0")
        .await;
    s.wait_text(".version", "N+1 in the header", |t| t == format!("v{next}"))
        .await;
    s.click(&s.wait_for("[data-testid=\"nav-settings\"]").await)
        .await;
    s.click(&s.wait_for("[data-testid=\"check-app-update\"]").await)
        .await;
    let status = s
        .wait_text("[data-testid=\"app-update-status\"]", "up to date", |t| {
            t.contains("is the newest")
        })
        .await;
    assert!(status.contains(&format!("Version {next} ")), "{status}");
    s.screenshot("package-next-running").await;
    // In this order: the attached driver, N+1, N's driver, the screen.
    drop(attached);
    drop(new_app);
    drop(driver);
    drop(xvfb);
}
