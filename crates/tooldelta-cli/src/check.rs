//! `tooldelta check ID`: what an update would do, changing nothing: the
//! version the tool's channel (or `latest`) offers this workstation, the
//! delta, the release notes, the channel decision and any hold.

use std::process::ExitCode;

use anyhow::Result;
use tooldelta_core::UpdateOptions;

use crate::config::TargetArgs;
use crate::engine::{self, Needs};
use crate::{Context, output};

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool.
    tool_id: String,
    /// Check this version instead of what the channel or `latest` offers.
    #[arg(long, value_name = "V")]
    version: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let needs = Needs {
        mirror: true,
        trust: true,
    };
    let engine = engine::build(&args.target, ctx, needs, None)?;
    let opts = UpdateOptions {
        version: args.version.clone(),
        ..UpdateOptions::default()
    };
    let check = engine::runtime()?
        .block_on(engine.check(&args.tool_id, &opts))
        .map_err(engine::engine_error)?;
    let installed = check.installed_version.as_deref().unwrap_or("(none)");
    let state = if check.up_to_date {
        "up to date"
    } else {
        "update available"
    };
    eprintln!(
        "{}: {installed} -> {}: {state}, {} files to fetch ({} bytes)",
        check.tool_id,
        check.available_version,
        check.delta.files_to_fetch,
        check.delta.bytes_to_fetch
    );
    if let Some(notes) = &check.release_notes {
        eprintln!("release notes:\n{notes}");
    }
    if ctx.json {
        output::print_json(&check)?;
    }
    Ok(ExitCode::SUCCESS)
}
