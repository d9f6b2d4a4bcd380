//! `tooldelta channel set`: write a signed channel document (HQ side).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use tooldelta_core::channel::issue::{ChannelRequest, Ledger, issue, parse_duration};
use tooldelta_core::signing::read_secret_key;

use crate::{Context, output};

/// `channel` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a signed channel document: which version a channel offers, to
    /// what share of workstations, and what is withdrawn.
    Set(SetArgs),
}

/// Arguments of `channel set`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The tool.
    #[arg(long = "tool", value_name = "ID")]
    tool_id: String,
    /// The channel (e.g. `stable`, `beta`).
    #[arg(long, value_name = "NAME")]
    channel: String,
    /// The version the channel offers.
    #[arg(long, value_name = "V")]
    version: String,
    /// The version workstations outside the rollout stay on.
    #[arg(long, value_name = "V")]
    previous: Option<String>,
    /// Percentage of workstations that take --version (0 halts the rollout).
    #[arg(long = "rollout", value_name = "PCT", default_value_t = 100, value_parser = clap::value_parser!(u8).range(0..=100))]
    rollout_percent: u8,
    /// A signed rollback: workstations above --version come back to it.
    #[arg(long)]
    rollback: bool,
    /// A version never to be installed (repeat for several).
    #[arg(long = "withdraw", value_name = "V")]
    withdrawn: Vec<String>,
    /// The sequence (default: one more than the last written with this key
    /// for this tool and channel, else the time in milliseconds).
    #[arg(long, value_name = "N")]
    sequence: Option<u64>,
    /// Validity from now (`30d`, `12h`, `90m`, `2w`); clients refuse it after.
    #[arg(long, value_name = "DURATION")]
    expires: Option<String>,
    /// Secret key (PKCS#8 PEM).
    #[arg(long, value_name = "SECRET.pem")]
    key: PathBuf,
    /// Where to write the document (atomically).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run(command: &Command, ctx: &Context) -> Result<ExitCode> {
    match command {
        Command::Set(args) => set(args, ctx),
    }
}

fn set(args: &SetArgs, ctx: &Context) -> Result<ExitCode> {
    let key = read_secret_key(&args.key)?;
    let now = jiff::Timestamp::now();
    let mut ledger = Ledger::of_key(&args.key);
    let now_ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
    let sequence = args
        .sequence
        .unwrap_or_else(|| ledger.next(&args.tool_id, &args.channel, now_ms));
    let req = ChannelRequest {
        tool_id: args.tool_id.clone(),
        channel: args.channel.clone(),
        version: args.version.clone(),
        previous: args.previous.clone(),
        rollout_percent: args.rollout_percent,
        rollback: args.rollback,
        withdrawn: args.withdrawn.clone(),
        sequence: args.sequence,
        expires_in: args.expires.as_deref().map(parse_duration).transpose()?,
    };
    let doc = issue(&req, sequence, now, &key)?;
    output::write_atomic(&args.out, doc.to_pretty_json().as_bytes())?;
    ledger
        .record(&args.tool_id, &args.channel, sequence)
        .with_context(|| format!("channel document written to {}, but the sequence ledger beside {} could not be updated", args.out.display(), args.key.display()))?;
    eprintln!(
        "channel {} of {}: {} at {}%{}{}, sequence {}, written to {}",
        doc.channel,
        doc.tool_id,
        doc.version,
        doc.rollout_percent,
        doc.previous
            .as_deref()
            .map(|p| format!(" over {p}"))
            .unwrap_or_default(),
        if doc.rollback { " (rollback)" } else { "" },
        doc.sequence,
        args.out.display()
    );
    if ctx.json {
        output::print_json(&doc)?;
    }
    Ok(ExitCode::SUCCESS)
}
