//! Chunk-level deltas inside large files.
//!
//! The publisher cuts every large file into content-defined chunks (forced
//! cuts at GGUF tensor boundaries) and writes their lengths and SHA-256s as
//! a small binary [`ChunkIndex`] object, content-addressed like any file and
//! named in the manifest entry's `chunks` field. A client that already holds
//! most of those chunks (in an older version, in another tool) fetches only
//! the rest, as byte ranges of the new file's blob.

mod cdc;
mod check;
pub mod gguf;
mod index;
mod pipeline;

pub use cdc::{chunk_file, chunk_reader};
pub use check::first_mismatch;
pub use index::{
    Chunk, ChunkIndex, ENTRY_LEN, HEADER_LEN, IndexError, MAGIC, MAX_INDEX_BYTES, chunk_sha256,
};
pub use pipeline::index_file;

/// Smallest content-defined chunk (the last chunk before a forced cut or the
/// end of the file may be shorter).
pub const MIN_CHUNK_LEN: u32 = 64 * 1024;

/// Average content-defined chunk: at 36 bytes per entry, a 4 GiB file's index
/// is about 576 KiB.
pub const AVG_CHUNK_LEN: u32 = 256 * 1024;

/// Largest chunk: also what a client holds in memory to check one chunk.
pub const MAX_CHUNK_LEN: u32 = 1024 * 1024;

/// Files at least this large get a chunk index by default.
pub const DEFAULT_CHUNK_THRESHOLD: u64 = 16 * 1024 * 1024;
