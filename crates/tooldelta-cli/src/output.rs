//! Printing: one JSON object on stdout, or human lines on stderr.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

/// Prints `value` as the single JSON object of a `--json` run.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Writes a file atomically (the core's one atomic write: temp file in the
/// same folder, fsync, rename, fsync of the folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    tooldelta_core::fs::write_atomic(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}
