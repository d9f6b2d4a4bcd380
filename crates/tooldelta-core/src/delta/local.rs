//! The chunks this root already holds: every stored object whose chunk
//! index is stored too, as listed by the kept manifests of every tool.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::plan::LocalChunk;
use crate::chunks::{ChunkIndex, MAX_INDEX_BYTES, chunk_sha256};
use crate::layout::Layout;
use crate::manifest::ChunksRef;
use crate::store::Store;

/// Local objects and where each chunk hash can be read.
#[derive(Debug, Default)]
pub struct LocalChunks {
    /// The objects, by position (`LocalChunk::source`).
    pub sources: Vec<PathBuf>,
    /// Chunk SHA-256 → where it is.
    pub map: HashMap<[u8; 32], LocalChunk>,
}

/// The parts of a stored manifest this needs (it was verified when stored).
#[derive(Deserialize)]
struct Stored {
    files: Vec<StoredFile>,
}

#[derive(Deserialize)]
struct StoredFile {
    sha256: String,
    size: u64,
    #[serde(default)]
    chunks: Option<ChunksRef>,
}

/// Collects the chunks of every stored object that has a stored index. A
/// manifest or index that does not read or parse contributes nothing: this is
/// an optimisation, and the final hash of the new object is the check.
pub fn gather(layout: &Layout, store: &Store) -> LocalChunks {
    let mut out = LocalChunks::default();
    let mut seen = HashSet::new();
    for manifest in stored_manifests(layout) {
        let Ok(bytes) = std::fs::read(&manifest) else {
            continue;
        };
        let Ok(stored) = serde_json::from_slice::<Stored>(&bytes) else {
            continue;
        };
        for file in stored.files {
            let Some(chunks) = file.chunks else { continue };
            if !seen.insert(file.sha256.clone())
                || !store.contains(&file.sha256, file.size)
                || chunks.size > MAX_INDEX_BYTES
                || !store.contains(&chunks.sha256, chunks.size)
            {
                continue;
            }
            let Ok(index_bytes) = std::fs::read(store.object_path(&chunks.sha256)) else {
                continue;
            };
            let Ok(index) = ChunkIndex::parse(&index_bytes) else {
                continue;
            };
            if index.check_bound_to(&file.sha256, file.size).is_err() {
                continue;
            }
            let source = out.sources.len();
            out.sources.push(store.object_path(&file.sha256));
            for (offset, chunk) in index.with_offsets() {
                out.map
                    .entry(chunk.sha256)
                    .or_insert(LocalChunk { source, offset });
            }
        }
    }
    out
}

/// Adds the chunks of `path`, a damaged copy of the file `index` describes
/// (a flipped byte, an append), that still read right at their own offsets:
/// each is read and checked against its index entry before it counts, so a
/// repair fetches only the damaged ones. Chunks held elsewhere keep their
/// source. Returns the bytes found intact.
pub fn add_in_place(out: &mut LocalChunks, index: &ChunkIndex, path: &Path) -> u64 {
    use std::os::unix::fs::FileExt;
    let Some(file) = open_regular(path) else {
        return 0;
    };
    let source = out.sources.len();
    let mut buf = Vec::new();
    let mut intact = 0;
    for (offset, chunk) in index.with_offsets() {
        buf.resize(chunk.len as usize, 0);
        // A truncated copy ends here; what follows is fetched.
        if file.read_exact_at(&mut buf, offset).is_err() {
            break;
        }
        if chunk_sha256(&buf) == chunk.sha256 {
            intact += u64::from(chunk.len);
            out.map
                .entry(chunk.sha256)
                .or_insert(LocalChunk { source, offset });
        }
    }
    if intact > 0 {
        out.sources.push(path.to_owned());
    }
    intact
}

/// Opens `path` for reading only if it is a regular file, never through a
/// symlink and never blocking (a FIFO planted in a release cannot stall a
/// repair).
fn open_regular(path: &Path) -> Option<std::fs::File> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags.bits()).ok()?)
        .open(path)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// `tools/*/manifests/*.json`, sorted (so the first holder of a chunk is stable).
fn stored_manifests(layout: &Layout) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(tools) = std::fs::read_dir(layout.tools_dir()) else {
        return out;
    };
    for tool in tools.flatten() {
        let Ok(entries) = std::fs::read_dir(tool.path().join("manifests")) else {
            continue;
        };
        out.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json")),
        );
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::chunk_reader;

    #[test]
    fn a_damaged_copy_lends_exactly_its_chunks_that_still_hash_right() {
        let mut x = 3u64;
        let data: Vec<u8> = (0..3 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let chunks = chunk_reader(&data[..], data.len() as u64, &[]).unwrap();
        assert!(chunks.len() > 3, "{} chunks", chunks.len());
        let index = ChunkIndex {
            file_sha256: [0; 32],
            file_size: data.len() as u64,
            chunks,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged");
        let (second_at, second) = index.with_offsets().nth(1).unwrap();
        let mut damaged = data.clone();
        damaged[usize::try_from(second_at).unwrap() + 10] ^= 1;
        damaged.extend_from_slice(b"appended");
        std::fs::write(&path, &damaged).unwrap();

        let mut local = LocalChunks::default();
        let intact = add_in_place(&mut local, &index, &path);
        assert_eq!(intact, data.len() as u64 - u64::from(second.len));
        assert_eq!(local.sources, vec![path.clone()]);
        assert!(!local.map.contains_key(&second.sha256), "the damaged chunk");
        for (at, c) in index.with_offsets().filter(|(at, _)| *at != second_at) {
            assert_eq!(
                local.map[&c.sha256],
                LocalChunk {
                    source: 0,
                    offset: at
                }
            );
        }

        // Neither a symlink nor a FIFO at the path is read (nor waited on).
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(add_in_place(&mut LocalChunks::default(), &index, &link), 0);
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        assert_eq!(add_in_place(&mut LocalChunks::default(), &index, &fifo), 0);

        // A truncated copy lends what is before the cut.
        std::fs::write(&path, &data[..usize::try_from(second_at).unwrap()]).unwrap();
        let mut local = LocalChunks::default();
        let first = index.chunks[0].len;
        assert_eq!(add_in_place(&mut local, &index, &path), u64::from(first));
    }
}
