//! Segmented download of one large object: several byte ranges over
//! several connections at once (aria2's `-x N -s N`), each written in place
//! into the `.partial` file and each resumable on its own (the `.segments`
//! table beside the partial).
//!
//! The object is still hashed end to end before it enters the store: a
//! hasher thread follows the contiguous prefix of written bytes and hashes
//! it while the later segments still arrive, reading it back while it is
//! fresh in the page cache, so when the last byte lands only the tail
//! remains to hash and nothing re-reads the whole file afterwards.
//!
//! A source that does not honour Range (a `200` to the first request, or a
//! `206` for other bytes than asked) hands the download back to the single
//! stream; so does a `200` later on (the content changed under `If-Range`).

mod hasher;
pub mod table;

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;
use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

use self::hasher::{Hashed, Shared};
use self::table::Table;
use super::Fetcher;
use super::ranged::{ByteRange, Ranged};
use crate::error::FetchError;
use crate::events::{Event, Reporter};
use crate::explain::Cause;
use crate::stream::{Body, EarlyWriteback, WRITEBACK_EVERY};
use crate::throttle::{PROGRESS_INTERVAL, Progress};

/// Bytes a connection gathers before one positional write.
const WRITE_BATCH: usize = 1 << 20;

/// One segmented download.
pub(crate) struct SegmentJob<'a> {
    /// The fetcher (clients, cap, timeouts).
    pub fetcher: &'a Fetcher,
    /// The source.
    pub url: &'a str,
    /// The `.partial` file.
    pub partial: PathBuf,
    /// The `.segments` table beside it.
    pub table_path: PathBuf,
    /// The object's size.
    pub size: u64,
    /// Bytes of a single-stream partial already on disk (no table yet).
    pub prefix: u64,
    /// `If-Range` for every request, when a strong ETag is known.
    pub etag: Option<String>,
    /// Connections.
    pub connections: usize,
    /// The tool and the file (for file events).
    pub tool_id: &'a str,
    /// The file's path in the release.
    pub path: &'a str,
    /// Overall progress.
    pub progress: &'a Progress,
    /// Where file progress goes.
    pub reporter: &'a dyn Reporter,
    /// Cancellation of the whole update.
    pub cancel: &'a CancellationToken,
}

/// How a segmented download ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Every byte is written and fsynced; this is the SHA-256 of the whole file.
    Complete {
        /// Lowercase hex.
        sha256: String,
    },
    /// A failure; the table is saved for the next attempt.
    Failed(FetchError),
    /// The source does not do ranges: continue as one stream (with this
    /// whole-content response, when one is in hand).
    SingleStream(Option<reqwest::Response>),
}

/// What the connections share while they run.
struct Run<'j, 'a> {
    job: &'j SegmentJob<'a>,
    file: Arc<File>,
    shared: Arc<Shared>,
    /// Stops every connection after the first failure.
    stop: CancellationToken,
    failure: Mutex<Option<Outcome>>,
    downloaded: AtomicU64,
    last_event: Mutex<Option<Instant>>,
    /// Gets the disk writing while bytes still arrive (as a single stream's sink does).
    writeback: Option<EarlyWriteback>,
    written: AtomicU64,
}

impl SegmentJob<'_> {
    /// The bytes of a table from an earlier run (resumed bytes), if any.
    pub(crate) fn saved_bytes(&self) -> Option<u64> {
        Table::load(&self.table_path, self.size).map(|t| t.written())
    }

    /// Runs the download; returns how it ended and the bytes received.
    pub(crate) async fn run(
        &self,
        on_first: &(dyn Fn(&reqwest::Response) + Sync),
    ) -> (Outcome, u64) {
        let opened = self.open().await;
        let (file, table) = match opened {
            Ok(v) => v,
            Err(e) => return (Outcome::Failed(self.io(e)), 0),
        };
        let mut table = table;
        let Some(first) = table.take() else {
            // Everything is on disk already: hash it.
            return self.finish(file, table, None).await;
        };
        let resp = match self.request(&table, first, self.cancel).await {
            Ok(Ranged::Partial(resp)) => resp,
            Ok(Ranged::Whole(resp)) => return (Outcome::SingleStream(Some(resp)), 0),
            Ok(Ranged::Mismatch(why)) => {
                tracing::info!("{}: {why}; one stream instead", self.url);
                return (Outcome::SingleStream(None), 0);
            }
            Err(e) => return (Outcome::Failed(e), 0),
        };
        on_first(&resp);
        self.finish(file, table, Some((first, resp))).await
    }

    /// Starts the hasher, runs the connections, and settles the table.
    async fn finish(
        &self,
        file: Arc<File>,
        table: Table,
        first: Option<(usize, reqwest::Response)>,
    ) -> (Outcome, u64) {
        let shared = Arc::new(Shared::new(table));
        let hashing = hasher::spawn(Arc::clone(&file), Arc::clone(&shared), self.size);
        let writeback = EarlyWriteback::start(&file).ok();
        let run = Run {
            job: self,
            file,
            shared: Arc::clone(&shared),
            stop: self.cancel.child_token(),
            failure: Mutex::new(None),
            downloaded: AtomicU64::new(0),
            last_event: Mutex::new(None),
            writeback,
            written: AtomicU64::new(0),
        };
        let mut first = first;
        let workers = (0..self.connections.max(1)).map(|_| run.connection(first.take()));
        join_all(workers).await;
        shared.stop();
        let hashed = hashing.await;
        let downloaded = run.downloaded.load(Ordering::Relaxed);
        let failure = run
            .failure
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A write-back error is reported once per open file: kept here, so
        // the final fsync cannot miss it.
        let written_back = match run.writeback {
            Some(writeback) => tokio::task::spawn_blocking(move || writeback.stop())
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r.map(drop)),
            None => Ok(()),
        };
        if let Err(e) = written_back {
            return (
                Outcome::Failed(self.io(e)),
                run.downloaded.load(Ordering::Relaxed),
            );
        }
        let table = shared.table();
        (
            self.settle(&run.file, &table, hashed, failure).await,
            downloaded,
        )
    }

    async fn settle(
        &self,
        file: &Arc<File>,
        table: &Table,
        hashed: std::io::Result<Hashed>,
        failure: Option<Outcome>,
    ) -> Outcome {
        if !table.complete() || failure.is_some() {
            if let Err(e) = table.save(&self.table_path) {
                return Outcome::Failed(self.io(e));
            }
            return failure.unwrap_or_else(|| Outcome::Failed(FetchError::Cancelled));
        }
        let hashed = match hashed {
            Ok(h) if h.len == self.size => h,
            Ok(_) => {
                return Outcome::Failed(self.io(std::io::Error::other("the hasher stopped early")));
            }
            Err(e) => return Outcome::Failed(self.io(e)),
        };
        let file = Arc::clone(file);
        let synced = tokio::task::spawn_blocking(move || file.sync_all())
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        if let Err(e) = synced {
            return Outcome::Failed(self.io(e));
        }
        let _ = std::fs::remove_file(&self.table_path);
        Outcome::Complete {
            sha256: hashed.sha256,
        }
    }

    /// Opens the partial at full length and the table: the saved one, or
    /// a new plan that keeps a single-stream prefix.
    async fn open(&self) -> std::io::Result<(Arc<File>, Table)> {
        let (partial, table_path) = (self.partial.clone(), self.table_path.clone());
        let (size, connections, prefix) = (self.size, self.connections, self.prefix);
        tokio::task::spawn_blocking(move || {
            let file = crate::fs::open_own_file(&partial)?;
            let table = Table::load(&table_path, size).unwrap_or_else(|| {
                // A partial without a table is a single stream's: its
                // first `prefix` bytes are good, the rest is not ours.
                Table::plan(size, connections, prefix.min(size))
            });
            if file.metadata()?.len() != size {
                file.set_len(size)?;
            }
            Ok((Arc::new(file), table))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    async fn request(
        &self,
        table: &Table,
        i: usize,
        cancel: &CancellationToken,
    ) -> Result<Ranged, FetchError> {
        let s = table.segments[i];
        let range = ByteRange {
            start: s.next(),
            end: s.end,
            total: self.size,
        };
        self.fetcher
            .get_range(self.url, range, self.etag.as_deref(), true, cancel)
            .await
    }

    fn io(&self, source: std::io::Error) -> FetchError {
        FetchError::Io {
            path: self.partial.clone(),
            source,
        }
    }
}

impl Run<'_, '_> {
    /// One connection: segment after segment until none is left or
    /// something failed.
    async fn connection(&self, mut first: Option<(usize, reqwest::Response)>) {
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let started = if let Some(started) = first.take() {
                Ok(Some(started))
            } else {
                self.next_segment().await
            };
            let (i, resp) = match started {
                Ok(Some(started)) => started,
                Ok(None) => return,
                Err(outcome) => return self.fail(outcome),
            };
            if let Err(e) = self.segment(i, resp).await {
                return self.fail(Outcome::Failed(e));
            }
        }
    }

    /// Takes the next segment and asks for it; `None` when none is left.
    async fn next_segment(&self) -> Result<Option<(usize, reqwest::Response)>, Outcome> {
        let Some(i) = self.shared.take() else {
            return Ok(None);
        };
        let table = self.shared.table();
        match self.job.request(&table, i, &self.stop).await {
            Ok(Ranged::Partial(resp)) => Ok(Some((i, resp))),
            // The content changed (If-Range) or ranges went wrong.
            Ok(Ranged::Whole(_) | Ranged::Mismatch(_)) => Err(Outcome::SingleStream(None)),
            Err(e) => Err(Outcome::Failed(e)),
        }
    }

    fn fail(&self, outcome: Outcome) {
        let mut failure = self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The first failure is the story; the others stopped because of it
        // (cancelled), unless the whole run was cancelled.
        let cancelled = |o: &Outcome| matches!(o, Outcome::Failed(FetchError::Cancelled));
        if failure.as_ref().is_none_or(cancelled) {
            *failure = Some(outcome);
        }
        self.stop.cancel();
    }

    /// Streams one segment's body into its place in the file.
    async fn segment(&self, i: usize, resp: reqwest::Response) -> Result<(), FetchError> {
        let seg = self.shared.table().segments[i];
        let url = self.job.url;
        let fetcher = self.job.fetcher;
        let mut body = Body::new(resp)
            .limit(seg.end - seg.next())
            .stall_timeout(fetcher.stall_timeout)
            .cancel_on(self.stop.clone())
            .rate(fetcher.rate());
        let mut at = seg.next();
        let mut batch = BytesMut::with_capacity(WRITE_BATCH);
        loop {
            let chunk = match body.next().await {
                Ok(chunk) => chunk,
                Err(e) => {
                    // What arrived is kept for the next attempt's range.
                    self.write(batch, at, i).await?;
                    return Err(FetchError::from_stream(e, self.job.url, at, self.job.size));
                }
            };
            let Some(chunk) = chunk else { break };
            self.downloaded
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.job
                .progress
                .downloaded(chunk.len() as u64, self.job.reporter);
            batch.extend_from_slice(&chunk);
            if batch.len() >= WRITE_BATCH {
                at += self.write(std::mem::take(&mut batch), at, i).await?;
                batch.reserve(WRITE_BATCH);
            }
        }
        at += self.write(batch, at, i).await?;
        if at < seg.end {
            return Err(FetchError::Body {
                url: url.to_owned(),
                received: at,
                source: Cause::msg(format!("the range ended {} bytes early", seg.end - at)),
            });
        }
        Ok(())
    }

    /// Writes `batch` at `at` (segment `i`), advances the table, and
    /// returns the bytes written.
    async fn write(&self, batch: BytesMut, at: u64, i: usize) -> Result<u64, FetchError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len() as u64;
        let file = Arc::clone(&self.file);
        tokio::task::spawn_blocking(move || file.write_all_at(&batch, at))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|e| self.job.io(e))?;
        self.shared.advance(i, n);
        let before = self.written.fetch_add(n, Ordering::Relaxed);
        if (before + n) / WRITEBACK_EVERY > before / WRITEBACK_EVERY
            && let Some(writeback) = &self.writeback
        {
            writeback.kick();
        }
        self.file_progress();
        Ok(n)
    }

    fn file_progress(&self) {
        let now = Instant::now();
        {
            let mut last = self
                .last_event
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| now.duration_since(t) < PROGRESS_INTERVAL) {
                return;
            }
            *last = Some(now);
        }
        self.job.reporter.report(&Event::FileProgress {
            tool_id: self.job.tool_id.to_owned(),
            path: self.job.path.to_owned(),
            bytes_done: self.shared.table().written(),
            size: self.job.size,
        });
    }
}
