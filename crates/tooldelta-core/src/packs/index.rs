//! The binary pack index object: where each small file sits in its pack.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "TDPACK01" (the last two bytes are the format version)
//!      8    32  SHA-256 of the pack blob (raw bytes)
//!     40     8  size of the pack blob (u64, little endian)
//!     48     4  number of files N (u32, little endian)
//!     52  36·N  per file: length (u32 LE), SHA-256 (32 raw bytes), in pack order
//! ```
//!
//! The pack blob is the files' bytes back to back in index order, so each
//! offset is the sum of the lengths before it. Parsing is strict: the size
//! must be exactly `52 + 36·N`, every length in `1..PACK_BELOW`, and the
//! lengths must sum to the pack size.

use super::PACK_BELOW;

/// The magic bytes, version included.
pub const MAGIC: &[u8; 8] = b"TDPACK01";

/// Bytes before the first entry.
pub const HEADER_LEN: usize = 52;

/// Bytes of one entry.
pub const ENTRY_LEN: usize = 36;

/// The largest pack index accepted (about 460,000 files).
pub const MAX_PACK_INDEX_BYTES: u64 = 16 * 1024 * 1024;

/// One file of a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    /// Its bytes, `1..PACK_BELOW`.
    pub len: u32,
    /// Raw SHA-256 of its bytes.
    pub sha256: [u8; 32],
}

/// A parsed (or freshly built) pack index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackIndex {
    /// Raw SHA-256 of the pack blob.
    pub pack_sha256: [u8; 32],
    /// Size of the pack blob.
    pub pack_size: u64,
    /// The files, in pack order.
    pub entries: Vec<PackEntry>,
}

/// Why bytes are not a valid pack index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackIndexError {
    /// Larger than [`MAX_PACK_INDEX_BYTES`].
    #[error("pack index is {size} bytes, over the {MAX_PACK_INDEX_BYTES}-byte limit")]
    TooLarge {
        /// Bytes seen.
        size: u64,
    },
    /// Shorter than the header, or a wrong magic.
    #[error("not a pack index (bad magic or shorter than its header)")]
    BadMagic,
    /// The size does not match the file count.
    #[error("pack index states {count} files but is {size} bytes")]
    BadCount {
        /// Files stated.
        count: u32,
        /// Bytes of the object.
        size: u64,
    },
    /// A length of 0, or of a file too large to be packed.
    #[error("pack entry {index} has length {len}, outside 1..{PACK_BELOW}")]
    BadLength {
        /// Position of the entry.
        index: usize,
        /// Its stated length.
        len: u32,
    },
    /// The lengths do not add up to the pack size.
    #[error("pack entries sum to {sum} bytes, but the pack is {pack_size}")]
    BadSum {
        /// Sum of the lengths.
        sum: u64,
        /// Stated pack size.
        pack_size: u64,
    },
}

impl PackIndex {
    /// Parses an index object, with every consistency check of the format.
    pub fn parse(bytes: &[u8]) -> Result<Self, PackIndexError> {
        let size = bytes.len() as u64;
        if size > MAX_PACK_INDEX_BYTES {
            return Err(PackIndexError::TooLarge { size });
        }
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(PackIndexError::BadMagic);
        }
        let pack_sha256: [u8; 32] = bytes[8..40].try_into().expect("32 bytes");
        let pack_size = u64::from_le_bytes(bytes[40..48].try_into().expect("8 bytes"));
        let count = u32::from_le_bytes(bytes[48..52].try_into().expect("4 bytes"));
        let body = &bytes[HEADER_LEN..];
        if count == 0 || body.len() != count as usize * ENTRY_LEN {
            return Err(PackIndexError::BadCount { count, size });
        }
        let mut entries = Vec::with_capacity(count as usize);
        let mut sum = 0u64;
        for (index, entry) in body.chunks_exact(ENTRY_LEN).enumerate() {
            let len = u32::from_le_bytes(entry[..4].try_into().expect("4 bytes"));
            if len == 0 || u64::from(len) >= PACK_BELOW {
                return Err(PackIndexError::BadLength { index, len });
            }
            sum += u64::from(len);
            let sha256 = entry[4..].try_into().expect("32 bytes");
            entries.push(PackEntry { len, sha256 });
        }
        if sum != pack_size {
            return Err(PackIndexError::BadSum { sum, pack_size });
        }
        Ok(Self {
            pack_sha256,
            pack_size,
            entries,
        })
    }

    /// The object's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + ENTRY_LEN * self.entries.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.pack_sha256);
        out.extend_from_slice(&self.pack_size.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            out.extend_from_slice(&e.len.to_le_bytes());
            out.extend_from_slice(&e.sha256);
        }
        out
    }

    /// Lowercase hex of the pack blob's SHA-256.
    pub fn pack_hex(&self) -> String {
        hex::encode(self.pack_sha256)
    }

    /// Each entry with its offset in the pack.
    pub fn with_offsets(&self) -> impl Iterator<Item = (u64, &PackEntry)> {
        self.entries.iter().scan(0u64, |at, e| {
            let start = *at;
            *at += u64::from(e.len);
            Some((start, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> PackIndex {
        PackIndex {
            pack_sha256: [7; 32],
            pack_size: 5,
            entries: vec![
                PackEntry {
                    len: 2,
                    sha256: [1; 32],
                },
                PackEntry {
                    len: 3,
                    sha256: [2; 32],
                },
            ],
        }
    }

    #[test]
    fn round_trips_with_offsets() {
        let bytes = index().encode();
        assert_eq!(bytes.len(), HEADER_LEN + 2 * ENTRY_LEN);
        let parsed = PackIndex::parse(&bytes).unwrap();
        assert_eq!(parsed, index());
        let offsets: Vec<u64> = parsed.with_offsets().map(|(at, _)| at).collect();
        assert_eq!(offsets, [0, 2]);
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let mut bad = index();
        bad.pack_size = 6;
        assert!(matches!(
            PackIndex::parse(&bad.encode()),
            Err(PackIndexError::BadSum { .. })
        ));
        let mut big = index();
        big.entries[0].len = PACK_BELOW as u32;
        big.pack_size = PACK_BELOW + 3;
        assert!(matches!(
            PackIndex::parse(&big.encode()),
            Err(PackIndexError::BadLength { .. })
        ));
        let mut short = index().encode();
        short.pop();
        assert!(matches!(
            PackIndex::parse(&short),
            Err(PackIndexError::BadCount { .. })
        ));
        assert_eq!(PackIndex::parse(b"nope"), Err(PackIndexError::BadMagic));
    }
}
