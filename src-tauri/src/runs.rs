//! The long operations running in this app, one per tool: their cancellation
//! tokens and a snapshot of their progress for views that join late.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tooldelta_core::ErrorKind;
use tooldelta_core::engine::CancellationToken;
use tooldelta_core::events::{ErrorInfo, Event};

use crate::dto::{Operation, RunSnapshot};
use crate::integrity::now_ms;

struct Entry {
    cancel: CancellationToken,
    snapshot: RunSnapshot,
}

/// After a run ends, file events of its tool are its own for this long: the
/// watcher reports a burst only after it settles, so the last writes of a
/// repair (or the pruning of an update) arrive after the run has ended.
pub const QUIET_AFTER_RUN: Duration = Duration::from_millis(1500);

/// The registry. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct Runs {
    map: Mutex<HashMap<String, Entry>>,
    ended: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runs")
            .field("running", &self.all().len())
            .finish()
    }
}

/// Removes its run from the registry when dropped (success, error or panic).
#[derive(Debug)]
pub struct RunGuard {
    runs: Arc<Runs>,
    tool_id: String,
    /// Cancels the run.
    pub cancel: CancellationToken,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.runs
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(self.tool_id.clone(), Instant::now());
        self.runs.lock().remove(&self.tool_id);
    }
}

impl Runs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding this lock leaves only plain data behind.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a run; refuses a second one on the same tool.
    pub fn start(
        self: &Arc<Self>,
        tool_id: &str,
        operation: Operation,
    ) -> Result<RunGuard, ErrorInfo> {
        let mut map = self.lock();
        if let Some(entry) = map.get(tool_id) {
            return Err(ErrorInfo {
                kind: ErrorKind::Busy,
                message: format!(
                    "{tool_id}: a {:?} is already running in this app; wait for it or cancel it",
                    entry.snapshot.operation
                )
                .to_lowercase(),
                retryable: true,
                chain: Vec::new(),
                hint: None,
            });
        }
        let cancel = CancellationToken::new();
        map.insert(
            tool_id.to_owned(),
            Entry {
                cancel: cancel.clone(),
                snapshot: RunSnapshot {
                    tool_id: tool_id.to_owned(),
                    operation,
                    to_version: None,
                    phase: None,
                    bytes_done: 0,
                    bytes_total: 0,
                    bytes_per_sec: 0,
                    max_rate: None,
                    files_verified: 0,
                    started_ms: now_ms(),
                    upstream_percent: None,
                    by_pid: None,
                },
            },
        );
        Ok(RunGuard {
            runs: Arc::clone(self),
            tool_id: tool_id.to_owned(),
            cancel,
        })
    }

    /// Cancels the run on `tool_id`; false when none runs.
    pub fn cancel(&self, tool_id: &str) -> bool {
        self.lock().get(tool_id).is_some_and(|e| {
            e.cancel.cancel();
            true
        })
    }

    /// Whether a run on `tool_id` is in progress.
    pub fn is_running(&self, tool_id: &str) -> bool {
        self.lock().contains_key(tool_id)
    }

    /// Whether file changes of `tool_id` are the app's own: a run is in
    /// progress or ended less than [`QUIET_AFTER_RUN`] ago.
    pub fn is_quiet(&self, tool_id: &str) -> bool {
        self.is_running(tool_id)
            || self
                .ended
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(tool_id)
                .is_some_and(|t| t.elapsed() < QUIET_AFTER_RUN)
    }

    /// The snapshot of the run on `tool_id`.
    pub fn snapshot(&self, tool_id: &str) -> Option<RunSnapshot> {
        self.lock().get(tool_id).map(|e| e.snapshot.clone())
    }

    /// Every run in progress, sorted by tool id.
    pub fn all(&self) -> Vec<RunSnapshot> {
        let mut all: Vec<RunSnapshot> = self.lock().values().map(|e| e.snapshot.clone()).collect();
        all.sort_by(|a, b| a.tool_id.cmp(&b.tool_id));
        all
    }

    /// Folds an engine event into the snapshot of its run.
    pub fn observe(&self, tool_id: &str, event: &Event) {
        let mut map = self.lock();
        let Some(entry) = map.get_mut(tool_id) else {
            return;
        };
        let s = &mut entry.snapshot;
        match event {
            Event::PlanReady {
                to_version,
                bytes_to_fetch,
                ..
            } => {
                s.to_version = Some(to_version.clone());
                s.bytes_total = *bytes_to_fetch;
            }
            Event::Phase { phase, .. } => s.phase = Some(*phase),
            Event::Progress {
                bytes_done,
                bytes_total,
                bytes_per_sec,
                max_rate,
                ..
            } => {
                s.bytes_done = s.bytes_done.max(*bytes_done);
                s.bytes_total = *bytes_total;
                s.bytes_per_sec = *bytes_per_sec;
                s.max_rate = *max_rate;
                // Bytes flow again: the site mirror has the file.
                s.upstream_percent = None;
            }
            Event::MirrorFetching {
                bytes_done, size, ..
            } => {
                let progress = tooldelta_core::pending::UpstreamProgress {
                    received: *bytes_done,
                    total: Some(*size),
                };
                s.upstream_percent = Some(progress.percent().unwrap_or(100));
            }
            Event::FileVerified { .. } => {
                s.files_verified += 1;
                s.upstream_percent = None;
            }
            Event::FileStarted { .. }
            | Event::FileProgress { .. }
            | Event::FileFailed { .. }
            | Event::Done { .. }
            | Event::Failed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tooldelta_core::events::Phase;

    #[test]
    fn one_run_per_tool_and_the_guard_frees_the_slot() {
        let runs = Arc::new(Runs::default());
        let guard = runs.start("t", Operation::Update).unwrap();
        assert_eq!(runs.start("t", Operation::Verify).unwrap_err().kind, "busy");
        assert!(runs.start("other", Operation::Verify).is_ok());
        drop(guard);
        assert!(!runs.is_running("t"));
        assert!(runs.start("t", Operation::Verify).is_ok());
    }

    #[test]
    fn snapshots_follow_events_and_cancel_reaches_the_token() {
        let runs = Arc::new(Runs::default());
        let guard = runs.start("t", Operation::Update).unwrap();
        runs.observe(
            "t",
            &Event::Phase {
                tool_id: "t".into(),
                phase: Phase::Fetch,
            },
        );
        runs.observe(
            "t",
            &Event::Progress {
                tool_id: "t".into(),
                bytes_done: 50,
                bytes_total: 100,
                bytes_per_sec: 10,
                max_rate: None,
            },
        );
        let s = runs.snapshot("t").unwrap();
        assert_eq!(
            (s.phase, s.bytes_done, s.bytes_total),
            (Some(Phase::Fetch), 50, 100)
        );
        assert!(runs.cancel("t"));
        assert!(guard.cancel.is_cancelled());
        assert!(!runs.cancel("nothing"));
    }

    #[test]
    fn the_snapshot_carries_a_site_mirrors_upstream_progress_until_bytes_flow() {
        let runs = Arc::new(Runs::default());
        let _guard = runs.start("t", Operation::Update).unwrap();
        runs.observe(
            "t",
            &Event::MirrorFetching {
                tool_id: "t".into(),
                path: "model.gguf".into(),
                mirror: "http://site:8080".into(),
                upstream: "https://hq".into(),
                bytes_done: 37,
                size: 100,
            },
        );
        assert_eq!(runs.snapshot("t").unwrap().upstream_percent, Some(37));
        runs.observe(
            "t",
            &Event::Progress {
                tool_id: "t".into(),
                bytes_done: 10,
                bytes_total: 100,
                bytes_per_sec: 10,
                max_rate: None,
            },
        );
        assert_eq!(runs.snapshot("t").unwrap().upstream_percent, None);
    }
}
