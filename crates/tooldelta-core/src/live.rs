//! Live progress that other processes can watch: while an operation runs on
//! a tool, the engine keeps `tools/<id>/progress.json` up to date (about five
//! times a second, atomically replaced), so the desktop app and the kiosk show
//! an update that the agent or a CLI runs. The file stays after the run with
//! its outcome; a snapshot still marked `running` whose process no longer
//! holds the tool's lock reads as `interrupted`.
//!
//! The format is versioned (`v`) and documented in `docs/agent.md`.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ErrorInfo;
use crate::events::{Event, Phase, Reporter};
use crate::layout::Layout;
use crate::lock::FileLock;
use crate::manifest::is_valid_tool_id;
use crate::report::UpdateReport;

/// Bumped when the snapshot changes shape incompatibly.
pub const LIVE_SCHEMA_VERSION: u32 = 1;

/// Minimum time between two writes of byte progress (phase changes and the
/// outcome are written at once).
pub const LIVE_INTERVAL: Duration = Duration::from_millis(200);

/// Where a watched operation stands.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// Its process is working on it.
    Running,
    /// It finished.
    Done,
    /// It stopped with an error (`current` unchanged).
    Failed,
    /// Its process died mid-run (`current` is the old or the new release).
    Interrupted,
}

/// One tool's operation as other processes see it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    /// [`LIVE_SCHEMA_VERSION`].
    pub v: u32,
    /// The tool.
    pub tool_id: String,
    /// `update`, `download` (download only), `activate`, `repair` or `rollback`.
    pub operation: String,
    /// The process running it.
    pub pid: u32,
    /// Where it stands.
    pub state: LiveState,
    /// The current phase.
    pub phase: Option<Phase>,
    /// The version active when it started.
    pub from_version: Option<String>,
    /// The version it brings.
    pub to_version: Option<String>,
    /// Bytes present so far in the fetch phase.
    pub bytes_done: u64,
    /// Bytes the fetch phase needs.
    pub bytes_total: u64,
    /// Recent download rate.
    pub bytes_per_sec: u64,
    /// Files fetched and verified so far.
    pub files_done: u64,
    /// Files to fetch.
    pub files_total: u64,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 time of this snapshot.
    pub updated_at: String,
    /// Why it failed.
    pub error: Option<ErrorInfo>,
    /// The final report, when done.
    pub report: Option<UpdateReport>,
    /// While the run waits on a site mirror still fetching a file from its
    /// upstream: that fetch's progress in percent (absent in older files).
    #[serde(default)]
    pub upstream_percent: Option<u64>,
    /// The bandwidth cap limiting the run, bytes per second (absent in older files).
    #[serde(default)]
    pub max_rate: Option<u64>,
}

/// Reads a tool's snapshot; `None` when there is none (or it is unreadable).
pub fn read(layout: &Layout, tool_id: &str) -> Option<LiveSnapshot> {
    if !is_valid_tool_id(tool_id) {
        return None;
    }
    let bytes = std::fs::read(layout.progress_path(tool_id)).ok()?;
    let mut snap: LiveSnapshot = serde_json::from_slice(&bytes).ok()?;
    // The runner holds the tool's lock for the whole run: without it, the
    // process died before it could write its outcome.
    if snap.state == LiveState::Running && !FileLock::is_held(&layout.lock_path(tool_id)) {
        snap.state = LiveState::Interrupted;
    }
    Some(snap)
}

/// A [`Reporter`] that passes every event on and keeps the tool's snapshot
/// file current. It writes only once the run owns the tool (its first phase
/// event): a run refused because another holds the lock never overwrites
/// that one's progress.
pub struct Publisher<'a> {
    inner: &'a dyn Reporter,
    path: Option<PathBuf>,
    state: Mutex<Inner>,
}

struct Inner {
    snap: LiveSnapshot,
    armed: bool,
    last_write: Option<Instant>,
}

impl<'a> Publisher<'a> {
    /// A publisher for `operation` on `tool_id` (an invalid id publishes nothing).
    pub fn new(layout: &Layout, tool_id: &str, operation: &str, inner: &'a dyn Reporter) -> Self {
        let now = jiff::Timestamp::now().to_string();
        Self {
            inner,
            path: is_valid_tool_id(tool_id).then(|| layout.progress_path(tool_id)),
            state: Mutex::new(Inner {
                snap: LiveSnapshot {
                    v: LIVE_SCHEMA_VERSION,
                    tool_id: tool_id.to_owned(),
                    operation: operation.to_owned(),
                    pid: std::process::id(),
                    state: LiveState::Running,
                    phase: None,
                    from_version: None,
                    to_version: None,
                    bytes_done: 0,
                    bytes_total: 0,
                    bytes_per_sec: 0,
                    files_done: 0,
                    files_total: 0,
                    upstream_percent: None,
                    max_rate: None,
                    started_at: now.clone(),
                    updated_at: now,
                    error: None,
                    report: None,
                },
                armed: false,
                last_write: None,
            }),
        }
    }

    /// Records the outcome of an operation whose report is not an
    /// [`UpdateReport`] (repair, rollback): it sends no `done` event, so its
    /// end is written here. Written only if the run owned the tool.
    pub fn finish(&self, error: Option<ErrorInfo>) {
        let Some(path) = &self.path else { return };
        let mut inner = self.state.lock().expect("live lock is never poisoned");
        if !inner.armed {
            return;
        }
        match error {
            Some(error) => {
                inner.snap.state = LiveState::Failed;
                inner.snap.error = Some(error);
            }
            None => inner.snap.state = LiveState::Done,
        }
        write(path, &mut inner);
    }

    fn observe(&self, event: &Event) {
        let Some(path) = &self.path else { return };
        let mut inner = self.state.lock().expect("live lock is never poisoned");
        let urgent = apply(&mut inner.snap, event);
        if matches!(event, Event::Phase { .. }) {
            inner.armed = true;
        }
        if !inner.armed {
            return;
        }
        let due = inner
            .last_write
            .is_none_or(|t| t.elapsed() >= LIVE_INTERVAL);
        if !urgent && !due {
            return;
        }
        write(path, &mut inner);
    }
}

/// Writes the snapshot, under the publisher's lock so writes keep their order.
fn write(path: &std::path::Path, inner: &mut Inner) {
    inner.last_write = Some(Instant::now());
    inner.snap.updated_at = jiff::Timestamp::now().to_string();
    let bytes = serde_json::to_vec(&inner.snap).expect("a snapshot always serializes");
    // A viewer's convenience: a failed write never fails the run.
    if let Err(e) = crate::fs::write_replace(path, &bytes) {
        tracing::debug!("cannot write {}: {e}", path.display());
    }
}

/// Folds an event into the snapshot; `true` when it must be written at once.
fn apply(snap: &mut LiveSnapshot, event: &Event) -> bool {
    match event {
        Event::PlanReady {
            from_version,
            to_version,
            files_to_fetch,
            bytes_to_fetch,
            ..
        } => {
            snap.from_version.clone_from(from_version);
            snap.to_version = Some(to_version.clone());
            snap.files_total = *files_to_fetch;
            snap.bytes_total = *bytes_to_fetch;
            true
        }
        Event::Phase { phase, .. } => {
            snap.phase = Some(*phase);
            true
        }
        Event::Progress {
            bytes_done,
            bytes_total,
            bytes_per_sec,
            max_rate,
            ..
        } => {
            snap.bytes_done = *bytes_done;
            snap.bytes_total = *bytes_total;
            snap.bytes_per_sec = *bytes_per_sec;
            snap.max_rate = *max_rate;
            // Bytes flow again: the site mirror has the file.
            snap.upstream_percent = None;
            false
        }
        Event::MirrorFetching {
            bytes_done, size, ..
        } => {
            let progress = crate::pending::UpstreamProgress {
                received: *bytes_done,
                total: Some(*size),
            };
            snap.upstream_percent = Some(progress.percent().unwrap_or(100));
            false
        }
        Event::FileVerified { .. } => {
            snap.files_done += 1;
            snap.upstream_percent = None;
            false
        }
        Event::Done { report } => {
            snap.state = LiveState::Done;
            snap.to_version = Some(report.to_version.clone());
            snap.report = Some(report.clone());
            true
        }
        Event::Failed { error, .. } => {
            snap.state = LiveState::Failed;
            snap.error = Some(error.clone());
            true
        }
        Event::FileStarted { .. } | Event::FileProgress { .. } | Event::FileFailed { .. } => false,
    }
}

impl Reporter for Publisher<'_> {
    fn report(&self, event: &Event) {
        self.inner.report(event);
        self.observe(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::NullReporter;

    fn phase(p: Phase) -> Event {
        Event::Phase {
            tool_id: "t".into(),
            phase: p,
        }
    }

    fn progress(done: u64) -> Event {
        Event::Progress {
            tool_id: "t".into(),
            bytes_done: done,
            bytes_total: 100,
            bytes_per_sec: 1,
            max_rate: None,
        }
    }

    #[test]
    fn nothing_is_written_before_the_run_owns_the_tool() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.tool_dir("t")).unwrap();
        let p = Publisher::new(&layout, "t", "update", &NullReporter);
        // A run refused by the lock fails before any phase.
        p.report(&Event::Failed {
            tool_id: "t".into(),
            error: crate::UpdateError::BadToolId {
                tool_id: "x".into(),
            }
            .info(),
        });
        assert!(read(&layout, "t").is_none());
    }

    #[test]
    fn phases_are_written_at_once_and_a_dead_runner_reads_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.tool_dir("t")).unwrap();
        let p = Publisher::new(&layout, "t", "update", &NullReporter);
        p.report(&phase(Phase::Manifest));
        p.report(&phase(Phase::Fetch));
        // Within the interval: byte progress waits for the next write …
        p.report(&progress(40));
        let snap = read(&layout, "t").unwrap();
        assert_eq!(snap.phase, Some(Phase::Fetch));
        assert_eq!(snap.bytes_done, 0);
        // … and no process holds the tool's lock here: the run is over.
        assert_eq!(snap.state, LiveState::Interrupted);
        let held = FileLock::try_exclusive(&layout.lock_path("t"))
            .unwrap()
            .unwrap();
        assert_eq!(read(&layout, "t").unwrap().state, LiveState::Running);
        drop(held);
    }

    #[test]
    fn a_repair_or_rollback_writes_its_outcome_through_finish() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.tool_dir("t")).unwrap();
        let _held = FileLock::try_exclusive(&layout.lock_path("t"))
            .unwrap()
            .unwrap();
        // Refused before it owned the tool: nothing written.
        let refused = Publisher::new(&layout, "t", "repair", &NullReporter);
        refused.finish(None);
        assert!(read(&layout, "t").is_none());

        let p = Publisher::new(&layout, "t", "repair", &NullReporter);
        p.report(&phase(Phase::Repair));
        p.finish(None);
        let snap = read(&layout, "t").unwrap();
        assert_eq!(
            (snap.operation.as_str(), snap.state),
            ("repair", LiveState::Done)
        );

        let p = Publisher::new(&layout, "t", "rollback", &NullReporter);
        p.report(&phase(Phase::Verify));
        let error = crate::UpdateError::BadToolId {
            tool_id: "t".into(),
        }
        .info();
        p.finish(Some(error.clone()));
        let snap = read(&layout, "t").unwrap();
        assert_eq!(snap.state, LiveState::Failed);
        assert_eq!(snap.error, Some(error));
    }
}
