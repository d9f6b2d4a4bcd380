//! This machine as the package test sees it: dpkg, PATH, systemd units, and
//! the app's processes in /proc.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::fixture::run;

/// The built packages: `TOOLDELTA_PACKAGES` (set by `make test-package`).
pub fn packages_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("TOOLDELTA_PACKAGES").expect(
        "TOOLDELTA_PACKAGES is not set: run `make test-package`, which builds the packages first",
    ))
}

/// The app's N+1 package: `TOOLDELTA_NEXT_APP_DEB`.
pub fn next_app_deb() -> PathBuf {
    PathBuf::from(
        std::env::var_os("TOOLDELTA_NEXT_APP_DEB")
            .expect("TOOLDELTA_NEXT_APP_DEB is not set: run `make test-package`"),
    )
}

/// The one `NAME_*.deb` in `dir`.
pub fn deb(dir: &Path, name: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let file = p.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            file.starts_with(&format!("{name}_"))
                && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("deb"))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {name}_*.deb in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().expect("one")
}

/// A package's `Version:` from its file.
pub fn deb_version(deb: &Path) -> String {
    run(Command::new("dpkg-deb")
        .args(["--field"])
        .arg(deb)
        .arg("Version"))
    .trim()
    .to_owned()
}

/// `dpkg -i` as the user who runs the test (root: `make test-package` is
/// meant for CI's machine and a developer's, both root).
pub fn dpkg_install(debs: &[&Path]) {
    run(Command::new("dpkg").arg("-i").args(debs));
}

/// The installed version of `package`, if it is installed.
pub fn installed_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Abbrev} ${Version}", package])
        .output()
        .expect("dpkg-query");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("ii ").map(|v| v.trim().to_owned())
}

/// `dpkg-query` field `field` of an installed package.
pub fn installed_field(package: &str, field: &str) -> String {
    run(Command::new("dpkg-query").args(["-W", "-f", &format!("${{{field}}}"), package]))
}

/// Where `name` is found on PATH, as a shell would find it.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The systemd unit files the package installed.
pub fn installed_units(package: &str) -> Vec<PathBuf> {
    run(Command::new("dpkg").args(["-L", package]))
        .lines()
        .filter(|l| l.contains("/systemd/system/") && !l.ends_with("/system"))
        .map(PathBuf::from)
        .collect()
}

/// PIDs of processes running `exe` (by /proc/PID/exe; a replaced binary
/// reads "… (deleted)" and still counts as its old path).
pub fn pids_of(exe: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(target) = std::fs::read_link(entry.path().join("exe")) else {
            continue;
        };
        let target = target.to_string_lossy();
        if target.trim_end_matches(" (deleted)") == exe.to_string_lossy() {
            pids.push(pid);
        }
    }
    pids
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// One variable of a running process's environment.
pub fn environ(pid: u32, key: &str) -> Option<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    bytes.split(|b| *b == 0).find_map(|kv| {
        let kv = String::from_utf8_lossy(kv);
        kv.strip_prefix(&format!("{key}=")).map(str::to_owned)
    })
}

/// Polls `f` every 200 ms for up to `limit` (a guard against hangs).
pub fn poll<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let step = Duration::from_millis(200);
    for _ in 0..(limit.as_millis() / step.as_millis()) {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(step);
    }
    panic!("{what}: not within {limit:?}");
}

/// Ends a process this test caused (the restarted app is nobody's child here).
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.to_string()])
            .status();
        for _ in 0..50 {
            if !alive(self.0) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}
