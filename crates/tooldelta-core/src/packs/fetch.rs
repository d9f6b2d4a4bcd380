//! The client side of packs: the missing small objects of an update, cut
//! from the pack blobs with one ranged request per run of adjacent missing
//! files, each file hashed against the manifest before it enters the store.
//!
//! Sources, per range: the blob route of each mirror in turn. A range that
//! breaks off, a 404, a server ignoring Range: the next mirror goes on from
//! the first file not yet written; with no mirror left the files are left to
//! the per-file fetch. A file whose bytes do not hash right is a bad source:
//! the next mirror is asked; when every mirror that answered sent bytes that
//! fail for that file, the pack's signed index lies about it and the update
//! is refused (nothing activated).

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use reqwest::StatusCode;
use reqwest::Url;
use reqwest::header::{CONTENT_RANGE, RANGE};
use tokio_util::sync::CancellationToken;

use super::{PackIndex, PackRange, plan_ranges};
use crate::error::FetchError;
use crate::fetch::Fetcher;
use crate::hash::hash_bytes;
use crate::manifest::PackRef;
use crate::store::Store;

/// Bytes of verified files handed to the disk at once.
const WRITE_BATCH: usize = 1 << 20;

/// What the pack phase brought in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackTotals {
    /// Objects written into the store.
    pub files: u64,
    /// Their bytes (what the ranges carried).
    pub bytes: u64,
    /// HTTP requests sent (indexes and ranges).
    pub requests: u64,
}

/// One pack phase.
pub struct PackFetch<'a> {
    /// The HTTP side.
    pub fetcher: &'a Fetcher,
    /// The store the objects go to.
    pub store: &'a Store,
    /// A folder on the store's file system, private to this run, for the
    /// objects being written (renamed into the store once complete).
    pub incoming: &'a Path,
    /// Cancellation.
    pub cancel: &'a CancellationToken,
}

/// The objects wanted: `(raw SHA-256, size)`, sorted, for binary search.
pub type Wanted = [([u8; 32], u64)];

impl PackFetch<'_> {
    /// Brings in every `wanted` object one of `packs` holds. `Ok` also when
    /// some could not be fetched: the per-file fetch takes over for those.
    pub async fn run(&self, packs: &[PackRef], wanted: &Wanted) -> Result<PackTotals, FetchError> {
        let mut totals = PackTotals::default();
        fs_err::create_dir_all(self.incoming).map_err(|e| self.io(e))?;
        for pack in packs {
            if self.cancel.is_cancelled() {
                return Err(FetchError::Cancelled);
            }
            let Some(index) = self.index(pack, &mut totals).await else {
                continue;
            };
            check_sizes(&index, wanted, pack)?;
            let missing = |e: &super::PackEntry| {
                wanted
                    .binary_search_by(|(sha, _)| sha.cmp(&e.sha256))
                    .is_ok()
            };
            for range in plan_ranges(&index, missing) {
                self.range(&index, range, &mut totals).await?;
            }
        }
        Ok(totals)
    }

    fn io(&self, source: std::io::Error) -> FetchError {
        FetchError::Io {
            path: self.incoming.to_owned(),
            source,
        }
    }

    /// The first index a mirror serves that hashes to the manifest's
    /// reference; `None` when no mirror has it (an older mirror).
    async fn index(&self, pack: &PackRef, totals: &mut PackTotals) -> Option<PackIndex> {
        for url in self.fetcher.blob_urls(&pack.sha256) {
            let url = Url::parse(&url).ok()?;
            totals.requests += 1;
            let bytes = match self.fetcher.get_capped(&url, pack.size).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::debug!("pack index {}: {e}", pack.sha256);
                    continue;
                }
            };
            if hash_bytes(&bytes).sha256 != pack.sha256 {
                continue;
            }
            // Signed bytes that do not parse: the publisher's tool is broken;
            // the per-file fetch still works.
            return PackIndex::parse(&bytes).ok();
        }
        None
    }

    /// One range over the mirrors in turn, each going on where the last one
    /// stopped.
    async fn range(
        &self,
        index: &PackIndex,
        range: PackRange,
        totals: &mut PackTotals,
    ) -> Result<(), FetchError> {
        let urls = self.fetcher.blob_urls(&index.pack_hex());
        let mut done = 0;
        let mut bad: Option<(FetchError, usize)> = None;
        for url in &urls {
            totals.requests += 1;
            let outcome = self.range_from(url, index, range, &mut done, totals).await;
            match outcome {
                Ok(()) => return Ok(()),
                Err(Cut::Cancelled) => return Err(FetchError::Cancelled),
                Err(Cut::Io(e)) => return Err(self.io(e)),
                Err(Cut::Unanswered) => {}
                Err(Cut::BadFile(err)) => {
                    let count = bad.as_ref().map_or(0, |(_, n)| *n);
                    bad = Some((err, count + 1));
                }
            }
        }
        match bad {
            // Every mirror sent wrong bytes for a file: the signed index
            // does not describe its pack.
            Some((err, n)) if n == urls.len() => Err(err),
            _ => Ok(()),
        }
    }

    async fn range_from(
        &self,
        url: &str,
        index: &PackIndex,
        range: PackRange,
        done: &mut usize,
        totals: &mut PackTotals,
    ) -> Result<(), Cut> {
        let entries = &index.entries[range.first..range.first + range.count];
        let skip: u64 = entries[..*done].iter().map(|e| u64::from(e.len)).sum();
        let (start, end) = (range.start + skip, range.start + range.len - 1);
        let mut resp = self.request(url, start, end, index.pack_size).await?;
        let mut buf = BytesMut::new();
        let mut batch: Vec<(String, bytes::Bytes)> = Vec::new();
        let mut batch_bytes = 0;
        while *done + batch.len() < entries.len() {
            let entry = entries[*done + batch.len()];
            let need = entry.len as usize;
            if buf.len() < need {
                let next = tokio::select! {
                    () = self.cancel.cancelled() => return Err(Cut::Cancelled),
                    r = tokio::time::timeout(self.fetcher.stall_timeout(), resp.chunk()) => r,
                };
                match next {
                    Ok(Ok(Some(bytes))) => buf.extend_from_slice(&bytes),
                    _ => break,
                }
                continue;
            }
            let piece = buf.split_to(need).freeze();
            let expected = hex::encode(entry.sha256);
            let digest = hash_bytes(&piece);
            if digest.sha256 != expected {
                self.write(&mut batch, done, totals).await?;
                return Err(Cut::BadFile(FetchError::Integrity {
                    url: format!("{url} (bytes {start}-{end} of the pack)"),
                    expected_sha256: expected,
                    actual_sha256: digest.sha256,
                    expected_size: u64::from(entry.len),
                    actual_size: digest.size,
                }));
            }
            batch_bytes += need;
            batch.push((expected, piece));
            if batch_bytes >= WRITE_BATCH {
                self.write(&mut batch, done, totals).await?;
                batch_bytes = 0;
            }
        }
        self.write(&mut batch, done, totals).await?;
        if *done < entries.len() {
            return Err(Cut::Unanswered);
        }
        Ok(())
    }

    /// Writes verified files into the store (off the async runtime).
    async fn write(
        &self,
        batch: &mut Vec<(String, bytes::Bytes)>,
        done: &mut usize,
        totals: &mut PackTotals,
    ) -> Result<(), Cut> {
        if batch.is_empty() {
            return Ok(());
        }
        let files = std::mem::take(batch);
        let count = files.len();
        let bytes: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
        let (store, incoming): (Store, PathBuf) = (self.store.clone(), self.incoming.to_owned());
        tokio::task::spawn_blocking(move || {
            files
                .iter()
                .try_for_each(|(sha, data)| store.put_verified(sha, data, &incoming))
        })
        .await
        .map_err(|e| Cut::Io(std::io::Error::other(e)))?
        .map_err(Cut::Io)?;
        *done += count;
        totals.files += count as u64;
        totals.bytes += bytes;
        Ok(())
    }

    /// The ranged GET; only a 206 with exactly this `Content-Range` is read.
    async fn request(
        &self,
        url: &str,
        start: u64,
        end: u64,
        total: u64,
    ) -> Result<reqwest::Response, Cut> {
        let client = self.fetcher.client_for(url).map_err(|_| Cut::Unanswered)?;
        let send = client
            .get(url)
            .header(RANGE, format!("bytes={start}-{end}"))
            .send();
        let resp = tokio::select! {
            () = self.cancel.cancelled() => return Err(Cut::Cancelled),
            r = tokio::time::timeout(self.fetcher.stall_timeout(), send) => r,
        };
        let Ok(Ok(resp)) = resp else {
            return Err(Cut::Unanswered);
        };
        let want = format!("bytes {start}-{end}/{total}");
        let exact = resp
            .headers()
            .get(CONTENT_RANGE)
            .is_some_and(|v| v.as_bytes() == want.as_bytes());
        if resp.status() != StatusCode::PARTIAL_CONTENT || !exact {
            return Err(Cut::Unanswered);
        }
        Ok(resp)
    }
}

/// A signed index listing a wanted content with another size lies.
fn check_sizes(index: &PackIndex, wanted: &Wanted, pack: &PackRef) -> Result<(), FetchError> {
    for e in &index.entries {
        if let Ok(i) = wanted.binary_search_by(|(sha, _)| sha.cmp(&e.sha256))
            && wanted[i].1 != u64::from(e.len)
        {
            return Err(FetchError::BadIndex {
                url: format!("pack index {}", pack.sha256),
                cause: format!(
                    "it lists {} with {} bytes, the manifest with {}",
                    hex::encode(e.sha256),
                    e.len,
                    wanted[i].1
                ),
            });
        }
    }
    Ok(())
}

/// Why a range from one mirror stopped.
enum Cut {
    /// No (usable) answer: network, status, Range ignored, body cut.
    Unanswered,
    /// A file's bytes were wrong.
    BadFile(FetchError),
    /// Writing the store failed.
    Io(std::io::Error),
    /// The run was cancelled.
    Cancelled,
}
