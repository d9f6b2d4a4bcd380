//! One object's download, attempt by attempt: ranged request, the resume
//! decision, then a short composition of the stream adapters (size limit,
//! stall timeout, cancellation, hashing sink), hash check and persist.

use std::fs;
use std::time::Instant;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, ETAG};
use tokio_util::sync::CancellationToken;

mod segmented;

use super::pending::{Answer, MirrorWait};
use super::resume::{Resume, decide};
use super::{Fetched, Fetcher, ObjectJob, Use};
use crate::error::FetchError;
use crate::events::{Event, Reporter};
use crate::explain::Cause;
use crate::fs::Durability;
use crate::store::Store;
use crate::stream::{Body, Sink, StreamError, pump};
use crate::throttle::{PROGRESS_INTERVAL, Progress};

/// The state of one object's download across attempts and sources.
pub(super) struct ObjectRun<'a> {
    fetcher: &'a Fetcher,
    store: &'a Store,
    job: &'a ObjectJob<'a>,
    progress: &'a Progress,
    reporter: &'a dyn Reporter,
    cancel: &'a CancellationToken,
    /// Bytes of the partial on disk, as far as this run knows.
    on_disk: u64,
    /// Bytes of the partial found at start (an earlier run's).
    initial: u64,
    /// Whether the earlier run's bytes may still count as resumed.
    initial_intact: bool,
    fetched: Fetched,
    /// When this file's last progress event left (per-file throttle).
    last_progress: Option<Instant>,
    /// Set once a source showed it does not do ranges: one stream from then on.
    one_stream: bool,
}

impl<'a> ObjectRun<'a> {
    pub(super) fn new(
        fetcher: &'a Fetcher,
        store: &'a Store,
        job: &'a ObjectJob<'a>,
        progress: &'a Progress,
        reporter: &'a dyn Reporter,
        cancel: &'a CancellationToken,
    ) -> Self {
        Self {
            fetcher,
            store,
            job,
            progress,
            reporter,
            cancel,
            on_disk: 0,
            initial: 0,
            initial_intact: true,
            fetched: Fetched::default(),
            last_progress: None,
            one_stream: false,
        }
    }

    fn sha(&self) -> &str {
        &self.job.file.sha256
    }

    fn size(&self) -> u64 {
        self.job.file.size
    }

    /// Looks at the partial an earlier run left; returns the bytes kept.
    pub(super) fn start(&mut self) -> u64 {
        if let Some(written) = self.segment_job("").saved_bytes() {
            if self.segmented() {
                self.on_disk = written;
                self.initial = written;
                self.progress.resumed(written);
                return written;
            }
            if let Err(e) = self.leave_segments() {
                tracing::warn!("{}: {e}", self.store.partial_path(self.sha()).display());
            }
        }
        let len = self.store.partial_len(self.sha());
        if len > self.size() {
            // Longer than the file can be: not ours to trust.
            let _ = self.store.discard_partial(self.sha());
            return 0;
        }
        self.on_disk = len;
        self.initial = len;
        self.progress.resumed(len);
        len
    }

    pub(super) fn on_disk(&self) -> u64 {
        self.on_disk
    }

    pub(super) fn fetched(&self) -> Fetched {
        self.fetched
    }

    fn io(&self, source: std::io::Error) -> FetchError {
        FetchError::Io {
            path: self.store.partial_path(self.sha()),
            source,
        }
    }

    fn truncate(&mut self) {
        self.progress.discarded(self.on_disk);
        self.on_disk = 0;
        self.initial_intact = false;
    }

    /// One attempt at one URL.
    pub(super) async fn attempt(&mut self, url: &str) -> Result<(), FetchError> {
        if self.cancel.is_cancelled() {
            return Err(FetchError::Cancelled);
        }
        if self.segmented() {
            match self.segments(url).await? {
                Some(whole) => return self.stream(url, whole, 0).await,
                None if self.one_stream => {}
                None => return Ok(()),
            }
        }
        if self.on_disk == self.size() && self.finish_complete_partial().await? {
            return Ok(());
        }
        let (resp, offset) = self.request(url).await?;
        if resp
            .content_length()
            .is_some_and(|len| offset.saturating_add(len) > self.size())
        {
            return Err(FetchError::TooLong {
                url: url.to_owned(),
                limit: self.size(),
            });
        }
        self.remember_etag(&resp);
        if offset > 0 && offset == self.initial && self.initial_intact {
            self.fetched.resumed = self.initial;
        }
        self.stream(url, resp, offset).await
    }

    /// A partial of full length from an earlier run: keep it if it hashes right.
    async fn finish_complete_partial(&mut self) -> Result<bool, FetchError> {
        let sink = Sink::open(&self.store.partial_path(self.sha()), self.size());
        let digest = sink
            .finish_with(self.job.durability)
            .await
            .map_err(|e| self.io(e))?;
        if digest.sha256 == self.sha() {
            self.fetched.resumed = self.size();
            self.persist().await?;
            return Ok(true);
        }
        self.store
            .discard_partial(self.sha())
            .map_err(|e| self.io(e))?;
        self.truncate();
        Ok(false)
    }

    /// Sends the request (ranged when a partial exists) and applies the
    /// resume decision; returns the response and the offset its body starts at.
    async fn request(&mut self, url: &str) -> Result<(reqwest::Response, u64), FetchError> {
        let mut reissued = false;
        loop {
            let offset = self.on_disk;
            let resp = self.send(url, offset).await?;
            let content_range = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok());
            match decide(offset, resp.status().as_u16(), content_range, self.size()) {
                Resume::Append { offset } => return Ok((resp, offset)),
                Resume::FromZero => {
                    self.truncate();
                    return Ok((resp, 0));
                }
                Resume::Reissue if !reissued => {
                    reissued = true;
                    self.truncate();
                }
                Resume::Reissue => {
                    return Err(FetchError::Status {
                        url: url.to_owned(),
                        status: resp.status().as_u16(),
                    });
                }
                Resume::Status(status) => {
                    return Err(FetchError::Status {
                        url: url.to_owned(),
                        status,
                    });
                }
            }
        }
    }

    /// Sends the request; while a site mirror answers that it is still
    /// fetching the content from its upstream, reports its progress and asks
    /// again, as long as that fetch advances.
    async fn send(&self, url: &str, offset: u64) -> Result<reqwest::Response, FetchError> {
        let mut wait = MirrorWait::new(self.fetcher.stall_timeout);
        loop {
            let resp = self.send_once(url, offset).await?;
            match wait.judge(url, self.size(), resp).await? {
                Answer::Ready(resp) => return Ok(resp),
                Answer::Wait {
                    progress,
                    upstream,
                    delay,
                } => {
                    self.reporter.report(&Event::MirrorFetching {
                        tool_id: self.job.tool_id.to_owned(),
                        path: self.job.file.path.clone(),
                        mirror: origin(url),
                        upstream,
                        bytes_done: progress.received,
                        size: self.size(),
                    });
                    tokio::select! {
                        () = self.cancel.cancelled() => return Err(FetchError::Cancelled),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    async fn send_once(&self, url: &str, offset: u64) -> Result<reqwest::Response, FetchError> {
        let range = (offset > 0).then(|| format!("bytes={offset}-"));
        let etag = range.as_ref().and_then(|_| self.stored_etag());
        let send = self
            .fetcher
            .get(url, range.as_deref(), etag.as_deref(), Use::Shared);
        let timed = tokio::time::timeout(self.fetcher.stall_timeout, send);
        tokio::select! {
            () = self.cancel.cancelled() => Err(FetchError::Cancelled),
            r = timed => match r {
                Err(_) => Err(FetchError::Stalled {
                    url: url.to_owned(),
                    secs: self.fetcher.stall_timeout.as_secs(),
                    received: offset,
                }),
                Ok(Err(e)) => Err(e),
                Ok(Ok(resp)) if resp.status() == StatusCode::OK
                    || resp.status() == StatusCode::PARTIAL_CONTENT
                    || resp.status().is_client_error()
                    || resp.status().is_server_error() => Ok(resp),
                Ok(Ok(resp)) => Err(FetchError::Status { url: url.to_owned(), status: resp.status().as_u16() }),
            }
        }
    }

    /// A strong ETag stored beside the partial, for `If-Range`.
    fn stored_etag(&self) -> Option<String> {
        let path = self.store.etag_path(self.sha());
        // A planted link is no validator (and must not leak what it points to).
        if !fs::symlink_metadata(&path).is_ok_and(|m| crate::fs::is_own_file(&m)) {
            return None;
        }
        let text = fs::read_to_string(path).ok()?;
        let etag = text.trim();
        (etag.starts_with('"') && etag.len() <= 256).then(|| etag.to_owned())
    }

    fn remember_etag(&self, resp: &reqwest::Response) {
        if self.job.durability == Durability::Batched {
            // A small object is fetched again whole: no validator to keep.
            return;
        }
        let path = self.store.etag_path(self.sha());
        match resp.headers().get(ETAG).and_then(|v| v.to_str().ok()) {
            // Weak validators cannot guard a byte range (RFC 9110 §13.1.5).
            Some(etag) if etag.starts_with('"') => {
                if self.stored_etag().as_deref() != Some(etag) {
                    let _ = crate::fs::write_own_file(&path, etag.as_bytes());
                }
            }
            _ => {
                let _ = fs::remove_file(&path);
            }
        }
    }

    /// Streams the body into the partial through the size limit (the
    /// manifest size), the stall timeout and the cancellation token, then
    /// checks the digest and persists.
    async fn stream(
        &mut self,
        url: &str,
        resp: reqwest::Response,
        offset: u64,
    ) -> Result<(), FetchError> {
        let mut body = Body::new(resp)
            .limit(self.size() - offset)
            .stall_timeout(self.fetcher.stall_timeout)
            .cancel_on(self.cancel.clone())
            .rate(self.fetcher.rate());
        let mut sink = Sink::open(&self.store.partial_path(self.sha()), offset);
        let mut written = offset;
        let pumped = pump(&mut body, &mut sink, |len| {
            written += len;
            self.fetched.downloaded += len;
            self.progress.downloaded(len, self.reporter);
            self.file_progress(written);
        })
        .await;
        self.on_disk = written;
        if let Err(err) = pumped {
            sink.close().await.map_err(|e| self.io(e))?;
            if matches!(err, StreamError::TooLong(_)) {
                self.store
                    .discard_partial(self.sha())
                    .map_err(|e| self.io(e))?;
                self.truncate();
            }
            return Err(FetchError::from_stream(err, url, written, self.size()));
        }
        if written < self.size() {
            sink.close().await.map_err(|e| self.io(e))?;
            return Err(FetchError::Body {
                url: url.to_owned(),
                received: written,
                source: Cause::msg(format!(
                    "the body ended {} bytes early",
                    self.size() - written
                )),
            });
        }
        let digest = sink
            .finish_with(self.job.durability)
            .await
            .map_err(|e| self.io(e))?;
        if digest.sha256 != self.sha() {
            self.store
                .discard_partial(self.sha())
                .map_err(|e| self.io(e))?;
            self.truncate();
            return Err(FetchError::Integrity {
                url: url.to_owned(),
                expected_sha256: self.sha().to_owned(),
                actual_sha256: digest.sha256,
                expected_size: self.size(),
                actual_size: digest.size,
            });
        }
        self.persist().await
    }

    fn file_progress(&mut self, bytes_done: u64) {
        let now = Instant::now();
        if self
            .last_progress
            .is_some_and(|t| now.duration_since(t) < PROGRESS_INTERVAL)
        {
            return;
        }
        self.last_progress = Some(now);
        self.reporter.report(&Event::FileProgress {
            tool_id: self.job.tool_id.to_owned(),
            path: self.job.file.path.clone(),
            bytes_done,
            size: self.size(),
        });
    }

    async fn persist(&mut self) -> Result<(), FetchError> {
        let store = self.store.clone();
        let sha = self.sha().to_owned();
        let durability = self.job.durability;
        tokio::task::spawn_blocking(move || store.persist_with(&sha, durability))
            .await
            .map_err(|e| self.io(std::io::Error::other(e)))?
            .map_err(|e| self.io(e))?;
        Ok(())
    }
}

/// Scheme, host and port of a URL (the mirror, for messages).
fn origin(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.origin().ascii_serialization())
}
