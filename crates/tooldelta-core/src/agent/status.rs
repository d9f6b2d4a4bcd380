//! What the agent did in its last cycle and plans next, kept in
//! `ROOT/agent/status.json` for `status`, the desktop app and the kiosk.

use serde::{Deserialize, Serialize};

use super::Policy;
use crate::error::ErrorInfo;
use crate::layout::Layout;

/// Bumped when the status file changes shape incompatibly.
pub const AGENT_STATUS_VERSION: u32 = 1;

/// What the agent did with one tool in a cycle.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Downloaded and switched.
    Updated,
    /// Downloaded; the version is pending.
    Downloaded,
    /// A newer version is offered (policy `notify`).
    Available,
    /// Nothing to do.
    UpToDate,
    /// Waiting for a window or for activation (the message says which).
    Waiting,
    /// The switch was deferred: running jobs hold the tool.
    Deferred,
    /// A technician holds the tool.
    Held,
    /// Policy `manual`: not even checked.
    Manual,
    /// The check, download or switch failed; `current` is unchanged.
    Failed,
}

/// One tool's line in the agent's status.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOutcome {
    /// The tool.
    pub tool_id: String,
    /// Its policy.
    pub policy: Policy,
    /// What happened.
    pub outcome: Outcome,
    /// The version active after the cycle.
    pub installed_version: Option<String>,
    /// The version the mirrors offer.
    pub offered_version: Option<String>,
    /// A downloaded version waiting to be switched to.
    pub pending_version: Option<String>,
    /// One line for people (`1.2.0 downloaded, waiting for the window`).
    pub message: String,
    /// RFC 3339: when its switching window next opens (absent: no window).
    pub next_window: Option<String>,
    /// Bytes this cycle downloaded for it.
    pub bytes_downloaded: u64,
    /// Why it failed.
    pub error: Option<ErrorInfo>,
}

/// The contents of `ROOT/agent/status.json`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// [`AGENT_STATUS_VERSION`].
    pub v: u32,
    /// The agent's process.
    pub pid: u32,
    /// Whether a cycle is under way.
    pub running: bool,
    /// RFC 3339 start of the last (or current) cycle.
    pub cycle_started_at: String,
    /// RFC 3339 end of the last finished cycle.
    pub cycle_finished_at: Option<String>,
    /// RFC 3339: when the next cycle is due (absent for `--once`).
    pub next_check_at: Option<String>,
    /// RFC 3339: the earliest opening of a switching window among the tools
    /// the agent may switch (absent when none has a window).
    pub next_window: Option<String>,
    /// Per tool, sorted by id.
    pub tools: Vec<ToolOutcome>,
}

/// Reads the agent's status; `None` when no agent has run under this root.
pub fn read_status(layout: &Layout) -> Option<AgentStatus> {
    let bytes = std::fs::read(layout.agent_status_path()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the agent's status (atomically; a viewer never reads half of it).
pub fn write_status(layout: &Layout, status: &AgentStatus) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(status).expect("status always serializes");
    bytes.push(b'\n');
    crate::fs::write_atomic(&layout.agent_status_path(), &bytes)
}
