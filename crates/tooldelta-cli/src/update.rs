//! `tooldelta update ID`: install or update a tool to the mirror's latest (or
//! an explicit) version, verified, atomically.

use std::process::ExitCode;

use anyhow::Result;
use bytesize::ByteSize;
use serde::Serialize;
use tooldelta_core::events::ErrorInfo;
use tooldelta_core::report::UpdateReport;
use tooldelta_core::{Engine, UpdateOptions};

use crate::config::TargetArgs;
use crate::engine::{self, Needs, Tuning};
use crate::render::{Mode, Renderer};
use crate::{Context, output};

/// Arguments of `update`.
// Command-line switches: each bool is a flag of its own.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool to install or update.
    #[arg(required_unless_present = "all")]
    tool_id: Option<String>,
    /// Update every installed tool (held tools are left alone and listed).
    #[arg(long, conflicts_with_all = ["tool_id", "version", "allow_downgrade"])]
    all: bool,
    /// Install this version instead of the mirror's latest.
    #[arg(long, value_name = "V")]
    version: Option<String>,
    /// Allow an explicit --version older than one already accepted.
    #[arg(long)]
    allow_downgrade: bool,
    /// Only fill the store and record the version as pending; `tooldelta
    /// activate ID` switches to it later with no network.
    #[arg(long)]
    download_only: bool,
    /// Seconds to wait for running jobs (`tooldelta run`) to release the
    /// tool before the switch is deferred (the download stays pending).
    #[arg(long, value_name = "SECS")]
    in_use_wait: Option<u64>,
    /// Write progress events as JSON Lines on stderr.
    #[arg(long)]
    progress_json: bool,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    tuning: Tuning,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let needs = Needs {
        mirror: true,
        trust: true,
    };
    let mut engine = engine::build(&args.target, ctx, needs, Some(&args.tuning))?;
    if let Some(secs) = args.in_use_wait {
        engine = engine::with_in_use_wait(&engine, std::time::Duration::from_secs(secs))?;
    }
    let renderer = Renderer::new(Mode::pick(args.progress_json));
    let opts = UpdateOptions {
        version: args.version.clone(),
        allow_downgrade: args.allow_downgrade,
        download_only: args.download_only,
    };
    let Some(tool_id) = &args.tool_id else {
        return run_all(&engine, &renderer, ctx, &opts);
    };
    let report =
        engine::drive(async |cancel| engine.update(tool_id, &opts, &renderer, cancel).await);
    finish(&renderer, report, ctx)
}

/// Ends a run that switches one tool (`update`, `activate`): the progress
/// display closes, then its summary line and, with `--json`, the report.
pub fn finish(
    renderer: &Renderer,
    report: Result<UpdateReport>,
    ctx: &Context,
) -> Result<ExitCode> {
    renderer.finish();
    let report = report?;
    renderer.line(&summary(&report));
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One tool's outcome in `update --all`.
#[derive(Debug, Serialize)]
struct AllEntry {
    tool_id: String,
    /// `updated`, `downloaded`, `up_to_date`, `held`, `deferred` (in use) or `failed`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    held_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<UpdateReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorInfo>,
}

/// `update --all`: every installed tool in turn; a held tool is skipped, a
/// failure does not stop the others (exit 1 when any failed).
fn run_all(
    engine: &Engine,
    renderer: &Renderer,
    ctx: &Context,
    opts: &UpdateOptions,
) -> Result<ExitCode> {
    let ids = engine.tool_ids().map_err(engine::engine_error)?;
    let entries = engine::runtime()?.block_on(async {
        let cancel = engine::cancel_on_ctrl_c();
        let mut entries = Vec::new();
        for tool_id in ids {
            entries.push(update_one(engine, renderer, &cancel, tool_id, opts).await);
        }
        entries
    });
    renderer.finish();
    for e in &entries {
        match (&e.report, &e.error, &e.held_at) {
            (Some(r), _, _) => renderer.line(&summary(r)),
            (_, Some(err), _) => renderer.line(&format!("{}: failed: {}", e.tool_id, err.message)),
            (_, _, Some(v)) => renderer.line(&format!("{}: held at {v}, left alone", e.tool_id)),
            _ => {}
        }
    }
    let failed = entries.iter().any(|e| e.error.is_some());
    if ctx.json {
        output::print_json(&serde_json::json!({ "tools": entries }))?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn update_one(
    engine: &Engine,
    renderer: &Renderer,
    cancel: &tooldelta_core::CancellationToken,
    tool_id: String,
    opts: &UpdateOptions,
) -> AllEntry {
    let mut entry = AllEntry {
        tool_id,
        outcome: "failed",
        held_at: None,
        report: None,
        error: None,
    };
    match engine.held(&entry.tool_id) {
        Ok(Some(hold)) => {
            entry.outcome = "held";
            entry.held_at = hold.version;
            return entry;
        }
        Ok(None) => {}
        Err(e) => {
            entry.error = Some(e.info());
            return entry;
        }
    }
    match engine.update(&entry.tool_id, opts, renderer, cancel).await {
        Ok(report) => {
            entry.outcome = if report.download_only {
                "downloaded"
            } else if report.from_version.as_deref() == Some(report.to_version.as_str())
                && report.files_downloaded == 0
            {
                "up_to_date"
            } else {
                "updated"
            };
            entry.report = Some(report);
        }
        Err(e) => {
            if e.kind() == tooldelta_core::ErrorKind::InUse {
                entry.outcome = "deferred";
            }
            entry.error = Some(e.info());
        }
    }
    entry
}

/// The human line of an update (or a download-only run, or an activation).
pub fn summary(r: &UpdateReport) -> String {
    let from = r.from_version.as_deref().unwrap_or("(none)");
    if r.download_only {
        return format!(
            "{}: {} downloaded ({}, {} resumed, {} from local chunks, {} already present); {from} stays active until `tooldelta activate {}`",
            r.tool_id,
            r.to_version,
            ByteSize::b(r.bytes_downloaded),
            ByteSize::b(r.bytes_resumed),
            ByteSize::b(r.bytes_from_local_chunks),
            ByteSize::b(r.bytes_saved),
            r.tool_id
        );
    }
    format!(
        "{}: {from} -> {}: {} downloaded ({}, {} resumed, {} from local chunks), {} unchanged ({} saved), {} deleted, {} verified, in {:.1} s",
        r.tool_id,
        r.to_version,
        r.files_downloaded,
        ByteSize::b(r.bytes_downloaded),
        ByteSize::b(r.bytes_resumed),
        ByteSize::b(r.bytes_from_local_chunks),
        r.files_unchanged,
        ByteSize::b(r.bytes_saved),
        r.files_deleted,
        r.files_verified,
        r.duration_ms as f64 / 1000.0
    )
}
