//! Printing: one JSON object on stdout, or human lines on stderr.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use tooldelta_core::ErrorKind;

use crate::engine::EngineFailure;

/// Prints `value` as the single JSON object of a `--json` run.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints an error as one line on stderr (the whole cause chain), and as
/// `{"error": {message, kind, retryable}}` on stdout under `--json`; `kind`
/// and `retryable` come from the engine when it raised the error.
pub fn print_error(err: &anyhow::Error, json: bool) {
    let message = format!("{err:#}");
    eprintln!("tooldelta: error: {message}");
    if json {
        let info = err.downcast_ref::<EngineFailure>().map(|f| &f.0);
        let _ = print_json(&serde_json::json!({ "error": {
            "message": message,
            "kind": info.map_or(ErrorKind::Input, |i| i.kind),
            "retryable": info.is_some_and(|i| i.retryable),
        } }));
    }
}

/// Writes a file atomically (the core's one atomic write: temp file in the
/// same folder, fsync, rename, fsync of the folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    tooldelta_core::fs::write_atomic(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}
