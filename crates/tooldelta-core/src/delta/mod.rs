//! Chunk-level deltas on the client: a file that has a chunk index is
//! rebuilt from the chunks this root already holds plus the missing ones,
//! fetched as a few single-range requests on the blob route.
//!
//! Trust: the index object is fetched by its SHA-256 from the signed
//! manifest, then its header must name the file being fetched; each fetched
//! chunk is checked against its index entry before it is written; and the
//! assembled object is hashed as a whole against the manifest's SHA-256
//! before it enters the store, exactly like a whole-file download. Whenever
//! a delta is not worth it or not possible (no local chunks, most of the file
//! changed, a mirror that ignores Range or lacks the index, a wrong final
//! hash) the caller fetches the whole file, resuming from the verified
//! prefix this run wrote.

mod estimate;
mod local;
pub mod plan;
mod ranges;

pub use self::estimate::{Estimate, estimate};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use self::plan::{DeltaPlan, Step};
use self::ranges::{RangeError, RangeRun};
use crate::chunks::{ChunkIndex, MAX_INDEX_BYTES};
use crate::diff::PlannedFile;
use crate::error::{FetchClass, FetchError};
use crate::events::{NullReporter, Reporter};
use crate::fetch::{Fetched, Fetcher, ObjectJob, lock_object};
use crate::layout::Layout;
use crate::store::Store;
use crate::stream::Sink;
use crate::throttle::Progress;

/// Local bytes read per blocking task (and handed to the writer at once):
/// with the sink's queue of 8, what keeps a delta's memory near 16 MiB.
const COPY_PIECE: u64 = 1 << 20;

/// What a delta attempt did.
#[derive(Debug, Default)]
pub struct Attempt {
    /// Bytes moved (index and ranges, counted even when the attempt fell back).
    pub fetched: Fetched,
    /// Whether the object is now in the store; otherwise fetch it whole.
    pub stored: bool,
}

/// Everything one delta needs.
pub struct DeltaJob<'a> {
    /// The HTTP side.
    pub fetcher: &'a Fetcher,
    /// The root's layout (to find local chunks).
    pub layout: &'a Layout,
    /// The store.
    pub store: &'a Store,
    /// The object to bring in.
    pub job: &'a ObjectJob<'a>,
    /// Overall progress.
    pub progress: &'a Progress,
    /// Where progress events go.
    pub reporter: &'a dyn Reporter,
    /// Cancellation.
    pub cancel: &'a CancellationToken,
    /// A damaged copy of this very file (repair): its chunks that still
    /// verify at their own offsets are local sources too.
    pub in_place: Option<&'a std::path::Path>,
}

impl DeltaJob<'_> {
    /// Tries to build the object from local chunks plus ranges. `Ok` with
    /// `stored == false` means: fetch the whole file.
    pub async fn run(&self) -> Result<Attempt, FetchError> {
        let mut attempt = Attempt::default();
        let Some(index) = self.index(&mut attempt).await? else {
            return Ok(attempt);
        };
        let (layout, store) = (self.layout.clone(), self.store.clone());
        let in_place = self.in_place.map(|p| (p.to_owned(), index.clone()));
        let local = tokio::task::spawn_blocking(move || {
            let mut local = local::gather(&layout, &store);
            if let Some((path, index)) = in_place {
                local::add_in_place(&mut local, &index, &path);
            }
            local
        })
        .await
        .map_err(|e| self.io(std::io::Error::other(e.to_string())))?;
        let plan = plan::plan(&index, &local.map);
        if plan.whole_file_is_better() {
            return Ok(attempt);
        }
        let sha = &self.job.file.sha256;
        let lock = lock_object(&self.store.fetch_lock_path(sha), self.cancel).await?;
        if self.store.contains(sha, self.job.file.size) {
            // Brought in by another updater while this one waited.
            attempt.stored = true;
        } else {
            self.assemble(&index, &plan, &local.sources, &mut attempt)
                .await?;
        }
        drop(lock);
        Ok(attempt)
    }

    fn io(&self, source: std::io::Error) -> FetchError {
        FetchError::Io {
            path: self.store.partial_path(&self.job.file.sha256),
            source,
        }
    }

    /// Brings the file's index into the store (kept there for the next
    /// update) and checks it names this file. `None`: no index, or no
    /// mirror has it — fetch the whole file.
    async fn index(&self, attempt: &mut Attempt) -> Result<Option<ChunkIndex>, FetchError> {
        let file = self.job.file;
        let Some(chunks) = &file.chunks else {
            return Ok(None);
        };
        let index_file = PlannedFile {
            path: format!("{} (chunk index)", file.path),
            sha256: chunks.sha256.clone(),
            size: chunks.size.min(MAX_INDEX_BYTES),
            url: None,
            chunks: None,
        };
        let sources = self.fetcher.blob_urls(&chunks.sha256);
        let url = sources.first().cloned().unwrap_or_default();
        let index_job = ObjectJob {
            tool_id: self.job.tool_id,
            file: &index_file,
            sources,
            durability: crate::fs::Durability::Each,
        };
        let quiet = Progress::new(self.job.tool_id, chunks.size);
        match self
            .fetcher
            .fetch_object(self.store, &index_job, &quiet, &NullReporter, self.cancel)
            .await
        {
            Ok(done) => attempt.fetched.downloaded += done.downloaded,
            // A mirror without indexes (an older one) still serves the file.
            Err(e) if matches!(e.class(), FetchClass::NextSource | FetchClass::Retry) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let path = self.store.object_path(&chunks.sha256);
        let bytes = std::fs::read(&path).map_err(|source| FetchError::Io { path, source })?;
        let bad = |cause: String| FetchError::BadIndex {
            url: url.clone(),
            cause: format!("{} ({cause})", index_file.path),
        };
        let index = ChunkIndex::parse(&bytes).map_err(|e| bad(e.to_string()))?;
        index
            .check_bound_to(&file.sha256, file.size)
            .map_err(|e| bad(e.to_string()))?;
        Ok(Some(index))
    }

    /// Writes the object into its `.partial` in file order, resuming after
    /// the last whole chunk an earlier run left, then checks and persists it.
    async fn assemble(
        &self,
        index: &ChunkIndex,
        plan: &DeltaPlan,
        sources: &[std::path::PathBuf],
        attempt: &mut Attempt,
    ) -> Result<(), FetchError> {
        let sha = &self.job.file.sha256;
        let resume = resume_point(index, self.store.partial_len(sha));
        attempt.fetched.resumed = resume;
        self.progress.resumed(resume);
        let mut sink = Sink::open(&self.store.partial_path(sha), resume);
        let mut at = 0u64;
        for step in &plan.steps {
            let (start, len) = match *step {
                Step::Local { len, .. } => (at, len),
                Step::Remote { start, end } => (start, end - start),
            };
            at = start + len;
            if at <= resume {
                continue;
            }
            let skip = resume.saturating_sub(start);
            let done = match *step {
                Step::Local { source, offset, .. } => {
                    let src = &sources[source];
                    self.copy_local(src, offset + skip, len - skip, &mut sink)
                        .await
                        .map(|()| attempt.fetched.from_local_chunks += len - skip)
                }
                Step::Remote { .. } => {
                    self.fetch_range(index, start + skip, at, &mut sink, attempt)
                        .await
                }
            };
            match done {
                Ok(()) => {}
                Err(Some(e)) => return Err(self.close(sink, e).await),
                Err(None) => return sink.close().await.map_err(|e| self.io(e)),
            }
        }
        let digest = sink.finish().await.map_err(|e| self.io(e))?;
        if digest.sha256 != *sha || digest.size != self.job.file.size {
            // Local chunks that changed on disk since they were indexed:
            // start over with the whole file.
            self.store.discard_partial(sha).map_err(|e| self.io(e))?;
            return Ok(());
        }
        self.store.persist(sha).map_err(|e| self.io(e))?;
        attempt.stored = true;
        Ok(())
    }

    /// Closes the sink after a fatal error, preferring the sink's own error.
    async fn close(&self, sink: Sink, err: FetchError) -> FetchError {
        match sink.close().await {
            Err(e) => self.io(e),
            Ok(()) => err,
        }
    }

    /// Copies `len` bytes of a local object into the sink, a piece at a time,
    /// through one open file (so the kernel's read-ahead keeps ahead of the
    /// reads when the object is not in the page cache).
    async fn copy_local(
        &self,
        src: &std::path::Path,
        mut offset: u64,
        mut len: u64,
        sink: &mut Sink,
    ) -> Result<(), Option<FetchError>> {
        let path = src.to_owned();
        let file = tokio::task::spawn_blocking(move || open_sequential(&path, offset, len))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r);
        // A local object that went away: fetch the whole file instead.
        let file = std::sync::Arc::new(file.map_err(|_| None)?);
        while len > 0 {
            if self.cancel.is_cancelled() {
                return Err(Some(FetchError::Cancelled));
            }
            let n = len.min(COPY_PIECE);
            let file = std::sync::Arc::clone(&file);
            let piece = tokio::task::spawn_blocking(move || read_at(&file, offset, n))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r);
            let Ok(piece) = piece else {
                return Err(None);
            };
            sink.write(piece).await.map_err(|()| None)?;
            self.progress.resumed(n);
            offset += n;
            len -= n;
        }
        Ok(())
    }

    /// Fetches the chunks of `start..end` from the mirrors in order, each
    /// source resuming after the last verified chunk. `Err(None)`: no source
    /// could (or a source ignores Range) — fetch the whole file.
    async fn fetch_range(
        &self,
        index: &ChunkIndex,
        start: u64,
        end: u64,
        sink: &mut Sink,
        attempt: &mut Attempt,
    ) -> Result<(), Option<FetchError>> {
        let chunks: Vec<_> = index
            .with_offsets()
            .filter(|(at, _)| *at >= start && *at < end)
            .map(|(_, c)| *c)
            .collect();
        let mut run = RangeRun {
            fetcher: self.fetcher,
            file_size: index.file_size,
            chunks: &chunks,
            at: start,
            done: 0,
            received: 0,
        };
        let mut result = Err(None);
        for url in self.fetcher.blob_urls(&self.job.file.sha256) {
            if self.cancel.is_cancelled() {
                result = Err(Some(FetchError::Cancelled));
                break;
            }
            let (progress, reporter) = (self.progress, self.reporter);
            let outcome = run
                .fetch_from(&url, sink, &mut |n| progress.downloaded(n, reporter))
                .await;
            match outcome {
                Ok(()) => {
                    result = Ok(());
                    break;
                }
                Err(RangeError::Ignored | RangeError::Sink) => break,
                Err(RangeError::Integrity { url, at }) => {
                    tracing::warn!(
                        "{url}: chunk at {at} does not match its index entry; next source"
                    );
                }
                Err(RangeError::Failed { url, cause }) => {
                    tracing::debug!("{url}: range failed ({cause}); next source");
                }
            }
        }
        attempt.fetched.downloaded += run.received;
        result
    }
}

/// The largest chunk boundary at most `partial` bytes in: what an earlier
/// run verified and wrote (its last chunk may be cut short).
pub fn resume_point(index: &ChunkIndex, partial: u64) -> u64 {
    index
        .with_offsets()
        .map(|(at, c)| at + u64::from(c.len))
        .take_while(|end| *end <= partial)
        .last()
        .unwrap_or(0)
}

/// Opens a local object to read `len` bytes at `offset` in order, telling
/// the kernel so (a larger read-ahead window).
fn open_sequential(
    path: &std::path::Path,
    offset: u64,
    len: u64,
) -> std::io::Result<std::fs::File> {
    let file = std::fs::File::open(path)?;
    let len = std::num::NonZeroU64::new(len);
    // Advice only: a file system without it reads the same bytes.
    let _ = rustix::fs::fadvise(&file, offset, len, rustix::fs::Advice::Sequential);
    Ok(file)
}

/// Reads `len` bytes at `offset` of a file.
fn read_at(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; usize::try_from(len).expect("a piece fits in memory")];
    file.read_exact_at(&mut buf, offset)?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::Chunk;

    #[test]
    fn a_resumed_run_keeps_the_whole_chunks_an_interrupted_one_wrote() {
        let index = ChunkIndex {
            file_sha256: [0; 32],
            file_size: 30,
            chunks: [10u32, 5, 15]
                .iter()
                .map(|&len| Chunk {
                    len,
                    sha256: [0; 32],
                })
                .collect(),
        };
        let cases = [
            (0, 0),
            (9, 0),
            (10, 10),
            (14, 10),
            (15, 15),
            (29, 15),
            (30, 30),
            (99, 30),
        ];
        for (partial, kept) in cases {
            assert_eq!(
                resume_point(&index, partial),
                kept,
                "{partial} bytes on disk"
            );
        }
    }
}
