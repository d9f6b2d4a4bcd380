//! The pure part of a chunk-level delta: which bytes of the new file come
//! from local objects, which are fetched, and as how few ranges.

use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::chunks::ChunkIndex;

/// A local run of fetched chunks shorter than this, between two fetched
/// runs, is fetched too: one request fewer for at most this many bytes.
pub const MERGE_GAP: u64 = 64 * 1024;

/// Where a chunk can be read locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalChunk {
    /// Which local object (an index into the caller's list).
    pub source: usize,
    /// Offset of the chunk in that object.
    pub offset: u64,
}

/// One step of assembling the new file, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Copy `len` bytes from local object `source` at `offset`.
    Local {
        /// The local object.
        source: usize,
        /// Offset in it.
        offset: u64,
        /// Bytes.
        len: u64,
    },
    /// Fetch the range `start..end` of the new file (one request).
    Remote {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
}

/// How the new file is built.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeltaPlan {
    /// The steps, covering the file exactly once, in order.
    pub steps: Vec<Step>,
    /// Bytes copied from local objects.
    pub bytes_local: u64,
    /// Bytes fetched.
    pub bytes_remote: u64,
}

impl DeltaPlan {
    /// The number of range requests.
    pub fn requests(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Remote { .. }))
            .count()
    }

    /// Whether fetching the whole file is the better deal: more than half of
    /// it would be fetched anyway (and as many pieces).
    pub fn whole_file_is_better(&self) -> bool {
        self.bytes_remote * 2 > self.bytes_remote + self.bytes_local
    }
}

/// Plans the new file of `index` from the chunks held locally.
pub fn plan<S: BuildHasher>(
    index: &ChunkIndex,
    local: &HashMap<[u8; 32], LocalChunk, S>,
) -> DeltaPlan {
    let mut steps: Vec<Step> = Vec::new();
    for (at, chunk) in index.with_offsets() {
        let len = u64::from(chunk.len);
        let step = match local.get(&chunk.sha256) {
            Some(l) => Step::Local {
                source: l.source,
                offset: l.offset,
                len,
            },
            None => Step::Remote {
                start: at,
                end: at + len,
            },
        };
        push_merged(&mut steps, step);
    }
    let steps = absorb_small_gaps(&steps);
    let (mut bytes_local, mut bytes_remote) = (0, 0);
    for step in &steps {
        match *step {
            Step::Local { len, .. } => bytes_local += len,
            Step::Remote { start, end } => bytes_remote += end - start,
        }
    }
    DeltaPlan {
        steps,
        bytes_local,
        bytes_remote,
    }
}

/// Appends a step, merging it into the last one when they are contiguous.
fn push_merged(steps: &mut Vec<Step>, step: Step) {
    match (steps.last_mut(), step) {
        (Some(Step::Remote { end, .. }), Step::Remote { start, end: e }) if *end == start => {
            *end = e;
        }
        (
            Some(Step::Local {
                source,
                offset,
                len,
            }),
            Step::Local {
                source: s,
                offset: o,
                len: l,
            },
        ) if *source == s && *offset + *len == o => *len += l,
        _ => steps.push(step),
    }
}

/// Turns short local runs squeezed between two fetched ranges into fetched
/// bytes, joining the three into one range.
fn absorb_small_gaps(steps: &[Step]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::with_capacity(steps.len());
    let mut at = 0u64;
    for (i, step) in steps.iter().enumerate() {
        let len = match *step {
            Step::Local { len, .. } => len,
            Step::Remote { start, end } => end - start,
        };
        let between_remotes = matches!(out.last(), Some(Step::Remote { .. }))
            && matches!(steps.get(i + 1), Some(Step::Remote { .. }));
        let absorbed = match *step {
            Step::Local { len, .. } if between_remotes && len <= MERGE_GAP => Step::Remote {
                start: at,
                end: at + len,
            },
            other => other,
        };
        push_merged(&mut out, absorbed);
        at += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::Chunk;

    fn index(lens: &[u32]) -> ChunkIndex {
        ChunkIndex {
            file_sha256: [0; 32],
            file_size: lens.iter().map(|l| u64::from(*l)).sum(),
            chunks: lens
                .iter()
                .enumerate()
                .map(|(i, len)| Chunk {
                    len: *len,
                    sha256: [i as u8 + 1; 32],
                })
                .collect(),
        }
    }

    /// Chunk `i` of the index is held by source 0 at `offset`.
    fn held(pairs: &[(usize, u64)]) -> HashMap<[u8; 32], LocalChunk> {
        pairs
            .iter()
            .map(|&(i, offset)| ([i as u8 + 1; 32], LocalChunk { source: 0, offset }))
            .collect()
    }

    /// Name, chunks held (index, offset in source 0), expected steps.
    type Case = (&'static str, Vec<(usize, u64)>, Vec<Step>);

    #[test]
    fn table() {
        let k = 1024 * 1024u32;
        let lens = [k, k, k, k, 1000, k];
        let cases: Vec<Case> = vec![
            (
                "nothing held: one range for the file",
                vec![],
                vec![Step::Remote {
                    start: 0,
                    end: 5 * u64::from(k) + 1000,
                }],
            ),
            (
                "all held contiguously (data shifted by 256 bytes): one copy",
                (0..6)
                    .map(|i| {
                        (
                            i,
                            256 + u64::from(k) * i.min(4) as u64 + if i == 5 { 1000 } else { 0 },
                        )
                    })
                    .collect(),
                vec![Step::Local {
                    source: 0,
                    offset: 256,
                    len: 5 * u64::from(k) + 1000,
                }],
            ),
            (
                "first chunk changed: one range, then one copy",
                (1..6)
                    .map(|i| {
                        (
                            i,
                            u64::from(k) * i.min(4) as u64 + if i == 5 { 1000 } else { 0 },
                        )
                    })
                    .collect(),
                vec![
                    Step::Remote {
                        start: 0,
                        end: u64::from(k),
                    },
                    Step::Local {
                        source: 0,
                        offset: u64::from(k),
                        len: 4 * u64::from(k) + 1000,
                    },
                ],
            ),
            (
                "a small held chunk between two changed ones is fetched: one range",
                vec![(0, 0), (1, 1 << 20), (2, 2 << 20), (4, 9 << 20)],
                vec![
                    Step::Local {
                        source: 0,
                        offset: 0,
                        len: 3 * u64::from(k),
                    },
                    Step::Remote {
                        start: 3 * u64::from(k),
                        end: 4 * u64::from(k) + 1000 + u64::from(k),
                    },
                ],
            ),
        ];
        for (name, pairs, want) in cases {
            let got = plan(&index(&lens), &held(&pairs));
            assert_eq!(got.steps, want, "{name}");
            assert_eq!(
                got.bytes_local + got.bytes_remote,
                5 * u64::from(k) + 1000,
                "{name}"
            );
        }
    }

    #[test]
    fn a_held_run_between_changes_stays_local_when_large() {
        let k = 1024 * 1024u32;
        let got = plan(&index(&[k, k, k]), &held(&[(1, 7 << 20)]));
        assert_eq!(got.requests(), 2);
        assert_eq!(
            (got.bytes_local, got.bytes_remote),
            (u64::from(k), 2 * u64::from(k))
        );
        assert!(got.whole_file_is_better());
        let mostly_held = plan(&index(&[k, k, k]), &held(&[(1, 0), (2, 1 << 20)]));
        assert!(!mostly_held.whole_file_is_better());
    }
}
