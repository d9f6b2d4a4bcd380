//! Packs: the small files of a release grouped into a few content-addressed
//! blobs, so a client fetches thousands of them with a few ranged requests
//! (git's packfiles, OSTree's static deltas, Xet's containers).
//!
//! A pack is two objects: the **pack blob**, the files' bytes back to back,
//! and its **index** ([`PackIndex`], format `TDPACK01`), which names the blob
//! by SHA-256 and size and lists each file's length and SHA-256 in order.
//! The signed manifest lists the indexes in `packs` (their SHA-256 and size),
//! so the signature covers every index, and through it every pack blob.
//! Both are ordinary blobs: any mirror, nginx, CDN or bucket serves them, and
//! every file stays addressable by its own blob route too.
//!
//! Trust on the client: an index is used only when it hashes to the
//! manifest's reference; a file cut from a pack is written only when it
//! hashes to the manifest's SHA-256 for it.

mod fetch;
mod index;
mod publish;

pub use fetch::{PackFetch, PackTotals};
pub use index::{
    ENTRY_LEN, HEADER_LEN, MAGIC, MAX_PACK_INDEX_BYTES, PackEntry, PackIndex, PackIndexError,
};
pub use publish::write_packs;

/// Files smaller than this are packed (the bulk of a venv, a node or CUDA
/// tree); larger ones are fetched by their own request, which costs little
/// next to their bytes.
pub const PACK_BELOW: u64 = 64 * 1024;

/// A pack is closed once its files reach this many bytes: large enough that
/// a fresh install of a 100,000-file tool is a few dozen requests, small
/// enough that a client lacking a few files of one fetches short ranges.
pub const PACK_TARGET: u64 = 8 << 20;

/// The most packs a manifest may list.
pub const MAX_PACKS: usize = 1 << 16;

/// One ranged request: entries `first..first + count` of a pack, contiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackRange {
    /// Offset in the pack blob of the first byte.
    pub start: u64,
    /// Bytes (`end = start + len - 1`).
    pub len: u64,
    /// Index of the first entry.
    pub first: usize,
    /// Entries in the range.
    pub count: usize,
}

/// The ranges that bring the `wanted` entries of `index`: runs of adjacent
/// wanted entries become one range each (nothing unwanted is fetched, so a
/// client that lacks a few files of a pack fetches only those).
pub fn plan_ranges(index: &PackIndex, wanted: impl Fn(&PackEntry) -> bool) -> Vec<PackRange> {
    let mut out: Vec<PackRange> = Vec::new();
    for (i, (at, entry)) in index.with_offsets().enumerate() {
        if !wanted(entry) {
            continue;
        }
        match out.last_mut() {
            Some(r) if r.first + r.count == i => {
                r.len += u64::from(entry.len);
                r.count += 1;
            }
            _ => out.push(PackRange {
                start: at,
                len: u64::from(entry.len),
                first: i,
                count: 1,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_wanted_entries_share_one_range() {
        let entries = (1..=5u8)
            .map(|n| PackEntry {
                len: u32::from(n) * 10,
                sha256: [n; 32],
            })
            .collect();
        let index = PackIndex {
            pack_sha256: [0; 32],
            pack_size: 150,
            entries,
        };
        let ranges = plan_ranges(&index, |e| e.sha256[0] != 3);
        assert_eq!(
            ranges,
            [
                PackRange {
                    start: 0,
                    len: 30,
                    first: 0,
                    count: 2
                },
                PackRange {
                    start: 60,
                    len: 90,
                    first: 3,
                    count: 2
                },
            ]
        );
        assert!(plan_ranges(&index, |_| false).is_empty());
    }
}
