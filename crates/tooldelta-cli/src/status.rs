//! `tooldelta status`: installed tools, kept releases, running updaters, and
//! (with mirrors and keys) what the mirrors offer.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;
use tooldelta_core::ToolStatus;
use tooldelta_core::agent::{AgentSettings, Policy, describe_when};

use crate::config::TargetArgs;
use crate::engine::{self, Needs};
use crate::{Context, output};

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the node_exporter textfile-collector format to FILE (atomically;
    /// `-` or no value: stdout) instead of the status lines.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    prometheus: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
}

/// What `status --json` prints.
#[derive(Debug, Serialize)]
struct StatusReport {
    root: PathBuf,
    tools: Vec<ToolStatus>,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let needs = Needs {
        mirror: false,
        trust: false,
    };
    let engine = engine::build(&args.target, ctx, needs, None)?;
    if let Some(path) = &args.prometheus {
        let report = engine.fleet_report().map_err(engine::engine_error)?;
        let text = crate::prometheus::render(&report);
        if path.as_os_str() == "-" {
            print!("{text}");
        } else {
            output::write_atomic(path, text.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The agent's rules say what a downloaded version waits for; settings
    // the agent would refuse only cost that detail here.
    let rules = args
        .target
        .resolve(ctx.config.as_ref())
        .ok()
        .and_then(|r| AgentSettings::from_settings(&r.settings).ok());
    let tools = engine::runtime()?
        .block_on(engine.status())
        .map_err(engine::engine_error)?;
    let now = jiff::Zoned::now();
    for t in &tools {
        let mut text = line(t);
        if let Some(p) = pending(t, rules.as_ref(), &now) {
            text.push_str(", ");
            text.push_str(&p);
        }
        eprintln!("{text}");
    }
    if tools.is_empty() {
        eprintln!("no tools installed under {}", engine.root().display());
    }
    if ctx.json {
        output::print_json(&StatusReport {
            root: engine.root().to_owned(),
            tools,
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `1.2.0 downloaded, waiting for the window (opens today 02:00)`.
fn pending(t: &ToolStatus, rules: Option<&AgentSettings>, now: &jiff::Zoned) -> Option<String> {
    let p = t.pending.as_ref()?;
    let rules = rules.map(|r| r.rules_for(&t.tool_id));
    let mut s = format!("{} downloaded, ", p.version);
    if rules.is_some_and(|r| r.policy == Policy::Download) {
        let _ = write!(
            s,
            "waiting for activation (`tooldelta activate {}`)",
            t.tool_id
        );
        return Some(s);
    }
    s.push_str("waiting for the window");
    match rules.and_then(|r| r.window.as_ref()) {
        Some(w) if !w.is_open(now.datetime()) => {
            if let Some(at) = w.next_open(now) {
                let _ = write!(s, " (opens {})", describe_when(&at, now));
            }
        }
        _ if p.reason == "in_use" || t.in_use => {
            s.push_str(" (the tool is in use by a running job)");
        }
        _ => {
            let _ = write!(s, " (or `tooldelta activate {}`)", t.tool_id);
        }
    }
    Some(s)
}

fn line(t: &ToolStatus) -> String {
    let mut s = format!(
        "{}: {} (kept: {})",
        t.tool_id,
        t.version.as_deref().unwrap_or("not active"),
        t.releases.join(", ")
    );
    if t.updater_running {
        s.push_str(", an update is running");
    }
    if t.in_use {
        s.push_str(", in use by a running job");
    }
    match (&t.available_version, t.update_available, &t.check_error) {
        (Some(v), Some(true), _) => {
            s.push_str(", update available: ");
            s.push_str(v);
        }
        (Some(_), _, _) => s.push_str(", up to date"),
        (_, _, Some(e)) => {
            s.push_str(", mirror check failed: ");
            s.push_str(&e.message);
        }
        _ => {}
    }
    if let Some(c) = &t.channel {
        let side = if c.in_rollout { "in" } else { "outside" };
        let _ = write!(
            s,
            ", channel {} ({side} the rollout of {})",
            c.channel, c.offered
        );
    }
    if let Some(hold) = &t.hold {
        let at = hold.version.as_deref().unwrap_or("nothing");
        let _ = write!(s, ", held at {at}");
    }
    s
}
