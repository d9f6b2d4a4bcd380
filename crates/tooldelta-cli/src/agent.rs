//! `tooldelta agent [--once]`: unattended operation. Each cycle checks every
//! tool and applies its policy inside its maintenance windows (the decisions
//! are the core's `agent` module); this loop adds the interval with jitter,
//! the wake-up when a window opens, signals, the log file and the status
//! file the app and the kiosk read. Settings are read again every cycle, so
//! a policy changed in the app applies at the next one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use jiff::{SignedDuration, Timestamp};
use tooldelta_core::agent::{
    AGENT_STATUS_VERSION, AgentSettings, AgentStatus, Outcome, SystemClock, ToolOutcome,
};
use tooldelta_core::config::Settings;
use tooldelta_core::layout::Layout;
use tooldelta_core::{CancellationToken, Engine};

use crate::Context;
use crate::agent_log;
use crate::config::TargetArgs;
use crate::engine::{self, Needs, Tuning};
use crate::render::{Mode, Renderer};

/// Time between checks unless `check_interval` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// Arguments of `agent`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run one cycle and exit (for a systemd timer or cron); exit 1 if any tool failed.
    #[arg(long)]
    once: bool,
    /// The log file (default: `log_file` in the settings, else ROOT/logs/agent.log).
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// Seconds a switch waits for running jobs before it is deferred.
    #[arg(long, value_name = "SECS")]
    in_use_wait: Option<u64>,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    tuning: Tuning,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let first = args.target.resolve(ctx.config.as_ref())?;
    let root = first.root()?;
    let log = args
        .log_file
        .clone()
        .or_else(|| first.settings.log_file.clone())
        .unwrap_or_else(|| Layout::new(&root).logs_dir().join("agent.log"));
    agent_log::init(&log).with_context(|| format!("cannot open the log {}", log.display()))?;
    tracing::info!(log = %log.display(), once = args.once, "tooldelta agent starting");
    let runtime = engine::runtime()?;
    runtime.block_on(async {
        let cancel = cancel_on_signals();
        loop {
            let cycle = one_cycle(args, ctx, &cancel).await;
            let cycle = match cycle {
                Ok(c) => c,
                Err(e) if args.once => return Err(e),
                Err(e) => {
                    tracing::error!("cycle failed: {e:#}");
                    Cycle::retry_later()
                }
            };
            if args.once || cancel.is_cancelled() {
                return Ok(cycle.exit_code());
            }
            tracing::info!("next check in {}s", cycle.pause.as_secs());
            tokio::select! {
                () = tokio::time::sleep(cycle.pause) => {}
                () = cancel.cancelled() => return Ok(ExitCode::SUCCESS),
            }
        }
    })
}

/// What a cycle leaves for the loop.
struct Cycle {
    failed: bool,
    pause: Duration,
}

impl Cycle {
    fn retry_later() -> Self {
        Self {
            failed: true,
            pause: DEFAULT_INTERVAL,
        }
    }

    fn exit_code(&self) -> ExitCode {
        if self.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

async fn one_cycle(args: &Args, ctx: &Context, cancel: &CancellationToken) -> Result<Cycle> {
    let resolved = args.target.resolve(ctx.config.as_ref())?;
    let settings = resolved.settings.clone();
    let rules = AgentSettings::from_settings(&settings)?;
    let interval = interval(&settings)?;
    let needs = Needs {
        mirror: true,
        trust: true,
    };
    let mut engine = engine::build(&args.target, ctx, needs, Some(&args.tuning))?;
    if let Some(secs) = args.in_use_wait {
        engine = engine::with_in_use_wait(&engine, Duration::from_secs(secs))?;
    }
    let layout = Layout::new(engine.root());
    let started = Timestamp::now();
    let mut status = AgentStatus {
        v: AGENT_STATUS_VERSION,
        pid: std::process::id(),
        running: true,
        cycle_started_at: started.to_string(),
        cycle_finished_at: None,
        next_check_at: None,
        next_window: None,
        tools: tooldelta_core::agent::read_status(&layout)
            .map(|s| s.tools)
            .unwrap_or_default(),
    };
    save(&layout, &status);
    let renderer = Renderer::new(Mode::Plain);
    let tools = tooldelta_core::agent::cycle(&engine, &rules, &SystemClock, &renderer, cancel)
        .await
        .map_err(engine::engine_error)?;
    for t in &tools {
        log_outcome(t);
    }
    let now = jiff::Zoned::now();
    let ids: Vec<String> = tools.iter().map(|t| t.tool_id.clone()).collect();
    let next_window = rules.next_window(&ids, &now).map(|z| z.timestamp());
    let waiting = tools.iter().any(|t| {
        matches!(
            t.outcome,
            Outcome::Waiting | Outcome::Deferred | Outcome::Downloaded
        )
    });
    let pause = next_pause(
        interval,
        jitter(),
        now.timestamp(),
        next_window.filter(|_| waiting),
    );
    status.running = false;
    status.cycle_finished_at = Some(Timestamp::now().to_string());
    status.next_check_at = (!args.once).then(|| add(now.timestamp(), pause).to_string());
    status.next_window = next_window.map(|t| t.to_string());
    status.tools = tools;
    save(&layout, &status);
    after_cycle_report(&settings, &engine).await;
    Ok(Cycle {
        failed: status.tools.iter().any(|t| t.outcome == Outcome::Failed),
        pause,
    })
}

/// After every cycle the agent reports to its mirror what this workstation
/// runs (the fleet view, `docs/fleet.md`). Telemetry only: a mirror that
/// refuses or lacks the route is logged and never fails the cycle.
async fn after_cycle_report(settings: &Settings, engine: &Engine) {
    match tooldelta_core::fleet::send_report(engine, settings.report_token.as_deref()).await {
        Ok(report) => tracing::info!(tools = report.tools.len(), "fleet report sent"),
        Err(e) => tracing::warn!("fleet report not sent: {e}"),
    }
}

fn save(layout: &Layout, status: &AgentStatus) {
    if let Err(e) = tooldelta_core::agent::write_status(layout, status) {
        tracing::warn!("cannot write {}: {e}", layout.agent_status_path().display());
    }
}

fn log_outcome(t: &ToolOutcome) {
    let outcome = serde_json::to_value(t.outcome).unwrap_or_default();
    let outcome = outcome.as_str().unwrap_or("?");
    match t.outcome {
        Outcome::Failed => {
            tracing::error!(tool = %t.tool_id, policy = t.policy.as_str(), outcome, "{}", t.message);
        }
        Outcome::Deferred => {
            tracing::warn!(tool = %t.tool_id, policy = t.policy.as_str(), outcome, "{}", t.message);
        }
        _ => {
            tracing::info!(tool = %t.tool_id, policy = t.policy.as_str(), outcome, "{}", t.message);
        }
    }
}

/// `check_interval` (`"1h"`, `"15m"`, `"90s"`), at least 10 s.
fn interval(settings: &Settings) -> Result<Duration> {
    let Some(text) = &settings.check_interval else {
        return Ok(DEFAULT_INTERVAL);
    };
    let d: SignedDuration = text.parse().with_context(|| {
        format!("setting check_interval {text:?}: not a duration like \"1h\" or \"15m\"")
    })?;
    Ok(Duration::try_from(d)
        .unwrap_or(DEFAULT_INTERVAL)
        .max(Duration::from_secs(10)))
}

/// A uniform number in [0, 1) from the OS: each workstation of a fleet
/// picks its own.
fn jitter() -> f64 {
    use rand_core::RngCore as _;
    let n = rand_core::OsRng.next_u32();
    f64::from(n) / (f64::from(u32::MAX) + 1.0)
}

/// The pause before the next cycle: the interval ±10 % (by `jitter` in
/// [0, 1)), or less when a window the agent waits for opens sooner (then a
/// few seconds to a minute into it, spread the same way).
fn next_pause(
    interval: Duration,
    jitter: f64,
    now: Timestamp,
    window: Option<Timestamp>,
) -> Duration {
    let base = interval.mul_f64(0.9 + 0.2 * jitter);
    let Some(window) = window else {
        return base;
    };
    let until = window.duration_since(now);
    match Duration::try_from(until) {
        Ok(until) if until < base => {
            until + Duration::from_secs(1) + Duration::from_secs(59).mul_f64(jitter)
        }
        _ => base,
    }
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::ZERO))
        .unwrap_or(t)
}

/// A token cancelled by SIGTERM (systemd stopping the service) or Ctrl-C:
/// the running update stops and leaves `current` as it was.
fn cancel_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("stopping (the active releases are unchanged)");
        child.cancel();
    });
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_pause_is_the_interval_within_ten_percent() {
        let hour = Duration::from_secs(3600);
        let now = ts("2026-12-02T20:00:00Z");
        assert_eq!(next_pause(hour, 0.0, now, None), Duration::from_secs(3240));
        assert_eq!(next_pause(hour, 0.5, now, None), hour);
        assert!(next_pause(hour, 0.999, now, None) < Duration::from_secs(3961));
    }

    #[test]
    fn a_window_opening_before_the_next_check_wakes_the_agent_inside_it() {
        let hour = Duration::from_secs(3600);
        let now = ts("2026-12-02T01:50:00Z");
        let window = ts("2026-12-02T02:00:00Z");
        let pause = next_pause(hour, 0.0, now, Some(window));
        assert_eq!(pause, Duration::from_secs(601));
        let late = next_pause(hour, 0.999, now, Some(window));
        assert!(
            late > Duration::from_secs(600) && late < Duration::from_secs(661),
            "{late:?}"
        );
        // A window later than the interval changes nothing.
        let far = ts("2026-12-03T02:00:00Z");
        assert_eq!(next_pause(hour, 0.5, now, Some(far)), hour);
    }
}
