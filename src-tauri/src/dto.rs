//! What the commands hand to the UI. Engine types (events, reports, checks)
//! pass through unchanged; these add only what a screen needs on top: the
//! integrity seen by the watcher, the progress of runs in this process, and
//! where each setting came from. TypeScript twins are generated (see
//! `bindings.rs`), never written by hand.

use serde::{Deserialize, Serialize};
use tooldelta_core::agent::Policy;
use tooldelta_core::engine::HistoryEntry;
use tooldelta_core::events::{ErrorInfo, Phase};
pub use tooldelta_core::report::Delta;
use tooldelta_core::signing::SignatureCheck;

/// The integrity of a tool's active release, as far as the app knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Integrity {
    /// Not verified since the app started, and nothing changed on disk.
    Unknown,
    /// The last verification found every file intact and nothing has changed since.
    Ok,
    /// A file changed on disk (watcher), or the last verification found a bad file.
    Modified,
}

/// What updates of a tool have cost and saved, from its history (every
/// process's updates, not only this app's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Savings {
    /// Bytes the most recent update reused instead of downloading, if one recorded it.
    pub last_saved: Option<u64>,
    /// When that update happened (RFC 3339).
    pub last_at: Option<String>,
    /// Bytes saved by every recorded update.
    pub total_saved: u64,
    /// Bytes downloaded by every recorded update.
    pub total_downloaded: u64,
}

impl Savings {
    /// Sums the updates of a history (oldest first) that recorded their transfer.
    pub fn from_history(history: &[HistoryEntry]) -> Self {
        let mut out = Savings::default();
        for entry in history {
            let Some(saved) = entry.bytes_saved else {
                continue; // a rollback, a repair, or written before bytes were recorded
            };
            out.total_saved += saved;
            out.total_downloaded += entry.bytes_downloaded.unwrap_or(0);
            out.last_saved = Some(saved);
            out.last_at = Some(entry.at.clone());
        }
        out
    }
}

/// Which long operation is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `update`.
    Update,
    /// `verify`.
    Verify,
    /// `repair`.
    Repair,
    /// `rollback`.
    Rollback,
}

/// The latest known state of a run in this process (for views that join late,
/// such as the kiosk, and for refreshes during a run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RunSnapshot {
    /// The tool.
    pub tool_id: String,
    /// What is running.
    pub operation: Operation,
    /// The target version, once the plan is known.
    pub to_version: Option<String>,
    /// The current phase, once one began.
    pub phase: Option<Phase>,
    /// Bytes present so far in the fetch phase.
    pub bytes_done: u64,
    /// Bytes the fetch phase needs.
    pub bytes_total: u64,
    /// Recent download rate.
    pub bytes_per_sec: u64,
    /// The bandwidth cap limiting this run (`max_rate`), bytes per second.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub max_rate: Option<u64>,
    /// Files verified so far.
    pub files_verified: u64,
    /// Unix time (ms) the run started.
    pub started_ms: u64,
    /// While the run waits on a site mirror still fetching a file from its
    /// upstream: how far that fetch has come, in percent.
    pub upstream_percent: Option<u64>,
    /// The process running it when that is not this app (the agent, a CLI).
    #[serde(default)]
    pub by_pid: Option<u32>,
}

/// One installed tool, as the dashboard draws it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ToolView {
    /// The tool.
    pub tool_id: String,
    /// The active version.
    pub installed_version: Option<String>,
    /// The version the mirror offers, when it could be checked.
    pub available_version: Option<String>,
    /// Whether the offered manifest is the installed one.
    pub up_to_date: Option<bool>,
    /// Signature verdict of the offered manifest (with the key id), when known.
    pub signature: Option<SignatureCheck>,
    /// What an update would fetch and reuse, when an update is pending.
    pub delta: Option<Delta>,
    /// Integrity of the active release.
    pub integrity: Integrity,
    /// Paths the watcher saw change, sorted (empty unless `modified`).
    pub modified_paths: Vec<String>,
    /// Unix time (ms) of the last verification in this app, if any.
    pub last_verified_ms: Option<u64>,
    /// Versions kept on disk, newest first (rollback targets).
    pub releases: Vec<String>,
    /// Whether some updater (this app or another process) holds the tool's lock.
    pub updater_running: bool,
    /// Whether a technician holds the tool (`tooldelta hold`): updates leave it alone.
    pub held: bool,
    /// The version it is held at, when the hold names one.
    pub held_version: Option<String>,
    /// The offered version's signed `release_notes`: plain text, shown as text
    /// (never rendered as HTML).
    pub release_notes: Option<String>,
    /// Bytes saved and downloaded by its updates so far.
    pub savings: Savings,
    /// The run on the tool (this app's, or another process's such as the agent), if any.
    pub run: Option<RunSnapshot>,
    /// What the agent may do with it (`[tools.ID] policy`, else the global one).
    #[serde(default)]
    pub policy: Policy,
    /// A downloaded version waiting for activation, if any.
    #[serde(default)]
    pub pending_version: Option<String>,
    /// Why the mirror check failed, if it did.
    pub check_error: Option<ErrorInfo>,
}

/// A trusted key file and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TrustedKey {
    /// The PEM file.
    pub path: String,
    /// Its key id (16 hex), when the file is a valid Ed25519 public key.
    pub key_id: Option<String>,
    /// Why it could not be read, otherwise.
    pub error: Option<String>,
}

/// The settings in force, and where the editable ones are saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsView {
    /// The install root.
    pub root: Option<String>,
    /// Mirror base URLs, tried in order.
    pub mirrors: Vec<String>,
    /// Trusted keys.
    pub trust: Vec<TrustedKey>,
    /// Previous releases kept for rollback.
    pub keep_releases: u32,
    /// The settings file the app reads and saves.
    pub config_path: String,
    /// Settings given by a flag or a `TOOLDELTA_*` variable, which win over
    /// the file at the next start (`root`, `mirrors`, `trust`, `max_rate`, …).
    pub overridden: Vec<String>,
    /// Bandwidth cap, connections, proxy and private CA.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub network: Option<NetworkView>,
    /// Whether OS notifications are shown (updates available, applied, failed).
    #[serde(default = "on")]
    pub notifications: bool,
}

fn on() -> bool {
    true
}

/// The network settings (shared with the CLI's settings file), as shown
/// and as the form sends them; an empty field is unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NetworkView {
    /// Bandwidth cap: `20MiB`, or `09:00-18:00=10MiB,unlimited`.
    pub max_rate: Option<String>,
    /// Connections for one large file.
    pub connections: Option<u32>,
    /// Proxy URL (else `HTTPS_PROXY` / `HTTP_PROXY`).
    pub proxy: Option<String>,
    /// Hosts reached without the proxy (else `NO_PROXY`).
    pub no_proxy: Option<String>,
    /// PEM file of a private CA.
    pub ca_cert: Option<String>,
}

/// The editable settings, as the settings form sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsInput {
    /// Mirror base URLs, tried in order.
    pub mirrors: Vec<String>,
    /// Trusted public key files (SPKI PEM).
    pub trust: Vec<String>,
    /// Previous releases kept for rollback.
    pub keep_releases: u32,
    /// Network settings; absent: left as they are.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub network: Option<NetworkView>,
    /// Whether OS notifications are shown; absent: left as it is.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub notifications: Option<bool>,
}

/// What the UI learns at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppInfo {
    /// The app's version.
    pub version: String,
    /// Whether the app runs in kiosk mode (`--kiosk`).
    pub kiosk: bool,
    /// Seconds the kiosk shows each page of tools (`--kiosk-page-seconds`).
    pub kiosk_page_seconds: u32,
    /// The settings in force.
    pub settings: SettingsView,
    /// A problem found at start-up (an unreadable settings file), if any.
    pub startup_error: Option<ErrorInfo>,
}

/// A newer app version offered by the mirror's app feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppUpdateView {
    /// The running version.
    pub current_version: String,
    /// The offered version.
    pub version: String,
    /// Release notes.
    pub notes: Option<String>,
    /// Publication date (RFC 3339), if given.
    pub pub_date: Option<String>,
}

/// What `check_app_update` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AppUpdateStatus {
    /// The running version is the newest.
    UpToDate {
        /// The running version.
        current_version: String,
    },
    /// A newer version is offered.
    Available {
        /// What is offered.
        update: AppUpdateView,
    },
}

/// Progress of an app self-update download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AppUpdateEvent {
    /// Bytes received so far.
    Progress {
        /// Received.
        bytes_done: u64,
        /// Announced length, if the server sent one.
        bytes_total: Option<u64>,
    },
    /// Downloaded and its signature verified; installing.
    Installing,
}

/// Where `export_report` wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ExportedFile {
    /// The file written.
    pub path: String,
}

/// A tool's integrity changed on disk (the `tool-modified` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ToolModified {
    /// The tool.
    pub tool_id: String,
    /// Paths inside the release that changed, sorted.
    pub paths: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, at: &str, bytes: Option<(u64, u64)>) -> HistoryEntry {
        HistoryEntry {
            version: "1.0.0".to_owned(),
            manifest_hash: "h".to_owned(),
            from_version: None,
            action: action.to_owned(),
            at: at.to_owned(),
            bytes_downloaded: bytes.map(|b| b.0),
            bytes_saved: bytes.map(|b| b.1),
        }
    }

    #[test]
    fn savings_add_up_the_updates_and_keep_the_last_one() {
        let history = [
            entry("update", "t1", Some((100, 0))),
            entry("update", "t2", Some((10, 90))),
            entry("rollback", "t3", None),
            entry("update", "t4", Some((5, 95))),
            entry("update", "t5", None), // an old state file: no figures
        ];
        let s = Savings::from_history(&history);
        assert_eq!(s.total_saved, 185);
        assert_eq!(s.total_downloaded, 115);
        assert_eq!(s.last_saved, Some(95));
        assert_eq!(s.last_at.as_deref(), Some("t4"));
        assert_eq!(Savings::from_history(&[]), Savings::default());
    }
}
