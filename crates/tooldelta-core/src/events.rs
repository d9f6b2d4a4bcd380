//! Typed, versioned progress events and the [`Reporter`] trait.
//!
//! The engine emits events; the CLI (indicatif or JSON Lines), the desktop app
//! (a Tauri channel) and tests each render them their own way. Phase and file
//! events must be delivered; byte progress is lossy and throttled to about
//! 10 Hz, so a fast download never floods a renderer.

use serde::{Deserialize, Serialize};

pub use crate::error::ErrorInfo;
use crate::report::UpdateReport;

/// Bumped when an event changes shape incompatibly; written as `"v"` in JSON Lines.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// The steps of an update (and of verify / repair).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Fetching and verifying the manifest.
    Manifest,
    /// Diffing the installed state against it.
    Plan,
    /// Downloading missing content.
    Fetch,
    /// Building the new release folder.
    Stage,
    /// Switching `current` (the commit point).
    Activate,
    /// Removing old releases and unreferenced objects.
    Cleanup,
    /// Re-hashing installed files.
    Verify,
    /// Replacing bad files.
    Repair,
}

/// Something the engine did or learned.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The diff is known.
    PlanReady {
        /// The tool.
        tool_id: String,
        /// The active version, if any.
        from_version: Option<String>,
        /// The target version.
        to_version: String,
        /// Files to download.
        files_to_fetch: u64,
        /// Bytes to download (before any resume).
        bytes_to_fetch: u64,
        /// Files already present.
        files_reused: u64,
        /// Bytes already present.
        bytes_saved: u64,
        /// Files the new release drops.
        files_to_remove: u64,
    },
    /// A new phase began.
    Phase {
        /// The tool.
        tool_id: String,
        /// The phase.
        phase: Phase,
    },
    /// A file download began (or resumed at `resume_from`).
    FileStarted {
        /// The tool.
        tool_id: String,
        /// Path in the release.
        path: String,
        /// Its size.
        size: u64,
        /// Bytes reused from a partial download.
        resume_from: u64,
    },
    /// Overall byte progress of the fetch phase (throttled, lossy).
    Progress {
        /// The tool.
        tool_id: String,
        /// Bytes present so far, resumed bytes included.
        bytes_done: u64,
        /// Bytes the fetch phase needs in total.
        bytes_total: u64,
        /// Recent download rate.
        bytes_per_sec: u64,
        /// The bandwidth cap in force (`max_rate`), bytes per second; `null`
        /// when the run is not limited.
        #[serde(default)]
        #[cfg_attr(feature = "ts", ts(optional = nullable))]
        max_rate: Option<u64>,
    },
    /// Byte progress of one file (throttled per file, lossy).
    FileProgress {
        /// The tool.
        tool_id: String,
        /// Path in the release.
        path: String,
        /// Bytes of the file present, resumed bytes included.
        bytes_done: u64,
        /// The file's size.
        size: u64,
    },
    /// A site mirror is still fetching this file from its upstream (it
    /// serves only content it has verified): the run waits while that fetch
    /// advances. Sent at each of the mirror's "in progress" answers (about
    /// every two seconds).
    MirrorFetching {
        /// The tool.
        tool_id: String,
        /// Path in the release.
        path: String,
        /// The site mirror (scheme, host and port).
        mirror: String,
        /// Its upstream, as the site mirror names it.
        upstream: String,
        /// Bytes the site mirror has received from upstream.
        bytes_done: u64,
        /// The file's size.
        size: u64,
    },
    /// A file's SHA-256 and size matched.
    FileVerified {
        /// The tool.
        tool_id: String,
        /// Path in the release.
        path: String,
    },
    /// A file failed; `will_retry` says whether the engine tries again.
    FileFailed {
        /// The tool.
        tool_id: String,
        /// Path in the release.
        path: String,
        /// What went wrong.
        error: ErrorInfo,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// The update finished.
    Done {
        /// The final report.
        report: UpdateReport,
    },
    /// The update stopped with an error; `current` is unchanged.
    Failed {
        /// The tool.
        tool_id: String,
        /// What went wrong.
        error: ErrorInfo,
    },
}

impl Event {
    /// Whether a renderer may drop this event under load.
    pub fn is_lossy(&self) -> bool {
        matches!(self, Self::Progress { .. } | Self::FileProgress { .. })
    }
}

/// Receives engine events. Implementations must not block for long: they run
/// on the engine's tasks. A reporter whose consumer went away (a closed window)
/// simply drops events; it never stops the work.
pub trait Reporter: Send + Sync {
    /// Called for every event, in order.
    fn report(&self, event: &Event);
}

/// A reporter that discards everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn report(&self, _event: &Event) {}
}

/// An event with its schema version, as written in JSON Lines.
#[derive(Debug, Serialize)]
pub struct Versioned<'a> {
    /// [`EVENT_SCHEMA_VERSION`].
    pub v: u32,
    /// The event.
    #[serde(flatten)]
    pub event: &'a Event,
}

impl<'a> From<&'a Event> for Versioned<'a> {
    fn from(event: &'a Event) -> Self {
        Self {
            v: EVENT_SCHEMA_VERSION,
            event,
        }
    }
}
