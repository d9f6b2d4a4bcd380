//! Built binaries and child processes for end-to-end tests.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cargo profile folder (`target/debug`, `target/release`, …) of the
/// running test executable: its binaries sit there, its tests in `deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test executable");
    let dir = exe.parent().expect("an executable has a folder");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("deps has a parent").to_owned()
    } else {
        dir.to_owned()
    }
}

/// The path of a binary built in this workspace, e.g. `bin_path("tooldelta")`.
///
/// # Panics
/// When the binary is not built, with the command that builds it.
pub fn bin_path(name: &str) -> PathBuf {
    let path = target_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is not built; run `cargo build --workspace --bins` first (or depend on the package that has it)",
        path.display()
    );
    path
}

/// What a finished command said.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// The exit code; `None` when killed by a signal (or by the timeout).
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// Whether [`run_with_timeout`] had to kill it.
    pub timed_out: bool,
}

impl CmdOutput {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Standard output as one JSON value (what `--json` prints).
    ///
    /// # Panics
    /// When stdout is not JSON, showing both streams.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Panics, showing both streams, unless the command succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.success(),
            "command failed with {:?}:\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics, showing both streams, unless the command failed.
    #[track_caller]
    pub fn assert_failure(&self) -> &Self {
        assert!(
            !self.success(),
            "command succeeded but should have failed:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Generous bound for one command in a test: a hung child fails the test
/// instead of hanging it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `cmd` to the end with [`DEFAULT_TIMEOUT`], capturing its output.
pub fn run(cmd: &mut Command) -> CmdOutput {
    run_with_timeout(cmd, DEFAULT_TIMEOUT)
}

/// Runs `cmd`, killing it after `timeout`; stdin is closed.
///
/// # Panics
/// When the command cannot be started.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> CmdOutput {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = drain(child.stdout.take().expect("piped"));
    let stderr = drain(child.stderr.take().expect("piped"));
    let (code, timed_out) = wait_bounded(&mut child, timeout);
    CmdOutput {
        code,
        stdout: stdout.join().expect("reader thread"),
        stderr: stderr.join().expect("reader thread"),
        timed_out,
    }
}

/// Reads a pipe to the end on its own thread, so a chatty child never blocks
/// on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for `child`, killing it at `timeout`; returns its code and whether it was killed.
fn wait_bounded(child: &mut Child, timeout: Duration) -> (Option<i32>, bool) {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status.code(), false),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let status = child.wait().ok();
                return (status.and_then(|s| s.code()), true);
            }
        }
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped, so a
/// failing test leaves no process behind.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    /// Guards a spawned child.
    pub fn new(child: Child) -> Self {
        Self { child: Some(child) }
    }

    /// Spawns `cmd` and guards it.
    ///
    /// # Panics
    /// When the command cannot be started.
    pub fn spawn(cmd: &mut Command) -> Self {
        Self::new(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
        )
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child().id()
    }

    /// The child, e.g. to take its pipes.
    pub fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the child is still guarded")
    }

    fn child(&self) -> &Child {
        self.child.as_ref().expect("the child is still guarded")
    }

    /// SIGKILL now (as a crash would) and reap; returns whether it was still
    /// running.
    pub fn kill(&mut self) -> bool {
        let child = self.child_mut();
        let running = matches!(child.try_wait(), Ok(None));
        let _ = child.kill();
        let _ = child.wait();
        running
    }

    /// Waits for the child to exit by itself, killing it at `timeout`;
    /// returns its exit code (`None` if killed or signalled).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<i32> {
        wait_bounded(self.child_mut(), timeout).0
    }

    /// Releases the child without killing it.
    pub fn into_inner(mut self) -> Child {
        self.child.take().expect("the child is still guarded")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_streams_and_exit_code() {
        let out = run(Command::new("sh").args(["-c", "echo '{\"a\":1}'; echo oops >&2; exit 3"]));
        assert_eq!(out.code, Some(3));
        assert_eq!(out.json()["a"], 1);
        assert_eq!(out.stderr.trim(), "oops");
        assert!(!out.timed_out);
        out.assert_failure();
    }

    #[test]
    fn kills_a_command_that_runs_too_long() {
        let out = run_with_timeout(Command::new("sleep").arg("30"), Duration::from_millis(100));
        assert!(out.timed_out);
        assert!(!out.success());
    }

    #[test]
    fn a_guarded_child_is_killed_on_drop() {
        let mut guard = ChildGuard::spawn(Command::new("sleep").arg("30"));
        let pid = guard.id();
        assert!(guard.kill());
        assert!(!guard.kill(), "already dead");
        drop(guard);
        let guard = ChildGuard::spawn(Command::new("sleep").arg("30"));
        drop(guard);
        // Reaped: no process with that id is our child any more.
        assert!(!std::path::Path::new(&format!("/proc/{pid}/status")).exists());
    }

    #[test]
    fn target_dir_is_the_profile_folder() {
        let dir = target_dir();
        assert!(dir.join("deps").is_dir(), "{}", dir.display());
    }
}
