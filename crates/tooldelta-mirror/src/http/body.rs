//! A file range as a response body: large positioned reads on the blocking
//! pool with one read always ahead, so the disk and the socket work in parallel.
//! A small range that the page cache already holds is read at once on the
//! async thread instead (`preadv2` with `RWF_NOWAIT` never waits for the disk):
//! for many small ranged requests the hop to the blocking pool and back cost
//! more than the read itself.

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
use rustix::io::ReadWriteFlags;
use tokio::task::JoinHandle;

/// Bytes per read: large enough that per-chunk costs (a blocking-pool hop, a
/// `writev`) vanish next to the copy, small enough for many clients at once.
pub(crate) const CHUNK: u64 = 1024 * 1024;

/// Ranges up to this size are first tried on the async thread (from the page
/// cache only). Measured with 64 concurrent clients asking 64 KiB ranges
/// (`make bench`): more requests per second than with two blocking-pool hops.
const INLINE_MAX: u64 = 256 * 1024;

/// Streams `[start, end)` of a file.
pub(crate) struct FileBody {
    file: Arc<File>,
    next: u64,
    end: u64,
    /// A chunk read inline, sent before anything else.
    ready: Option<Bytes>,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    served: Counter,
}

impl FileBody {
    /// A body for `start..end` of `file`; `served` counts the bytes sent.
    pub(crate) fn new(file: Arc<File>, start: u64, end: u64, served: Counter) -> Self {
        let mut body = Self {
            file,
            next: start,
            end,
            ready: None,
            pending: None,
            served,
        };
        if end - start <= INLINE_MAX {
            body.ready = read_cached(&body.file, start, end);
            if body.ready.is_some() {
                body.next = end;
            }
        }
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
        if let Some(chunk) = self.ready.take() {
            self.served.inc_by(chunk.len() as u64);
            return Poll::Ready(Some(Ok(chunk)));
        }
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

/// `[start, end)` of `file` if the page cache holds all of it, without ever
/// waiting for the disk; `None` (read it on the blocking pool) otherwise,
/// including on kernels or file systems without `RWF_NOWAIT`.
fn read_cached(file: &File, start: u64, end: u64) -> Option<Bytes> {
    let len = usize::try_from(end - start).ok()?;
    let mut buf = vec![0; len];
    let mut done = 0;
    while done < len {
        let mut slices = [io::IoSliceMut::new(&mut buf[done..])];
        let offset = start + done as u64;
        match rustix::io::preadv2(file, &mut slices, offset, ReadWriteFlags::NOWAIT) {
            Ok(n) if n > 0 => done += n,
            // End of file (a short stored file), EAGAIN (not cached),
            // EOPNOTSUPP, or any error: the blocking path decides.
            _ => return None,
        }
    }
    Some(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use futures_util::StreamExt;

    use super::*;

    fn file_of(data: &[u8]) -> Arc<File> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(data).unwrap();
        Arc::new(file)
    }

    #[tokio::test]
    async fn small_inline_and_large_read_ahead_ranges_stream_exactly_their_bytes() {
        let data: Vec<u8> = (0..3 * CHUNK as usize + 5)
            .map(|i| (i % 251) as u8)
            .collect();
        let file = file_of(&data);
        let len = data.len() as u64;
        for (start, end) in [
            (10, 1000),
            (0, len),
            (CHUNK - 3, CHUNK + INLINE_MAX),
            (7, 8),
        ] {
            let served = Counter::default();
            let body = FileBody::new(Arc::clone(&file), start, end, served.clone());
            let chunks: Vec<Bytes> = body.map(Result::unwrap).collect().await;
            assert_eq!(chunks.concat(), &data[start as usize..end as usize]);
            assert_eq!(served.get(), end - start);
        }
    }

    #[test]
    fn a_cached_read_gives_the_range_and_none_past_the_end() {
        let data = b"0123456789abcdef";
        let file = file_of(data);
        assert_eq!(read_cached(&file, 3, 9).unwrap(), &data[3..9]);
        assert!(
            read_cached(&file, 10, 40).is_none(),
            "a short file is left to the blocking path"
        );
    }
}
