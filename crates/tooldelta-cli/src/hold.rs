//! `tooldelta hold ID [VERSION]` and `tooldelta unhold ID`: a technician
//! keeps one workstation's tool on a version; updates leave it alone.

use std::process::ExitCode;

use anyhow::Result;

use crate::config::TargetArgs;
use crate::engine::{self, Needs};
use crate::{Context, output};

/// Arguments of `hold`.
#[derive(Debug, clap::Args)]
pub struct HoldArgs {
    /// The tool.
    tool_id: String,
    /// The version to hold it at (default: the active one).
    version: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
}

/// Arguments of `unhold`.
#[derive(Debug, clap::Args)]
pub struct UnholdArgs {
    /// The tool.
    tool_id: String,
    #[command(flatten)]
    target: TargetArgs,
}

const LOCAL: Needs = Needs {
    mirror: false,
    trust: false,
};

pub fn hold(args: &HoldArgs, ctx: &Context) -> Result<ExitCode> {
    let engine = engine::build(&args.target, ctx, LOCAL, None)?;
    let hold = engine
        .hold(&args.tool_id, args.version.as_deref())
        .map_err(engine::engine_error)?;
    let version = hold.version.as_deref().unwrap_or("-");
    eprintln!("{}: held at {version}", args.tool_id);
    if ctx.json {
        output::print_json(&serde_json::json!({
            "tool_id": args.tool_id,
            "held": true,
            "version": hold.version,
            "at": hold.at,
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn unhold(args: &UnholdArgs, ctx: &Context) -> Result<ExitCode> {
    let engine = engine::build(&args.target, ctx, LOCAL, None)?;
    let removed = engine.unhold(&args.tool_id).map_err(engine::engine_error)?;
    if removed {
        eprintln!("{}: hold released", args.tool_id);
    } else {
        eprintln!("{}: was not held", args.tool_id);
    }
    if ctx.json {
        output::print_json(&serde_json::json!({
            "tool_id": args.tool_id,
            "held": false,
            "was_held": removed,
        }))?;
    }
    Ok(ExitCode::SUCCESS)
}
