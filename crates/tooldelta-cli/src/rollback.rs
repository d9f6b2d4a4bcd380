//! `tooldelta rollback ID`: make the previously active release active again,
//! once it verifies (damaged files are put back from the store, or from
//! `--mirror` when the store's copy is damaged too).

use std::process::ExitCode;

use anyhow::Result;
use bytesize::ByteSize;

use crate::config::TargetArgs;
use crate::engine::{self, Needs, Tuning};
use crate::render::{Mode, Renderer};
use crate::{Context, output};

/// Arguments of `rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool to roll back.
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
    // A mirror is optional: it is only asked when the kept release is damaged
    // and the local store's copy is damaged too.
    let needs = Needs {
        mirror: false,
        trust: false,
    };
    let engine = engine::build(&args.target, ctx, needs, Some(&args.tuning))?;
    let renderer = Renderer::new(Mode::pick(args.progress_json));
    let report =
        engine::drive(async |cancel| engine.rollback(&args.tool_id, &renderer, cancel).await);
    renderer.finish();
    let report = report?;
    if !report.repaired.is_empty() || !report.removed.is_empty() {
        renderer.line(&format!(
            "{} {}: the kept release was damaged; put back {} ({} downloaded), removed {} extra file(s) before switching",
            report.tool_id,
            report.to_version,
            report.repaired.join(", "),
            ByteSize::b(report.bytes_downloaded),
            report.removed.len(),
        ));
    }
    renderer.line(&format!(
        "{}: rolled back {} -> {}",
        report.tool_id, report.from_version, report.to_version
    ));
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}
