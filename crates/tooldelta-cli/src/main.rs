//! `tooldelta`: the workstation client and publisher CLI (CONTRACT §2).
//!
//! Human messages and progress go to stderr; with `--json`, stdout carries
//! exactly one JSON object. Exit codes per error class: see [`failure`].

mod activate;
mod agent;
mod agent_log;
mod channel;
mod check;
mod config;
mod disk;
mod engine;
mod failure;
mod hold;
mod inspect;
mod keygen;
mod output;
mod prometheus;
mod publish;
mod render;
mod repair;
mod report;
mod rollback;
mod run;
mod status;
mod update;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Verified delta updates for tool folders: publish, inspect, install.
#[derive(Debug, Parser)]
#[command(name = "tooldelta", version, about)]
struct Cli {
    /// Settings file (TOML: root, mirrors, trust, keep_releases); flags and
    /// TOOLDELTA_* variables take precedence over it.
    #[arg(long, global = true, env = "TOOLDELTA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an Ed25519 key pair (PEM, OpenSSL-compatible) and print its key id.
    Keygen(keygen::Args),
    /// Hash a tool folder and write its signed manifest.
    Publish(publish::Args),
    /// Check a manifest's rules, hash and signature.
    Inspect(inspect::Args),
    /// Install or update a tool from the mirrors: verified, resumable, atomic.
    Update(update::Args),
    /// Installed tools, kept releases, running updaters, available versions.
    Status(status::Args),
    /// Re-hash a tool's active release; exit 1 if any file is bad.
    Verify(verify::Args),
    /// Replace a tool's bad files and remove extra ones, then verify again.
    Repair(repair::Args),
    /// Make a tool's previously active release active again.
    Rollback(rollback::Args),
    /// What an update would do (version, delta, release notes, channel, hold), changing nothing.
    Check(check::Args),
    /// Signed channel documents (HQ side).
    #[command(subcommand)]
    Channel(channel::Command),
    /// Keep a tool on a version: updates leave it alone until `unhold`.
    Hold(hold::HoldArgs),
    /// Release a hold.
    Unhold(hold::UnholdArgs),
    /// Switch to the version `update --download-only` left, with no network.
    Activate(activate::Args),
    /// Run a command from a tool's active release, holding its in-use lock.
    Run(run::Args),
    /// Unattended updates: per-tool policies inside maintenance windows.
    Agent(agent::Args),
    /// Send this workstation's fleet report to its mirror.
    Report(report::Args),
    /// Uninstall a tool (content another tool or kept release uses stays).
    Remove(disk::RemoveArgs),
    /// Remove stored content no kept release needs (and, on request, partials and kept releases).
    Gc(disk::GcArgs),
    /// Where the disk under the root went: per tool unique and shared bytes, kept releases, partials, free space.
    Du(disk::DuArgs),
}

/// What every command gets besides its own arguments.
pub struct Context {
    /// `--config`, if given.
    pub config: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The agent logs to a file as well; it sets up its own subscriber.
    if !matches!(cli.command, Command::Agent(_)) {
        init_tracing();
    }
    let ctx = Context {
        config: cli.config,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(&args, &ctx),
        Command::Publish(args) => publish::run(&args, &ctx),
        Command::Inspect(args) => inspect::run(&args, &ctx),
        Command::Update(args) => update::run(&args, &ctx),
        Command::Status(args) => status::run(&args, &ctx),
        Command::Verify(args) => verify::run(&args, &ctx),
        Command::Repair(args) => repair::run(&args, &ctx),
        Command::Rollback(args) => rollback::run(&args, &ctx),
        Command::Check(args) => check::run(&args, &ctx),
        Command::Channel(command) => channel::run(&command, &ctx),
        Command::Hold(args) => hold::hold(&args, &ctx),
        Command::Unhold(args) => hold::unhold(&args, &ctx),
        Command::Activate(args) => activate::run(&args, &ctx),
        Command::Run(args) => run::run(&args, &ctx),
        Command::Agent(args) => agent::run(&args, &ctx),
        Command::Report(args) => report::run(&args, &ctx),
        Command::Remove(args) => disk::remove(&args, &ctx),
        Command::Gc(args) => disk::gc(&args, &ctx),
        Command::Du(args) => disk::du(&args, &ctx),
    };
    match result {
        Ok(code) => code,
        Err(err) => failure::report(&err, ctx.json),
    }
}

/// Logs go to stderr, off unless `RUST_LOG` asks for them.
fn init_tracing() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
}
