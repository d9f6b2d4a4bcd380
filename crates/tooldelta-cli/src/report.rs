//! `tooldelta report`: send this workstation's fleet report to its mirror
//! (what the agent does after each cycle).

use std::process::ExitCode;

use anyhow::Result;

use crate::config::TargetArgs;
use crate::engine::{self, Needs};
use crate::{Context, output};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bearer token the mirror's report route requires (`--report-token` of
    /// `tooldelta-mirror serve`; else `report_token` in --config).
    #[arg(long, value_name = "T")]
    token: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let needs = Needs {
        mirror: true,
        trust: false,
    };
    let resolved = args.target.resolve(ctx.config.as_ref())?;
    let token = args.token.clone().or(resolved.settings.report_token);
    let engine = engine::build(&args.target, ctx, needs, None)?;
    let report = engine::runtime()?.block_on(tooldelta_core::fleet::send_report(
        &engine,
        token.as_deref(),
    ))?;
    eprintln!(
        "reported {} ({}): {} tools",
        report.workstation_id,
        report.hostname,
        report.tools.len()
    );
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}
