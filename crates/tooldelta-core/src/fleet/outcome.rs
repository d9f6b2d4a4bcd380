//! What a report says beyond the installed state: how the last update of a
//! tool ended and what the last verify found, each kept in a small file
//! under the tool's folder by the engine (best effort: a report is
//! telemetry, and failing to record it never fails the update).
//!
//! ```text
//! ROOT/tools/<id>/last_update.json   {result, version, error, at}
//! ROOT/tools/<id>/last_verify.json   {version, ok, at}
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::LastResult;
use crate::fs::write_atomic;
use crate::layout::Layout;

/// How the last update attempt of a tool ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOutcome {
    /// `ok` or `failed`.
    pub result: LastResult,
    /// The version made active (on success).
    #[serde(default)]
    pub version: Option<String>,
    /// The one-line error (on failure).
    #[serde(default)]
    pub error: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// What the last verify of a release found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyOutcome {
    /// The release verified.
    pub version: String,
    /// Whether every file matched and nothing was extra.
    pub ok: bool,
    /// RFC 3339.
    pub at: String,
}

/// `tools/<id>/last_update.json`.
pub fn update_path(layout: &Layout, tool_id: &str) -> PathBuf {
    layout.tool_dir(tool_id).join("last_update.json")
}

/// `tools/<id>/last_verify.json`.
pub fn verify_path(layout: &Layout, tool_id: &str) -> PathBuf {
    layout.tool_dir(tool_id).join("last_verify.json")
}

/// Records how an update ended. Only for a tool that has a folder: a refused
/// first install of a mistyped id must not make a tool appear.
pub fn record_update(layout: &Layout, tool_id: &str, outcome: &UpdateOutcome) {
    if layout.tool_dir(tool_id).is_dir() {
        write(&update_path(layout, tool_id), outcome);
    }
}

/// Records what a verify found.
pub fn record_verify(layout: &Layout, tool_id: &str, outcome: &VerifyOutcome) {
    if layout.tool_dir(tool_id).is_dir() {
        write(&verify_path(layout, tool_id), outcome);
    }
}

/// The last update outcome, if one was recorded and still parses.
pub fn last_update(layout: &Layout, tool_id: &str) -> Option<UpdateOutcome> {
    read(&update_path(layout, tool_id))
}

/// The last verify outcome, if one was recorded and still parses.
pub fn last_verify(layout: &Layout, tool_id: &str) -> Option<VerifyOutcome> {
    read(&verify_path(layout, tool_id))
}

fn write<T: Serialize>(path: &std::path::Path, value: &T) {
    let mut bytes = serde_json::to_vec_pretty(value).expect("outcomes serialize");
    bytes.push(b'\n');
    if let Err(e) = write_atomic(path, &bytes) {
        tracing::warn!(path = %path.display(), error = %e, "cannot record the outcome for fleet reports");
    }
}

fn read<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Now, as RFC 3339.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}
