//! The exact pending delta before an update: what `check` (and so `status`
//! and the app's card) reports for files that have a chunk index.

use super::{local, plan};
use crate::chunks::ChunkIndex;
use crate::diff::PlannedFile;
use crate::fetch::Fetcher;
use crate::hash::hash_bytes;
use crate::layout::Layout;
use crate::store::Store;

/// Bytes an update would download and rebuild from local chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Bytes to download (indexes and ranges, or whole files).
    pub download: u64,
    /// Bytes rebuilt from chunks already on disk.
    pub from_local_chunks: u64,
}

/// Estimates the bytes of fetching `files`: a file with a chunk index costs
/// its index plus the missing ranges when a delta pays, its size otherwise.
/// The index is read from the store, or fetched (it is small) and checked
/// against the manifest; an index that cannot be had counts as a whole file.
pub async fn estimate(
    fetcher: &Fetcher,
    layout: &Layout,
    store: &Store,
    files: &[&PlannedFile],
) -> Estimate {
    let mut total = Estimate::default();
    let needs_local = files.iter().any(|f| f.chunks.is_some());
    let held = if needs_local {
        let (layout, store) = (layout.clone(), store.clone());
        tokio::task::spawn_blocking(move || local::gather(&layout, &store))
            .await
            .unwrap_or_default()
    } else {
        local::LocalChunks::default()
    };
    for file in files {
        let delta = match &file.chunks {
            Some(chunks) => index_of(fetcher, store, file, &chunks.sha256, chunks.size)
                .await
                .map(|index| (chunks.size, plan::plan(&index, &held.map)))
                .filter(|(_, p)| !p.whole_file_is_better()),
            None => None,
        };
        match delta {
            Some((index_size, p)) => {
                let stored = store.contains(
                    &file.chunks.as_ref().expect("has chunks").sha256,
                    index_size,
                );
                total.download += p.bytes_remote + if stored { 0 } else { index_size };
                total.from_local_chunks += p.bytes_local;
            }
            None => total.download += file.size,
        }
    }
    total
}

/// The file's index, from the store or from the first mirror that has it.
async fn index_of(
    fetcher: &Fetcher,
    store: &Store,
    file: &PlannedFile,
    hex: &str,
    size: u64,
) -> Option<ChunkIndex> {
    let bytes = if store.contains(hex, size) {
        std::fs::read(store.object_path(hex)).ok()?
    } else {
        fetcher.blob_capped(hex, size).await?
    };
    let digest = hash_bytes(&bytes);
    if digest.sha256 != hex || digest.size != size {
        return None;
    }
    let index = ChunkIndex::parse(&bytes).ok()?;
    index.check_bound_to(&file.sha256, file.size).ok()?;
    Some(index)
}
