//! Hashing and indexing a large file at publish, reading it once, on two
//! cores: this thread reads the file and finds the cuts; a second thread
//! hashes the whole file from the same chunk buffers (shared, not copied).
//!
//! Each chunk's own SHA-256 is as much work as the whole-file hash, so it
//! goes to whichever thread is less busy: the chunk is handed to the second
//! thread to hash too while that thread keeps up (few chunks queued), and
//! hashed here otherwise. Who hashed a chunk never changes the result, so
//! the index stays deterministic. Memory: the scan buffer plus at most
//! `QUEUE` chunks in flight.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::cdc::{cut_stream, open_with_cuts};
use super::index::{Chunk, ChunkIndex, chunk_sha256};
use crate::hash::{ContentDigest, HASH_BUF_SIZE};

/// Chunks in flight to the whole-file hasher (each at most 1 MiB).
const QUEUE: usize = 16;

/// The second thread also hashes a chunk when fewer than this many are
/// waiting for it: it is keeping up, and this thread has the cutting to do.
const SHARE_BELOW: usize = 2;

/// One chunk for the whole-file hasher.
struct Piece {
    bytes: Bytes,
    /// `Some(i)`: hash it as chunk `i` of the index too.
    chunk: Option<usize>,
}

/// Hashes a file and builds its chunk index (see the module comment).
pub fn index_file(path: &Path) -> io::Result<(ContentDigest, ChunkIndex)> {
    let (mut file, size, cuts) = open_with_cuts(path)?;
    let queued = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Piece>(QUEUE);
    let (cut, (whole, shared)) = std::thread::scope(|s| {
        let hasher = s.spawn(|| hash_pieces(rx, &queued));
        let mut chunks = Vec::new();
        let cut = cut_stream(&mut file, size, &cuts, |bytes| {
            let i = chunks.len();
            let share = queued.fetch_add(1, Ordering::AcqRel) < SHARE_BELOW;
            let len = bytes.len() as u32;
            let own = (!share).then(|| bytes.clone());
            // The hasher only stops early by panicking, which join reports.
            let _ = tx.send(Piece {
                bytes,
                chunk: share.then_some(i),
            });
            let sha256 = own.map_or([0; 32], |b| chunk_sha256(&b));
            chunks.push(Chunk { len, sha256 });
        });
        drop(tx);
        let digests = hasher.join().expect("the hasher does not panic");
        (cut.map(|()| chunks), digests)
    });
    let mut chunks = cut?;
    for (i, sha256) in shared {
        chunks[i].sha256 = sha256;
    }
    let file_sha256: [u8; 32] = whole.into();
    let digest = ContentDigest {
        sha256: hex::encode(file_sha256),
        size,
    };
    let index = ChunkIndex {
        file_sha256,
        file_size: size,
        chunks,
    };
    Ok((digest, index))
}

/// The whole-file hash of the pieces in order, and the chunk hashes asked
/// for. Both hashes go over each small slice while it is in this core's
/// cache.
fn hash_pieces(
    rx: mpsc::Receiver<Piece>,
    queued: &AtomicUsize,
) -> (sha2::digest::Output<Sha256>, Vec<(usize, [u8; 32])>) {
    let mut whole = Sha256::new();
    let mut shared = Vec::new();
    for piece in rx {
        let mut chunk = piece.chunk.map(|i| (i, Sha256::new()));
        for slice in piece.bytes.chunks(HASH_BUF_SIZE) {
            whole.update(slice);
            if let Some((_, h)) = &mut chunk {
                h.update(slice);
            }
        }
        if let Some((i, h)) = chunk {
            shared.push((i, h.finalize().into()));
        }
        queued.fetch_sub(1, Ordering::AcqRel);
    }
    (whole.finalize(), shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_file;

    #[test]
    fn the_index_and_digest_match_the_one_thread_chunker_and_hasher() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut x = 7u64;
        let data: Vec<u8> = (0..(5 << 20) + 12_345)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(&path, &data).unwrap();
        let (digest, index) = index_file(&path).unwrap();
        assert_eq!(digest, hash_file(&path).unwrap());
        let (chunks, size) = super::super::chunk_file(&path).unwrap();
        assert_eq!(index.chunks, chunks);
        assert_eq!(index.file_size, size);
        index.check_bound_to(&digest.sha256, size).unwrap();
    }
}
