//! What the workstation commands share: building the engine from flags, the
//! environment and the config file; a tokio runtime; Ctrl-C as cancellation;
//! engine errors kept typed for the report.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use tooldelta_core::{CancellationToken, Engine, EngineConfig, UpdateError};

use crate::Context;
use crate::config::TargetArgs;

/// Transfer tuning, for `update` and `repair`.
#[derive(Debug, Clone, Args)]
pub struct Tuning {
    /// Give up on a download (and retry it) after this many seconds without a byte.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub stall_timeout: u64,
    /// Retries of a transient failure per file, with exponential backoff.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,
    /// Files downloaded at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// Files at least this large are fetched over `--connections` connections.
    #[arg(long, value_name = "BYTES", default_value_t = tooldelta_core::fetch::DEFAULT_SEGMENT_THRESHOLD)]
    pub segment_min: u64,
}

/// Which settings a command needs.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// At least one mirror.
    pub mirror: bool,
    /// At least one trusted key.
    pub trust: bool,
}

/// Builds the engine a command runs on.
pub fn build(
    target: &TargetArgs,
    ctx: &Context,
    needs: Needs,
    tuning: Option<&Tuning>,
) -> Result<Engine> {
    let resolved = target.resolve(ctx.config.as_ref())?;
    let mut config = EngineConfig::new(resolved.root()?);
    config.mirrors = if needs.mirror {
        resolved.mirrors()?
    } else {
        resolved.settings.mirrors.clone()
    };
    if needs.trust || !resolved.settings.trust.is_empty() {
        config.trust = resolved.trust()?;
    }
    config.keep_releases = resolved.settings.keep_releases();
    config.rollout = resolved.settings.rollout();
    config.network = resolved.settings.network();
    config.max_rate = resolved.settings.max_rate()?;
    if let Some(n) = resolved.settings.connections {
        config.connections = n.max(1);
    }
    if let Some(t) = tuning {
        config.stall_timeout = Duration::from_secs(t.stall_timeout.max(1));
        config.retries = t.retries;
        config.concurrency = t.jobs.max(1);
        config.segment_threshold = t.segment_min;
    }
    Engine::new(config).map_err(engine_error)
}

/// The same engine with another in-use wait (`--in-use-wait`).
pub fn with_in_use_wait(engine: &Engine, wait: Duration) -> Result<Engine> {
    let mut config = engine.config().clone();
    config.in_use_wait = wait;
    Engine::new(config).map_err(engine_error)
}

/// A multi-threaded runtime: network on one side, hashing and disk on the other.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A token that Ctrl-C cancels (the engine then stops and leaves `current` as it was).
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("tooldelta: interrupted; stopping (the active release is unchanged)");
            child.cancel();
        }
    });
    token
}

/// Runs one engine operation on a fresh runtime with Ctrl-C as its
/// cancellation, keeping the engine error typed.
pub fn drive<T>(op: impl AsyncFnOnce(&CancellationToken) -> Result<T, UpdateError>) -> Result<T> {
    runtime()?.block_on(async {
        let cancel = cancel_on_ctrl_c();
        op(&cancel).await.map_err(engine_error)
    })
}

/// Wraps an engine error for `anyhow`, keeping its type (and so its kind,
/// hint and cause chain) for [`crate::failure::report`].
pub fn engine_error(err: UpdateError) -> anyhow::Error {
    anyhow::Error::new(err)
}
