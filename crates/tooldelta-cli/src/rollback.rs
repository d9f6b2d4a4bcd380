//! `tooldelta rollback ID`: make the previously active release active again.

use std::process::ExitCode;

use anyhow::Result;

use crate::config::TargetArgs;
use crate::engine::{self, Needs};
use crate::{Context, output};

/// Arguments of `rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool to roll back.
    tool_id: String,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let needs = Needs {
        mirror: false,
        trust: false,
    };
    let engine = engine::build(&args.target, ctx, needs, None)?;
    let report = engine::runtime()?
        .block_on(engine.rollback(&args.tool_id))
        .map_err(engine::engine_error)?;
    eprintln!(
        "{}: rolled back {} -> {}",
        report.tool_id, report.from_version, report.to_version
    );
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}
