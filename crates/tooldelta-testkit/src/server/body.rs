//! Body faults: corrupt, extend, cut, stall and throttle a correct body as it
//! streams, counting what is handed to the connection.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::faults::BodyPlan;
use super::log::Entry;
use super::origin::BodyStream;

/// Filler chunk for extra and endless bodies.
const FILLER: usize = 64 * 1024;
static FILLER_BYTES: [u8; FILLER] = [b'X'; FILLER];

/// Pause before a cut, so the bytes before it leave hyper's buffer.
const CUT_FLUSH_GRACE: std::time::Duration = std::time::Duration::from_millis(50);

struct Shaper {
    inner: Option<BodyStream>,
    /// Data taken from `inner` (or filler) and not sent yet.
    pending: Bytes,
    /// Whether `pending` is file data (corruptible) or filler.
    pending_is_file: bool,
    /// Body bytes sent so far.
    pos: u64,
    /// File offset of body byte 0.
    offset: u64,
    plan: BodyPlan,
    extra_left: u64,
    stalled: bool,
    done: bool,
    entry: Arc<Entry>,
}

/// Wraps a correct body with the faults of `plan`.
pub(crate) fn shape(
    inner: BodyStream,
    offset: u64,
    plan: BodyPlan,
    entry: Arc<Entry>,
) -> BodyStream {
    let shaper = Shaper {
        inner: Some(inner),
        pending: Bytes::new(),
        pending_is_file: true,
        pos: 0,
        offset,
        extra_left: plan.extra,
        plan,
        stalled: false,
        done: false,
        entry,
    };
    Box::pin(futures_util::stream::unfold(shaper, |mut s| async move {
        s.next().await.map(|item| (item, s))
    }))
}

impl Shaper {
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        if self.done {
            return None;
        }
        if self.plan.cut_after == Some(self.pos) {
            self.done = true;
            self.entry.mark_cut();
            // hyper drops what it has buffered when a body fails: give it
            // time to flush the bytes before the cut, so the client gets them.
            tokio::time::sleep(CUT_FLUSH_GRACE).await;
            // An error from the body makes hyper abort the connection: the
            // client sees fewer bytes than the Content-Length promised.
            return Some(Err(io::Error::other(format!(
                "fault: connection cut after {} body bytes",
                self.pos
            ))));
        }
        if let Some((at, duration)) = self.plan.stall
            && !self.stalled
            && self.pos >= at
        {
            self.stalled = true;
            tokio::time::sleep(duration).await;
        }
        if self.pending.is_empty() {
            match self.refill().await? {
                Ok(()) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        let n = self.chunk_len();
        let mut chunk = self.pending.split_to(n);
        if self.pending_is_file {
            chunk = self.corrupt(chunk);
        }
        if let Some(pacer) = &self.plan.pacer {
            tokio::time::sleep_until(pacer.reserve(n as u64)).await;
        }
        self.pos += n as u64;
        self.entry.add_chunk(n as u64);
        Some(Ok(chunk))
    }

    /// Fills `pending` from the file, then from filler; `None` at the end.
    async fn refill(&mut self) -> Option<io::Result<()>> {
        while let Some(inner) = &mut self.inner {
            match inner.next().await {
                Some(Ok(b)) if b.is_empty() => {}
                Some(Ok(b)) => {
                    self.pending = b;
                    self.pending_is_file = true;
                    return Some(Ok(()));
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => self.inner = None,
            }
        }
        self.pending_is_file = false;
        if self.plan.endless {
            self.pending = Bytes::from_static(&FILLER_BYTES);
            return Some(Ok(()));
        }
        if self.extra_left > 0 {
            let n = self.extra_left.min(FILLER as u64);
            self.extra_left -= n;
            self.pending = Bytes::from_static(&FILLER_BYTES).slice(..n as usize);
            return Some(Ok(()));
        }
        self.done = true;
        None
    }

    /// How much of `pending` to send now: stop at the cut, at the stall and
    /// at the pacer's slot size.
    fn chunk_len(&self) -> usize {
        let mut n = self.pending.len() as u64;
        if let Some(cut) = self.plan.cut_after {
            n = n.min(cut - self.pos);
        }
        if let Some((at, _)) = self.plan.stall
            && !self.stalled
        {
            n = n.min(at - self.pos);
        }
        if let Some(pacer) = &self.plan.pacer {
            n = n.min(pacer.chunk_size());
        }
        n as usize
    }

    /// Flips the bytes of `chunk` that sit at a corrupted file offset.
    fn corrupt(&self, chunk: Bytes) -> Bytes {
        let start = self.offset + self.pos;
        let end = start + chunk.len() as u64;
        let hits: Vec<u64> = self
            .plan
            .corrupt
            .iter()
            .copied()
            .filter(|k| (start..end).contains(k))
            .collect();
        if hits.is_empty() {
            return chunk;
        }
        let mut bytes = BytesMut::from(chunk.as_ref());
        for k in hits {
            bytes[(k - start) as usize] ^= 0xff;
        }
        bytes.freeze()
    }
}
