//! Fetching one range of a blob, chunk by chunk: each chunk is checked
//! against its SHA-256 in the index before it is handed to the sink, so a
//! bad mirror is caught at the first wrong chunk and the next source resumes
//! from the last good one.

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::CONTENT_RANGE;

use crate::chunks::{Chunk, chunk_sha256};
use crate::fetch::pending::{Answer, MirrorWait};
use crate::fetch::{Fetcher, Use};
use crate::stream::Sink;

/// How a range request ended.
#[derive(Debug)]
pub enum RangeError {
    /// The source answered 200 to a ranged request: it ignores Range.
    Ignored,
    /// A chunk did not hash to its index entry (this source is bad).
    Integrity {
        /// The URL.
        url: String,
        /// Offset of the chunk in the file.
        at: u64,
    },
    /// Network, status or stall: another source may do better.
    Failed {
        /// The URL.
        url: String,
        /// What happened.
        cause: String,
    },
    /// The sink stopped (a local I/O error; its `close` says which).
    Sink,
}

/// The chunks of one planned range and how far their fetch got.
pub struct RangeRun<'a> {
    /// The HTTP side.
    pub fetcher: &'a Fetcher,
    /// Size of the whole file (the total of `Content-Range`).
    pub file_size: u64,
    /// The chunks of the range, in order.
    pub chunks: &'a [Chunk],
    /// File offset of the first chunk not yet verified and written.
    pub at: u64,
    /// How many chunks are verified and written.
    pub done: usize,
    /// Body bytes received, good or not (what the network carried).
    pub received: u64,
}

impl RangeRun<'_> {
    /// Whether every chunk arrived.
    pub fn complete(&self) -> bool {
        self.done == self.chunks.len()
    }

    /// Fetches the chunks still missing from `url`, handing each verified
    /// chunk to `sink` and its length to `on_chunk`.
    pub async fn fetch_from(
        &mut self,
        url: &str,
        sink: &mut Sink,
        on_chunk: &mut (dyn FnMut(u64) + Send),
    ) -> Result<(), RangeError> {
        let failed = |cause: String| RangeError::Failed {
            url: url.to_owned(),
            cause,
        };
        let left: u64 = self.chunks[self.done..]
            .iter()
            .map(|c| u64::from(c.len))
            .sum();
        let (start, end) = (self.at, self.at + left - 1);
        let mut resp = self.request(url, start, end).await?;
        let mut buf = BytesMut::new();
        let mut body = 0u64;
        while !self.complete() {
            let chunk = self.chunks[self.done];
            let need = chunk.len as usize;
            if buf.len() < need {
                let next = tokio::time::timeout(self.fetcher.stall_timeout(), resp.chunk()).await;
                let bytes = match next {
                    Err(_) => return Err(failed("stalled".into())),
                    Ok(Err(e)) => return Err(failed(e.to_string())),
                    Ok(Ok(None)) => return Err(failed("body ended early".into())),
                    Ok(Ok(Some(bytes))) => bytes,
                };
                self.received += bytes.len() as u64;
                body += bytes.len() as u64;
                if let Some(limiter) = self.fetcher.rate() {
                    limiter.acquire(bytes.len() as u64).await;
                }
                if body > left {
                    return Err(failed("body runs past the range".into()));
                }
                buf.extend_from_slice(&bytes);
                continue;
            }
            let piece: Bytes = buf.split_to(need).freeze();
            if chunk_sha256(&piece) != chunk.sha256 {
                return Err(RangeError::Integrity {
                    url: url.to_owned(),
                    at: self.at,
                });
            }
            sink.write(piece).await.map_err(|()| RangeError::Sink)?;
            on_chunk(u64::from(chunk.len));
            self.at += u64::from(chunk.len);
            self.done += 1;
        }
        Ok(())
    }

    /// Sends the ranged GET; only a 206 with exactly this `Content-Range` is
    /// accepted (multi-range answers are never asked for).
    async fn request(
        &self,
        url: &str,
        start: u64,
        end: u64,
    ) -> Result<reqwest::Response, RangeError> {
        let failed = |cause: String| RangeError::Failed {
            url: url.to_owned(),
            cause,
        };
        let range = format!("bytes={start}-{end}");
        // A site mirror still pulling the blob from its upstream says so:
        // wait while that advances, as a whole-file download does.
        let mut mirror_wait = MirrorWait::new(self.fetcher.stall_timeout());
        let resp = loop {
            let send = self.fetcher.get(url, Some(&range), None, Use::Shared);
            let resp = match tokio::time::timeout(self.fetcher.stall_timeout(), send).await {
                Err(_) => return Err(failed("no answer".into())),
                Ok(Err(e)) => return Err(failed(crate::explain::explain(&e).line)),
                Ok(Ok(r)) => r,
            };
            match mirror_wait.judge(url, self.file_size, resp).await {
                Ok(Answer::Ready(resp)) => break resp,
                Ok(Answer::Wait { delay, .. }) => tokio::time::sleep(delay).await,
                Err(e) => return Err(failed(e.to_string())),
            }
        };
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {}
            StatusCode::OK => return Err(RangeError::Ignored),
            other => return Err(failed(format!("HTTP {}", other.as_u16()))),
        }
        let want = format!("bytes {start}-{end}/{}", self.file_size);
        let got = resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if got != want {
            return Err(failed(format!("Content-Range {got:?}, expected {want:?}")));
        }
        Ok(resp)
    }
}
