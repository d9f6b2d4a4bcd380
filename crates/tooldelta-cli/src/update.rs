//! `tooldelta update ID`: install or update a tool to the mirror's latest (or
//! an explicit) version, verified, atomically.

use std::process::ExitCode;

use anyhow::Result;
use bytesize::ByteSize;
use tooldelta_core::UpdateOptions;
use tooldelta_core::report::UpdateReport;

use crate::config::TargetArgs;
use crate::engine::{self, Needs, Tuning};
use crate::render::{Mode, Renderer};
use crate::{Context, output};

/// Arguments of `update`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool to install or update.
    tool_id: String,
    /// Install this version instead of the mirror's latest.
    #[arg(long, value_name = "V")]
    version: Option<String>,
    /// Allow an explicit --version older than one already accepted.
    #[arg(long)]
    allow_downgrade: bool,
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
    let engine = engine::build(&args.target, ctx, needs, Some(&args.tuning))?;
    let renderer = Renderer::new(Mode::pick(args.progress_json));
    let opts = UpdateOptions {
        version: args.version.clone(),
        allow_downgrade: args.allow_downgrade,
    };
    let report = engine::runtime()?.block_on(async {
        let cancel = engine::cancel_on_ctrl_c();
        engine
            .update(&args.tool_id, &opts, &renderer, &cancel)
            .await
            .map_err(engine::engine_error)
    });
    renderer.finish();
    let report = report?;
    renderer.line(&summary(&report));
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(r: &UpdateReport) -> String {
    let from = r.from_version.as_deref().unwrap_or("(none)");
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
