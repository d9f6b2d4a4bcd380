//! `tooldelta activate ID`: switch to the version `update --download-only`
//! left in the store, with no network at all (0 bytes downloaded).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::Context;
use crate::config::TargetArgs;
use crate::engine::{self, Needs};
use crate::render::{Mode, Renderer};

/// Arguments of `activate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool whose downloaded version to switch to.
    tool_id: String,
    /// Seconds to wait for running jobs (`tooldelta run`) to release the
    /// tool before the switch is deferred.
    #[arg(long, value_name = "SECS")]
    in_use_wait: Option<u64>,
    /// Write progress events as JSON Lines on stderr.
    #[arg(long)]
    progress_json: bool,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    // No mirror is ever asked; trusted keys, when configured, check the
    // stored manifest's signature again.
    let needs = Needs {
        mirror: false,
        trust: false,
    };
    let mut engine = engine::build(&args.target, ctx, needs, None)?;
    if let Some(secs) = args.in_use_wait {
        engine = engine::with_in_use_wait(&engine, Duration::from_secs(secs))?;
    }
    let renderer = Renderer::new(Mode::pick(args.progress_json));
    let report =
        engine::drive(async |cancel| engine.activate(&args.tool_id, &renderer, cancel).await);
    crate::update::finish(&renderer, report, ctx)
}
