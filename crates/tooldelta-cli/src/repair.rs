//! `tooldelta repair ID`: bring the active release back to exactly its manifest.

use std::process::ExitCode;

use anyhow::Result;
use bytesize::ByteSize;

use crate::config::TargetArgs;
use crate::engine::{self, Needs, Tuning};
use crate::render::{Mode, Renderer};
use crate::{Context, output};

/// Arguments of `repair`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool to repair.
    tool_id: String,
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
    let report =
        engine::drive(async |cancel| engine.repair(&args.tool_id, &renderer, cancel).await);
    renderer.finish();
    let report = report?;
    renderer.line(&format!(
        "{} {}: {} file(s) replaced, {} extra removed, {} downloaded ({}, {} from local chunks); verify {}",
        report.tool_id,
        report.version,
        report.files_repaired.len(),
        report.files_removed.len(),
        report.files_downloaded,
        ByteSize::b(report.bytes_downloaded),
        ByteSize::b(report.bytes_from_local_chunks),
        if report.verify.ok { "ok" } else { "FAILED" }
    ));
    if !report.verify.ok {
        crate::verify::print_human(&report.verify);
    }
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(if report.verify.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
