//! Fleet reports: what one workstation tells its mirror about itself, so HQ
//! sees which version of which tool every workstation runs, which failed
//! their last update and which hold a modified file.
//!
//! A report is telemetry, never trust: the mirror stores and shows it and
//! nothing in it changes what any workstation installs. [`check`] is the one
//! gate a report passes before a mirror stores or forwards it (bounded
//! sizes, plausible text), so the page and the metrics only see clean data.
//!
//! The agent (and `tooldelta report`) calls [`send_report`] after each cycle.

mod check;
mod host;
pub mod outcome;
mod send;

use serde::{Deserialize, Serialize};

pub use check::{MAX_REPORT_BYTES, ReportRule, check};
pub use host::hostname;
pub use send::{ReportError, send_report};

/// The integrity of a tool's active release, as its last `verify` found it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrity {
    /// Every file matched the manifest.
    Ok,
    /// A file was modified, missing or extra.
    Modified,
    /// The active release was never verified (or another version was).
    Unknown,
}

/// How the last update of a tool ended.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastResult {
    /// No update was recorded on this workstation.
    None,
    /// The last update succeeded.
    Ok,
    /// The last update failed (`last_error` says why); `current` is unchanged.
    Failed,
}

/// One tool in a workstation's report.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolReport {
    /// The tool.
    pub tool_id: String,
    /// The active version (`None`: nothing active).
    pub version: Option<String>,
    /// `manifest_hash` of the active release.
    pub manifest_hash: Option<String>,
    /// What the last `verify` of the active release found.
    pub integrity: Integrity,
    /// How the last update ended.
    pub last_result: LastResult,
    /// The one-line error of a failed last update.
    #[serde(default)]
    pub last_error: Option<String>,
    /// RFC 3339 time of the last update attempt.
    #[serde(default)]
    pub last_result_at: Option<String>,
    /// RFC 3339 time of the last verify of the active release.
    #[serde(default)]
    pub verified_at: Option<String>,
    /// The channel the tool follows.
    pub channel: Option<String>,
    /// Whether a technician (or the settings) holds the tool.
    pub held: bool,
    /// A downloaded release newer than the active one, waiting for activation.
    #[serde(default)]
    pub pending_version: Option<String>,
}

/// What a workstation sends to `POST /api/v1/reports`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkstationReport {
    /// The workstation's id (`workstation_id` setting, else generated once
    /// under the root).
    pub workstation_id: String,
    /// The host name.
    pub hostname: String,
    /// RFC 3339 time the report was built.
    pub reported_at: String,
    /// One entry per tool under the root, sorted by id.
    pub tools: Vec<ToolReport>,
    /// Free bytes on the file system of the install root.
    #[serde(default)]
    pub free_disk_bytes: Option<u64>,
    /// The version of the tooldelta client that sent it.
    #[serde(default)]
    pub client_version: Option<String>,
}

/// A batch of reports, as a site mirror forwards them upstream (the same
/// route accepts one report or a batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportBatch {
    /// The reports, each checked on its own.
    pub reports: Vec<WorkstationReport>,
}

/// Most reports in one forwarded batch.
pub const MAX_BATCH: usize = 200;
