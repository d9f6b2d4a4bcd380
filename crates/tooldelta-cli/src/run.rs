//! `tooldelta run ID -- CMD...`: run a command from the tool's active release
//! while holding the tool's in-use lock shared, so no switch of `current`
//! happens under it (a switch waits, then is deferred). The command runs in
//! the release folder itself (`releases/<version>`, not `current`), so it
//! keeps the release it started with even if a switch follows. Its exit code
//! is passed on (128 + N when killed by signal N).
//!
//! Launchers that do not use `tooldelta run` hold the same lock:
//! `flock -s ROOT/tools/ID/in-use.lock CMD` (docs/agent.md).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tooldelta_core::activate::read_current;
use tooldelta_core::layout::Layout;
use tooldelta_core::lock::FileLock;

use crate::Context;
use crate::config::TargetArgs;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool to run from.
    tool_id: String,
    /// Seconds to wait for a switch in progress to finish before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    wait: u64,
    #[command(flatten)]
    target: TargetArgs,
    /// The command and its arguments; a relative path with a `/` is taken
    /// inside the release (`bin/serve`).
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let root = args.target.resolve(ctx.config.as_ref())?.root()?;
    let layout = Layout::new(&root);
    let tool_id = &args.tool_id;
    if !tooldelta_core::manifest::is_valid_tool_id(tool_id) {
        bail!("{tool_id:?} is not a valid tool id");
    }
    if !layout.tool_dir(tool_id).is_dir() {
        bail!("{tool_id}: not installed under {}", root.display());
    }
    let runtime = crate::engine::runtime()?;
    let lock_path = layout.in_use_lock_path(tool_id);
    let wait = Duration::from_secs(args.wait);
    // The lock first, then `current`: a switch holds the lock exclusively
    // across its swap, so what we read now stays active while we hold it.
    let _in_use = runtime
        .block_on(FileLock::shared_within(&lock_path, wait))
        .with_context(|| format!("{tool_id}: cannot lock {}", lock_path.display()))?
        .with_context(|| {
            format!(
                "{tool_id}: a switch of {} kept {} for {}s; try again",
                layout.current_link(tool_id).display(),
                lock_path.display(),
                args.wait
            )
        })?;
    let version = read_current(&layout, tool_id)
        .with_context(|| {
            format!(
                "{tool_id}: cannot read {}",
                layout.current_link(tool_id).display()
            )
        })?
        .with_context(|| format!("{tool_id}: no active release under {}", root.display()))?;
    let release = layout.release_dir(tool_id, &version);
    let code = runtime.block_on(spawn_and_wait(tool_id, &version, &release, &args.command))?;
    Ok(ExitCode::from(code))
}

/// The program to start: a relative path with a separator is inside the
/// release, a bare name is looked up on `PATH`.
fn program(release: &Path, cmd: &OsString) -> PathBuf {
    let path = PathBuf::from(cmd);
    if path.is_relative() && path.components().count() > 1 {
        release.join(path)
    } else {
        path
    }
}

async fn spawn_and_wait(
    tool_id: &str,
    version: &str,
    release: &Path,
    command: &[OsString],
) -> Result<u8> {
    let (cmd, rest) = command.split_first().context("no command given")?;
    let program = program(release, cmd);
    let mut child = tokio::process::Command::new(&program)
        .args(rest)
        .current_dir(release)
        .env("TOOLDELTA_TOOL_ID", tool_id)
        .env("TOOLDELTA_TOOL_VERSION", version)
        .env("TOOLDELTA_RELEASE_DIR", release)
        .spawn()
        .with_context(|| format!("{tool_id}: cannot start {}", program.display()))?;
    let pid = child.id();
    // Signals meant for the job reach it; this process stays to the end so
    // the lock is released only when the job is gone.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = term.recv() => forward(pid, rustix::process::Signal::TERM),
            // A terminal's Ctrl-C reaches the whole process group already.
            _ = int.recv() => {}
        }
    };
    Ok(exit_code(status))
}

fn forward(pid: Option<u32>, signal: rustix::process::Signal) {
    let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p.cast_signed())) else {
        return;
    };
    let _ = rustix::process::kill_process(pid, signal);
}

/// The job's exit code, or 128 + N for a job killed by signal N (as shells do).
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(sig)) => u8::try_from((128 + sig) & 0xff).unwrap_or(1),
        (None, None) => 1,
    }
}
