//! The real processes of a GUI test: Xvfb, the mirror, tauri-driver. Each is
//! stopped with SIGTERM when dropped and waited for, so no test leaves a
//! process behind (tauri-driver must get SIGTERM, never SIGKILL: on SIGKILL the
//! WebKitWebDriver it started is orphaned and keeps pipes open).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process stopped with SIGTERM on drop.
pub struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc { name, child }
    }

    /// Panics with a useful message if the process already exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early with {status}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            // Bounded: 10 s for a clean exit, then SIGKILL as a last resort.
            for _ in 0..100 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("{} ignored SIGTERM; killing it", self.name);
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (bound then released; the caller binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// Waits (bounded) until something accepts connections on `port`.
pub fn wait_for_port(proc: &mut Proc, port: u16) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..300 {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        proc.assert_running();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {addr} after 30 s");
}

/// Starts Xvfb on the first free display from :90.
pub fn xvfb() -> (Proc, String) {
    xvfb_sized(1280, 860)
}

/// Same, with a screen of `width`×`height`.
pub fn xvfb_sized(width: u32, height: u32) -> (Proc, String) {
    let screen = format!("{width}x{height}x24");
    for n in 90..190 {
        let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        if lock.exists() || socket.exists() {
            continue;
        }
        let display = format!(":{n}");
        let mut proc = Proc::spawn(
            "Xvfb",
            Command::new("Xvfb")
                .args([
                    display.as_str(),
                    "-screen",
                    "0",
                    screen.as_str(),
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        for _ in 0..100 {
            if socket.exists() {
                return (proc, display);
            }
            if let Ok(Some(_)) = proc.child.try_wait() {
                break; // lost a race for this display: try the next
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("no free X display between :90 and :189");
}

/// `tauri-driver` on PATH or in ~/.cargo/bin.
pub fn tauri_driver_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("tauri-driver"))
        .find(|p| p.is_file())
    {
        return path;
    }
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let cargo = home.join(".cargo/bin/tauri-driver");
    assert!(
        cargo.is_file(),
        "tauri-driver not found: run `make app-deps` (cargo install tauri-driver --locked)"
    );
    cargo
}

/// Starts tauri-driver on the display with `env` (the app inherits it).
/// Free ports are picked then released, so another process can take one
/// first: a driver that exits right after starting is started again on others.
pub fn tauri_driver(display: &str, env: &[(&str, String)], log: &Path) -> (Proc, u16) {
    for _ in 0..3 {
        let port = free_port();
        let native = free_port();
        let log = std::fs::File::create(log).expect("driver log");
        let mut cmd = Command::new(tauri_driver_bin());
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("DISPLAY", display)
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut proc = Proc::spawn("tauri-driver", &mut cmd);
        wait_for_port(&mut proc, port);
        std::thread::sleep(Duration::from_millis(300));
        if let Ok(None) = proc.child.try_wait() {
            return (proc, port);
        }
        eprintln!("tauri-driver exited at start (port {port} or {native} taken?); retrying");
    }
    panic!("tauri-driver would not start; see {}", log.display());
}

/// A private D-Bus session bus (so the test's notifications reach only its
/// own notification server): the daemon and its address.
pub fn session_bus() -> (Proc, String) {
    use std::io::BufRead as _;
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start dbus-daemon (scripts/install-deps.sh installs it)");
    let stdout = child.stdout.take().expect("piped");
    let mut address = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut address)
        .expect("dbus-daemon prints its address");
    let proc = Proc {
        name: "dbus-daemon",
        child,
    };
    (proc, address.trim().to_owned())
}

/// dunst, a real notification server, on `display` and `bus`, printing each
/// notification it receives to `log`.
pub fn notification_server(display: &str, bus: &str, log: &Path) -> Proc {
    let file = std::fs::File::create(log).expect("dunst log");
    let mut proc = Proc::spawn(
        "dunst",
        Command::new("dunst")
            .arg("-print")
            .env("DISPLAY", display)
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .stdout(file.try_clone().expect("log"))
            .stderr(file),
    );
    // Bounded: dunst owns org.freedesktop.Notifications within a moment.
    for _ in 0..50 {
        let owned = Command::new("dbus-send")
            .args([
                &format!("--bus={bus}"),
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.Notifications",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"));
        if owned {
            return proc;
        }
        proc.assert_running();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("dunst never took org.freedesktop.Notifications");
}
