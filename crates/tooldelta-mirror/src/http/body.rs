//! A file range as a response body: large positioned reads on the blocking
//! pool with one read always ahead, so the disk and the socket work in parallel.

use std::fs::File;
use std::future::Future as _;
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use prometheus_client::metrics::counter::Counter;
use tokio::task::JoinHandle;

/// Bytes per read: large enough that per-chunk costs (a blocking-pool hop, a
/// `writev`) vanish next to the copy, small enough for many clients at once.
pub(crate) const CHUNK: u64 = 1024 * 1024;

/// Streams `[start, end)` of a file.
pub(crate) struct FileBody {
    file: Arc<File>,
    next: u64,
    end: u64,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    served: Counter,
}

impl FileBody {
    /// A body for `start..end` of `file`; `served` counts the bytes sent.
    pub(crate) fn new(file: File, start: u64, end: u64, served: Counter) -> Self {
        let mut body = Self {
            file: Arc::new(file),
            next: start,
            end,
            pending: None,
            served,
        };
        body.read_ahead();
        body
    }

    fn read_ahead(&mut self) {
        if self.pending.is_some() || self.next >= self.end {
            return;
        }
        let offset = self.next;
        let len = (self.end - offset).min(CHUNK) as usize;
        self.next += len as u64;
        let file = Arc::clone(&self.file);
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; len];
            file.read_exact_at(&mut buf, offset).map_err(|e| {
                // A stored file shorter than its size: end the response early so
                // the client sees a short body, never a file passed off as whole.
                io::Error::new(e.kind(), format!("reading stored content at {offset}: {e}"))
            })?;
            Ok(Bytes::from(buf))
        }));
    }
}

impl Stream for FileBody {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(pending) = self.pending.as_mut() else {
            return Poll::Ready(None);
        };
        let result = ready!(Pin::new(pending).poll(cx));
        self.pending = None;
        let chunk = match result {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => return Poll::Ready(Some(Err(e))),
            Err(join) => return Poll::Ready(Some(Err(io::Error::other(join)))),
        };
        self.served.inc_by(chunk.len() as u64);
        // The next read starts now, while this chunk goes out on the socket.
        self.read_ahead();
        Poll::Ready(Some(Ok(chunk)))
    }
}
