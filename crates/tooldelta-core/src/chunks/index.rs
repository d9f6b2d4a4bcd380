//! The binary chunk index object: what a file is made of, chunk by chunk.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "TDCHNK01" (the last two bytes are the format version)
//!      8    32  SHA-256 of the whole file (raw bytes)
//!     40     8  size of the whole file (u64, little endian)
//!     48     4  number of chunks N (u32, little endian)
//!     52  36·N  per chunk: length (u32 LE), SHA-256 (32 raw bytes), in file order
//! ```
//!
//! Parsing is strict: the object is refused unless its size is exactly
//! `52 + 36·N`, every length is in `1..=MAX_CHUNK_LEN`, and the lengths sum to
//! the stated file size. The header binds the index to one file: a client
//! compares it with the manifest entry before using a single chunk of it.

use sha2::{Digest, Sha256};

use super::MAX_CHUNK_LEN;

/// The magic bytes, version included; a new layout gets a new magic.
pub const MAGIC: &[u8; 8] = b"TDCHNK01";

/// Bytes before the first chunk entry.
pub const HEADER_LEN: usize = 52;

/// Bytes of one chunk entry.
pub const ENTRY_LEN: usize = 36;

/// The largest index accepted (about 1.9 million chunks: a 450 GiB file at
/// the average chunk size). Anything larger is hostile or broken.
pub const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;

/// One chunk: its length and SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chunk {
    /// Bytes, `1..=MAX_CHUNK_LEN`.
    pub len: u32,
    /// Raw SHA-256 of the chunk's bytes.
    pub sha256: [u8; 32],
}

/// A parsed (or freshly built) chunk index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkIndex {
    /// Raw SHA-256 of the whole file.
    pub file_sha256: [u8; 32],
    /// Size of the whole file.
    pub file_size: u64,
    /// The chunks, in file order.
    pub chunks: Vec<Chunk>,
}

/// Why bytes are not a valid chunk index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Larger than [`MAX_INDEX_BYTES`].
    #[error("chunk index is {size} bytes, over the {MAX_INDEX_BYTES}-byte limit")]
    TooLarge {
        /// Bytes seen.
        size: u64,
    },
    /// Shorter than the header, or a wrong magic (another format or version).
    #[error("not a chunk index (bad magic or shorter than its header)")]
    BadMagic,
    /// The size does not match the chunk count in the header.
    #[error("chunk index states {count} chunks but is {size} bytes")]
    BadCount {
        /// Chunks stated.
        count: u32,
        /// Bytes of the object.
        size: u64,
    },
    /// A chunk of length 0 or above [`MAX_CHUNK_LEN`].
    #[error("chunk {index} has length {len}, outside 1..={MAX_CHUNK_LEN}")]
    BadLength {
        /// Position of the chunk.
        index: usize,
        /// Its stated length.
        len: u32,
    },
    /// The lengths do not add up to the stated file size.
    #[error("chunk lengths sum to {sum}, but the index is for a file of {file_size} bytes")]
    BadSum {
        /// Sum of the lengths.
        sum: u64,
        /// Stated file size.
        file_size: u64,
    },
    /// The header names another file than the manifest entry.
    #[error(
        "chunk index is bound to another file ({stated_sha256}, {stated_size} bytes) than the manifest's ({expected_sha256}, {expected_size} bytes)"
    )]
    WrongFile {
        /// The file hash in the index header.
        stated_sha256: String,
        /// The file size in the index header.
        stated_size: u64,
        /// The manifest's file hash.
        expected_sha256: String,
        /// The manifest's file size.
        expected_size: u64,
    },
}

impl ChunkIndex {
    /// Parses an index object, with every consistency check of the format.
    pub fn parse(bytes: &[u8]) -> Result<Self, IndexError> {
        let size = bytes.len() as u64;
        if size > MAX_INDEX_BYTES {
            return Err(IndexError::TooLarge { size });
        }
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(IndexError::BadMagic);
        }
        let file_sha256: [u8; 32] = bytes[8..40].try_into().expect("32 bytes");
        let file_size = u64::from_le_bytes(bytes[40..48].try_into().expect("8 bytes"));
        let count = u32::from_le_bytes(bytes[48..52].try_into().expect("4 bytes"));
        let body = &bytes[HEADER_LEN..];
        if body.len() != count as usize * ENTRY_LEN || count == 0 {
            return Err(IndexError::BadCount { count, size });
        }
        let mut chunks = Vec::with_capacity(count as usize);
        let mut sum = 0u64;
        for (index, entry) in body.chunks_exact(ENTRY_LEN).enumerate() {
            let len = u32::from_le_bytes(entry[..4].try_into().expect("4 bytes"));
            if len == 0 || len > MAX_CHUNK_LEN {
                return Err(IndexError::BadLength { index, len });
            }
            sum += u64::from(len);
            let sha256 = entry[4..].try_into().expect("32 bytes");
            chunks.push(Chunk { len, sha256 });
        }
        if sum != file_size {
            return Err(IndexError::BadSum { sum, file_size });
        }
        Ok(Self {
            file_sha256,
            file_size,
            chunks,
        })
    }

    /// Checks that the header names this file (hex SHA-256 and size, as in
    /// the manifest).
    pub fn check_bound_to(&self, sha256_hex: &str, size: u64) -> Result<(), IndexError> {
        let stated = hex::encode(self.file_sha256);
        if stated == sha256_hex && self.file_size == size {
            return Ok(());
        }
        Err(IndexError::WrongFile {
            stated_sha256: stated,
            stated_size: self.file_size,
            expected_sha256: sha256_hex.to_owned(),
            expected_size: size,
        })
    }

    /// The object's bytes (deterministic: the same chunks give the same bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + ENTRY_LEN * self.chunks.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.file_sha256);
        out.extend_from_slice(&self.file_size.to_le_bytes());
        let count = u32::try_from(self.chunks.len()).expect("chunk count fits the format");
        out.extend_from_slice(&count.to_le_bytes());
        for chunk in &self.chunks {
            out.extend_from_slice(&chunk.len.to_le_bytes());
            out.extend_from_slice(&chunk.sha256);
        }
        out
    }

    /// Each chunk with its offset in the file.
    pub fn with_offsets(&self) -> impl Iterator<Item = (u64, &Chunk)> {
        self.chunks.iter().scan(0u64, |offset, chunk| {
            let at = *offset;
            *offset += u64::from(chunk.len);
            Some((at, chunk))
        })
    }
}

/// The SHA-256 of a chunk's bytes, raw.
pub fn chunk_sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChunkIndex {
        ChunkIndex {
            file_sha256: [7; 32],
            file_size: 10,
            chunks: vec![
                Chunk {
                    len: 4,
                    sha256: [1; 32],
                },
                Chunk {
                    len: 6,
                    sha256: [2; 32],
                },
            ],
        }
    }

    #[test]
    fn round_trips_with_offsets() {
        let bytes = sample().encode();
        assert_eq!(bytes.len(), HEADER_LEN + 2 * ENTRY_LEN);
        let parsed = ChunkIndex::parse(&bytes).unwrap();
        assert_eq!(parsed, sample());
        let offsets: Vec<u64> = parsed.with_offsets().map(|(o, _)| o).collect();
        assert_eq!(offsets, [0, 4]);
        parsed.check_bound_to(&hex::encode([7; 32]), 10).unwrap();
        assert!(matches!(
            parsed.check_bound_to(&hex::encode([7; 32]), 11),
            Err(IndexError::WrongFile { .. })
        ));
    }

    #[test]
    fn refuses_every_inconsistency() {
        let good = sample().encode();
        let mut magic = good.clone();
        magic[7] = b'2';
        assert_eq!(ChunkIndex::parse(&magic), Err(IndexError::BadMagic));
        assert_eq!(ChunkIndex::parse(&good[..20]), Err(IndexError::BadMagic));
        assert!(matches!(
            ChunkIndex::parse(&good[..good.len() - 1]),
            Err(IndexError::BadCount { .. })
        ));
        let mut sum = sample();
        sum.file_size = 11;
        assert_eq!(
            ChunkIndex::parse(&sum.encode()),
            Err(IndexError::BadSum {
                sum: 10,
                file_size: 11
            })
        );
        let mut zero = sample();
        zero.chunks[1].len = 0;
        assert!(matches!(
            ChunkIndex::parse(&zero.encode()),
            Err(IndexError::BadLength { index: 1, len: 0 })
        ));
        let mut huge = sample();
        huge.chunks[0].len = MAX_CHUNK_LEN + 1;
        assert!(matches!(
            ChunkIndex::parse(&huge.encode()),
            Err(IndexError::BadLength { index: 0, .. })
        ));
        let mut none = sample();
        none.chunks.clear();
        none.file_size = 0;
        assert!(matches!(
            ChunkIndex::parse(&none.encode()),
            Err(IndexError::BadCount { count: 0, .. })
        ));
        let oversized = vec![0u8; MAX_INDEX_BYTES as usize + 1];
        assert!(matches!(
            ChunkIndex::parse(&oversized),
            Err(IndexError::TooLarge { .. })
        ));
    }
}
