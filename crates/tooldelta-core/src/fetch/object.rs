//! One object into the store: the per-object lock shared by every updater
//! under the root, then attempts over the sources with the retry classes of
//! [`FetchError`], the most telling failure kept.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::explain::Cause;

use super::{Fetched, Fetcher, ObjectJob, attempt};
use crate::error::{FetchClass, FetchError};
use crate::events::{Event, Reporter};
use crate::lock::FileLock;
use crate::store::Store;
use crate::throttle::Progress;

/// Attempts that made progress are not limited by `retries`, but by this,
/// so a server that cuts every response still ends.
const MAX_PROGRESSING_ATTEMPTS: u32 = 10_000;

impl Fetcher {
    /// Brings one content into the store, trying its sources in order and
    /// resuming its `.partial`. Emits `file_started`, `file_failed` and
    /// progress; the caller emits `file_verified`.
    pub async fn fetch_object(
        &self,
        store: &Store,
        job: &ObjectJob<'_>,
        progress: &Progress,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        // The store is shared by every tool under the root, and updaters of
        // different tools run at once: one content is fetched by one of them
        // at a time (they would write the same `.partial`, and one's persist
        // would pull it from under the other).
        let lock_path = store.fetch_lock_path(&job.file.sha256);
        let lock = lock_object(&lock_path, cancel).await?;
        if store.contains(&job.file.sha256, job.file.size) {
            // Brought in by the updater we waited for.
            return Ok(Fetched::default());
        }
        let fetched = self
            .fetch_object_locked(store, job, progress, reporter, cancel)
            .await;
        if fetched.is_ok() {
            // Safe to unlink while held: whoever locks this name (or the old
            // inode) next finds the object stored and stops there.
            let _ = std::fs::remove_file(&lock_path);
        }
        drop(lock);
        fetched
    }

    async fn fetch_object_locked(
        &self,
        store: &Store,
        job: &ObjectJob<'_>,
        progress: &Progress,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        let mut run = attempt::ObjectRun::new(self, store, job, progress, reporter, cancel);
        let initial = run.start();
        reporter.report(&Event::FileStarted {
            tool_id: job.tool_id.to_owned(),
            path: job.file.path.clone(),
            size: job.file.size,
            resume_from: initial,
        });
        let mut dead = vec![false; job.sources.len()];
        let mut failures: Vec<FetchError> = Vec::new();
        let mut delays = self.backoff();
        let mut progressing = 0;
        loop {
            for (i, url) in job.sources.iter().enumerate() {
                while !dead[i] {
                    let before = run.on_disk();
                    let err = match run.attempt(url).await {
                        Ok(()) => return Ok(run.fetched()),
                        Err(e) => e,
                    };
                    let class = err.class();
                    let made_progress = run.on_disk() > before;
                    // A stall moves on even after progress: a source that
                    // trickles a few bytes between stalls would otherwise
                    // hold the update for MAX_PROGRESSING_ATTEMPTS stall
                    // timeouts (slow-retrieval attack); stalls spend the
                    // `retries` rounds instead.
                    let again = class == FetchClass::Retry
                        && made_progress
                        && !matches!(err, FetchError::Stalled { .. })
                        && progressing < MAX_PROGRESSING_ATTEMPTS;
                    report_failure(job, &err, class != FetchClass::Fatal, reporter);
                    match class {
                        FetchClass::Fatal => return Err(err),
                        FetchClass::Integrity => dead[i] = true,
                        FetchClass::NextSource if !err.is_transient() => dead[i] = true,
                        _ => {}
                    }
                    failures.push(err);
                    if !again {
                        break;
                    }
                    progressing += 1;
                }
            }
            if dead.iter().all(|d| *d) {
                break;
            }
            let Some(delay) = delays.next() else { break };
            tokio::select! {
                () = cancel.cancelled() => return Err(FetchError::Cancelled),
                () = tokio::time::sleep(delay) => {}
            }
        }
        Err(most_telling(failures))
    }
}

/// Waits (cancellably) for the per-object fetch lock.
pub(crate) async fn lock_object(
    path: &std::path::Path,
    cancel: &CancellationToken,
) -> Result<FileLock, FetchError> {
    loop {
        match FileLock::try_exclusive(path) {
            Ok(Some(lock)) => return Ok(lock),
            Ok(None) => {
                tokio::select! {
                    () = cancel.cancelled() => return Err(FetchError::Cancelled),
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
            Err(source) => {
                return Err(FetchError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
}

fn report_failure(
    job: &ObjectJob<'_>,
    err: &FetchError,
    will_retry: bool,
    reporter: &dyn Reporter,
) {
    reporter.report(&Event::FileFailed {
        tool_id: job.tool_id.to_owned(),
        path: job.file.path.clone(),
        error: err.info_for(job.tool_id, &job.file.path),
        will_retry,
    });
}

/// An integrity failure says more than the network errors around it.
fn most_telling(mut failures: Vec<FetchError>) -> FetchError {
    if let Some(i) = failures
        .iter()
        .position(|e| e.class() == FetchClass::Integrity)
    {
        return failures.swap_remove(i);
    }
    failures.pop().unwrap_or(FetchError::Connect {
        url: String::new(),
        source: Cause::msg("no source to fetch from"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchClass;

    #[test]
    fn an_integrity_failure_outranks_later_network_errors() {
        let err = most_telling(vec![
            FetchError::Integrity {
                url: "u".into(),
                expected_sha256: "e".into(),
                actual_sha256: "a".into(),
                expected_size: 1,
                actual_size: 1,
            },
            FetchError::Status {
                url: "v".into(),
                status: 404,
            },
        ]);
        assert_eq!(err.class(), FetchClass::Integrity);
    }
}
