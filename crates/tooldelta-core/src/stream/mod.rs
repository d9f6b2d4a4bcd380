//! Stream adapters, written once for every download in the workspace (the
//! engine's fetch and the mirror's pull-through), in the manner of tough's
//! `io.rs`: a response body read through a size limit, a stall timeout and
//! a cancellation token ([`Body`]), handed to a [`Sink`] that hashes and
//! writes on a blocking thread, with [`pump`] moving chunks from one to the
//! other. A fetch is then a short composition of these.

mod side_hash;
mod sink;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

pub use sink::Sink;
pub(crate) use sink::{EarlyWriteback, WRITEBACK_EVERY};

use crate::rate::RateLimiter;

/// Why a body stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// No byte arrived for the stall timeout.
    #[error("no byte for {} s", .0.as_secs())]
    Stalled(Duration),
    /// The cancellation token fired.
    #[error("cancelled")]
    Cancelled,
    /// More bytes than the limit (endless data); the chunk past it is dropped.
    #[error("more than {0} bytes")]
    TooLong(u64),
    /// The transport failed mid-body.
    #[error("{}", error_chain(.0))]
    Transport(#[source] reqwest::Error),
}

type Chunks = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A response body read chunk by chunk through the adapters it was given.
pub struct Body {
    chunks: Chunks,
    limit: u64,
    stall: Option<Duration>,
    cancel: Option<CancellationToken>,
    rate: Option<Arc<RateLimiter>>,
    received: u64,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("limit", &self.limit)
            .field("stall", &self.stall)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Body {
    /// The body of a response, unbounded until adapters are added.
    pub fn new(resp: reqwest::Response) -> Self {
        Self {
            chunks: Box::pin(resp.bytes_stream()),
            limit: u64::MAX,
            stall: None,
            cancel: None,
            rate: None,
            received: 0,
        }
    }

    /// Bandwidth cap: each chunk waits for its bytes in `limiter`, shared
    /// with every other body read through it.
    #[must_use]
    pub fn rate(mut self, limiter: Option<Arc<RateLimiter>>) -> Self {
        self.rate = limiter;
        self
    }

    /// Size limit: more than `max` bytes is [`StreamError::TooLong`].
    #[must_use]
    pub fn limit(mut self, max: u64) -> Self {
        self.limit = max;
        self
    }

    /// Stall timeout: no byte for `after` is [`StreamError::Stalled`].
    #[must_use]
    pub fn stall_timeout(mut self, after: Duration) -> Self {
        self.stall = Some(after);
        self
    }

    /// Cancellation: `token` firing is [`StreamError::Cancelled`].
    #[must_use]
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Bytes handed out so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk, `None` at the end of the body.
    pub async fn next(&mut self) -> Result<Option<Bytes>, StreamError> {
        let next = self.chunks.next();
        let timed = async {
            match self.stall {
                Some(after) => tokio::time::timeout(after, next)
                    .await
                    .map_err(|_| StreamError::Stalled(after)),
                None => Ok(next.await),
            }
        };
        let chunk = match &self.cancel {
            Some(token) => tokio::select! {
                () = token.cancelled() => return Err(StreamError::Cancelled),
                r = timed => r?,
            },
            None => timed.await?,
        };
        let Some(chunk) = chunk.transpose().map_err(StreamError::Transport)? else {
            return Ok(None);
        };
        let len = chunk.len() as u64;
        if self.received.saturating_add(len) > self.limit {
            return Err(StreamError::TooLong(self.limit));
        }
        self.received += len;
        if let Some(limiter) = &self.rate {
            // Holding the chunk back holds back the reads, and TCP's window
            // then slows the sender: the cap applies to the link itself.
            match &self.cancel {
                Some(token) => tokio::select! {
                    () = token.cancelled() => return Err(StreamError::Cancelled),
                    () = limiter.acquire(len) => {}
                },
                None => limiter.acquire(len).await,
            }
        }
        Ok(Some(chunk))
    }

    /// The whole body in memory (for small documents: manifests, indexes).
    pub async fn read_all(mut self) -> Result<Vec<u8>, StreamError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// Moves a body into a sink, calling `on_chunk` with each chunk's length.
/// Returns at the end of the body, or early when the sink's writer stopped
/// (its error is what [`Sink::close`] or [`Sink::finish`] returns).
pub async fn pump(
    body: &mut Body,
    sink: &mut Sink,
    mut on_chunk: impl FnMut(u64),
) -> Result<(), StreamError> {
    while let Some(chunk) = body.next().await? {
        let len = chunk.len() as u64;
        if sink.write(chunk).await.is_err() {
            return Ok(());
        }
        on_chunk(len);
    }
    Ok(())
}

/// reqwest's Display hides the cause ("error sending request"); show the chain.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
