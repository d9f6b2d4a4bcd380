//! A missing blob rebuilt from chunks this store already holds (issue 11,
//! item 6): when a stored manifest gives the blob a chunk index, the index
//! is fetched (it is a small blob), the chunks found in older blobs are
//! copied, only the others are fetched from upstream as single byte ranges,
//! and the assembled file is hashed as a whole against its address before it
//! is renamed into `blobs/` — the same commit point as a whole download.
//! Anything unexpected (no index, little to reuse, a range ignored, a wrong
//! final hash) falls back to the whole blob.

use std::collections::HashMap;
use std::fs::Permissions;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};
use tooldelta_core::api;
use tooldelta_core::chunks::{ChunkIndex, MAX_INDEX_BYTES};
use tooldelta_core::delta::plan::{DeltaPlan, LocalChunk, Step, plan};
use tooldelta_core::fs::persist;
use tooldelta_core::manifest::ChunksRef;
use tooldelta_core::stream::{Body, Sink, pump};

use super::progress::Counter;
use super::{STALL_TIMEOUT, Upstream};
use crate::store::{Store, fsutil};

/// Local bytes read per blocking task.
const COPY_PIECE: u64 = 4 << 20;

/// The blob to rebuild: its address, size and chunk index.
struct Target {
    hex: String,
    size: u64,
    index: ChunkIndex,
}

/// What the store holds to rebuild from.
struct Local {
    sources: Vec<PathBuf>,
    map: HashMap<[u8; 32], LocalChunk>,
}

impl Upstream {
    /// Rebuilds blob `hex` from local chunks plus upstream ranges; `true`
    /// when it is now stored, `false` when the whole blob must be fetched.
    pub(super) async fn rebuild_blob(&self, hex: &str, counter: &Counter) -> bool {
        let Some((size, chunks)) = self.find_index_ref(hex).await else {
            return false;
        };
        if !self.store.has_blob(&chunks.sha256)
            && let Err(e) = Box::pin(self.download_blob(&chunks.sha256, Some(chunks.size))).await
        {
            tracing::info!(error = %e, hex, "no chunk index from upstream; fetching the whole blob");
            return false;
        }
        let store = self.store.clone();
        let (owned, chunks_hex) = (hex.to_owned(), chunks.sha256.clone());
        let prepared = tokio::task::spawn_blocking(move || {
            let index = read_index(&store, &chunks_hex, &owned, size)?;
            let local = gather(&store, &owned);
            Some((
                Target {
                    hex: owned,
                    size,
                    index,
                },
                local,
            ))
        })
        .await
        .ok()
        .flatten();
        let Some((target, local)) = prepared else {
            return false;
        };
        let plan = plan(&target.index, &local.map);
        if plan.bytes_local == 0 || plan.whole_file_is_better() {
            return false;
        }
        counter.set_total(size);
        let temp = fsutil::temp_path(&self.store.tmp_dir(), hex);
        let built = self.assemble(&target, &local, &plan, &temp, counter).await;
        if built {
            self.metrics.local_chunk_bytes.inc_by(plan.bytes_local);
            tracing::info!(
                hex,
                bytes_local = plan.bytes_local,
                bytes_remote = plan.bytes_remote,
                requests = plan.requests(),
                "blob rebuilt from local chunks and upstream ranges, verified and stored"
            );
        } else {
            let _ = std::fs::remove_file(&temp);
        }
        built
    }

    /// The size and chunk index a stored manifest gives blob `hex`.
    async fn find_index_ref(&self, hex: &str) -> Option<(u64, ChunksRef)> {
        let store = self.store.clone();
        let owned = hex.to_owned();
        tokio::task::spawn_blocking(move || {
            store
                .chunked_files()
                .ok()?
                .into_iter()
                .find(|(sha, _, _)| *sha == owned)
                .map(|(_, size, chunks)| (size, chunks))
        })
        .await
        .ok()
        .flatten()
    }

    /// Writes the plan's steps in order into `temp`, then checks the whole
    /// file and renames it into `blobs/` (the commit point).
    async fn assemble(
        &self,
        target: &Target,
        local: &Local,
        plan: &DeltaPlan,
        temp: &Path,
        counter: &Counter,
    ) -> bool {
        let mut sink = Sink::open(temp, 0);
        for step in &plan.steps {
            let ok = match *step {
                Step::Local {
                    source,
                    offset,
                    len,
                } => copy_local(&local.sources[source], offset, len, &mut sink, counter).await,
                Step::Remote { start, end } => {
                    self.fetch_range(&target.hex, start, end, target.size, &mut sink, counter)
                        .await
                }
            };
            if !ok {
                let _ = sink.close().await;
                return false;
            }
        }
        let Ok(digest) = sink.finish().await else {
            return false;
        };
        if digest.sha256 != target.hex || digest.size != target.size {
            tracing::warn!(
                hex = target.hex,
                actual = digest.sha256,
                "a rebuilt blob does not hash to its address; fetching it whole"
            );
            return false;
        }
        std::fs::set_permissions(temp, Permissions::from_mode(0o444)).is_ok()
            // Commit point: verified content becomes visible under its address.
            && persist(temp, &self.store.blob_path(&target.hex)).is_ok()
    }

    /// One single-range request upstream; only an exact 206 is used.
    async fn fetch_range(
        &self,
        hex: &str,
        start: u64,
        end: u64,
        size: u64,
        sink: &mut Sink,
        counter: &Counter,
    ) -> bool {
        let url = self.url(&api::blob(hex));
        self.metrics.upstream_fetches.inc();
        let sent = self
            .client
            .get(&url)
            .header(RANGE, format!("bytes={start}-{}", end - 1))
            .send()
            .await;
        let Ok(resp) = sent else { return false };
        let want = format!("bytes {start}-{}/{size}", end - 1);
        let exact = resp.status() == StatusCode::PARTIAL_CONTENT
            && resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                == Some(&want);
        if !exact {
            tracing::info!(%url, status = resp.status().as_u16(), "upstream did not answer the range; fetching the whole blob");
            return false;
        }
        let mut body = Body::new(resp)
            .limit(end - start)
            .stall_timeout(STALL_TIMEOUT);
        let metrics = &self.metrics;
        let pumped = pump(&mut body, sink, |n| {
            metrics.upstream_bytes.inc_by(n);
            counter.add_received(n);
        })
        .await;
        pumped.is_ok() && body.received() == end - start
    }
}

/// Copies `len` bytes of `source` at `offset` into the sink, piece by piece.
async fn copy_local(
    source: &Path,
    offset: u64,
    len: u64,
    sink: &mut Sink,
    counter: &Counter,
) -> bool {
    let mut done = 0;
    while done < len {
        let n = COPY_PIECE.min(len - done);
        let (path, at) = (source.to_owned(), offset + done);
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut file = std::fs::File::open(path)?;
            file.seek(SeekFrom::Start(at))?;
            let mut buf = vec![0; usize::try_from(n).expect("a piece fits memory")];
            file.read_exact(&mut buf)?;
            Ok(buf)
        })
        .await;
        let Ok(Ok(bytes)) = read else { return false };
        if sink.write(Bytes::from(bytes)).await.is_err() {
            return false;
        }
        counter.add_received(n);
        done += n;
    }
    true
}

/// The stored index object of blob `hex`, checked to describe it.
fn read_index(store: &Store, index_hex: &str, hex: &str, size: u64) -> Option<ChunkIndex> {
    let (file, len) = store.open_blob(index_hex).ok()??;
    if len > MAX_INDEX_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes).ok()?;
    let index = ChunkIndex::parse(&bytes).ok()?;
    index.check_bound_to(hex, size).ok()?;
    Some(index)
}

/// Where each chunk of every stored blob with a stored index can be read. A
/// blob or index that does not read contributes nothing: the final hash of
/// the rebuilt blob is the check.
fn gather(store: &Store, except: &str) -> Local {
    let mut local = Local {
        sources: Vec::new(),
        map: HashMap::new(),
    };
    for (sha, size, chunks) in store.chunked_files().unwrap_or_default() {
        if sha == except || !store.has_blob(&sha) || !store.has_blob(&chunks.sha256) {
            continue;
        }
        let Some(index) = read_index(store, &chunks.sha256, &sha, size) else {
            continue;
        };
        let source = local.sources.len();
        local.sources.push(store.blob_path(&sha));
        for (offset, chunk) in index.with_offsets() {
            local
                .map
                .entry(chunk.sha256)
                .or_insert(LocalChunk { source, offset });
        }
    }
    local
}
