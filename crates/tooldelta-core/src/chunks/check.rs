//! Checking an index against the file it claims to describe.

use std::io::{self, Read};

use super::MAX_CHUNK_LEN;
use super::index::{ChunkIndex, chunk_sha256};

/// Reads the file through `reader` chunk by chunk (one chunk in memory at a
/// time) and returns the position of the first chunk whose bytes do not hash
/// to the index's entry, `None` when every chunk matches. The caller has
/// checked the file's size; a file that ends early is an `UnexpectedEof`.
pub fn first_mismatch(index: &ChunkIndex, mut reader: impl Read) -> io::Result<Option<usize>> {
    let mut buf = vec![0; MAX_CHUNK_LEN as usize];
    for (i, chunk) in index.chunks.iter().enumerate() {
        let bytes = &mut buf[..chunk.len as usize];
        reader.read_exact(bytes)?;
        if chunk_sha256(bytes) != chunk.sha256 {
            return Ok(Some(i));
        }
    }
    Ok(None)
}
