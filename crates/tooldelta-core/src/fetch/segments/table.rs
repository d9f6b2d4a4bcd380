//! Which byte ranges of a segmented download are on disk: the plan, the
//! bookkeeping while it runs, and the `.segments` file that lets an
//! interrupted run resume every range where it stopped. Pure.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Smallest segment: below this, a request's set-up costs more than it gains.
pub const MIN_SEGMENT: u64 = 8 << 20;
/// Largest segment: small enough that connections finishing at different
/// times leave little tail, and a cut costs little.
pub const MAX_SEGMENT: u64 = 128 << 20;
/// Segments per connection, for that same tail.
const SEGMENTS_PER_CONNECTION: u64 = 4;

/// `start..end` of the content, of which `done` bytes from `start` are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Bytes written from `start` on.
    pub done: u64,
}

impl Segment {
    /// The next byte to fetch.
    pub fn next(&self) -> u64 {
        self.start + self.done
    }

    /// Whether every byte is written.
    pub fn complete(&self) -> bool {
        self.next() >= self.end
    }
}

/// The segments of one content, in order, covering it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The content's size.
    pub size: u64,
    /// The segments, in order.
    pub segments: Vec<Segment>,
    /// Segments a connection is working on (not saved).
    #[serde(skip)]
    taken: Vec<bool>,
}

impl Table {
    /// Cuts `size` bytes into segments for `connections` connections; the
    /// first `prefix` bytes (an earlier single-stream partial) count as done.
    pub fn plan(size: u64, connections: usize, prefix: u64) -> Self {
        let per = size / (connections.max(1) as u64 * SEGMENTS_PER_CONNECTION);
        let len = per.clamp(MIN_SEGMENT, MAX_SEGMENT);
        let mut segments = Vec::new();
        let mut start = 0;
        while start < size {
            let end = (start + len).min(size);
            let done = prefix.clamp(start, end) - start;
            segments.push(Segment { start, end, done });
            start = end;
        }
        Self::with(size, segments)
    }

    fn with(size: u64, segments: Vec<Segment>) -> Self {
        let taken = vec![false; segments.len()];
        Self {
            size,
            segments,
            taken,
        }
    }

    /// The table an earlier run saved at `path`, if it describes a content
    /// of `size` bytes and holds together.
    pub fn load(path: &Path, size: u64) -> Option<Self> {
        let text = std::fs::read(path).ok()?;
        let table: Self = serde_json::from_slice(&text).ok()?;
        let mut at = 0;
        for s in &table.segments {
            if s.start != at || s.end <= s.start || s.done > s.end - s.start {
                return None;
            }
            at = s.end;
        }
        (table.size == size && at == size).then(|| Self::with(size, table.segments))
    }

    /// Writes the table (bookkeeping only: no fsync — a table that claims
    /// bytes a crash lost fails the final hash and the download restarts).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).expect("a table serializes");
        crate::fs::write_own_file(path, &json)
    }

    /// Bytes from zero that are all written: what the hash may cover.
    pub fn contiguous(&self) -> u64 {
        self.segments
            .iter()
            .find(|s| !s.complete())
            .map_or(self.size, Segment::next)
    }

    /// Bytes written in all.
    pub fn written(&self) -> u64 {
        self.segments.iter().map(|s| s.done).sum()
    }

    /// Whether every segment is written.
    pub fn complete(&self) -> bool {
        self.segments.iter().all(Segment::complete)
    }

    /// Hands out the first segment nobody works on that still needs bytes.
    pub fn take(&mut self) -> Option<usize> {
        let i =
            (0..self.segments.len()).find(|&i| !self.taken[i] && !self.segments[i].complete())?;
        self.taken[i] = true;
        Some(i)
    }

    /// `n` more bytes of segment `i` are written.
    pub fn advance(&mut self, i: usize, n: u64) {
        let s = &mut self.segments[i];
        s.done = (s.done + n).min(s.end - s.start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_covers_the_content_and_counts_a_prefix_as_done() {
        let size = 100 * MIN_SEGMENT + 5;
        let t = Table::plan(size, 4, 3 * MIN_SEGMENT + 7);
        assert_eq!(t.segments.first().unwrap().start, 0);
        assert_eq!(t.segments.last().unwrap().end, size);
        assert!(t.segments.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(t.written(), 3 * MIN_SEGMENT + 7);
        assert_eq!(t.contiguous(), 3 * MIN_SEGMENT + 7);
        // Small contents get at least MIN_SEGMENT per segment.
        assert_eq!(Table::plan(MIN_SEGMENT + 1, 8, 0).segments.len(), 2);
    }

    #[test]
    fn the_contiguous_prefix_stops_at_the_first_gap() {
        let mut t = Table::plan(4 * MIN_SEGMENT, 1, 0);
        let (a, b) = (t.take().unwrap(), t.take().unwrap());
        t.advance(b, MIN_SEGMENT);
        assert_eq!(t.contiguous(), 0, "segment 1 is done, segment 0 is not");
        t.advance(a, 10);
        assert_eq!(t.contiguous(), 10);
        t.advance(a, MIN_SEGMENT);
        assert_eq!(t.contiguous(), 2 * MIN_SEGMENT);
        assert_eq!(t.take(), Some(2), "taken and complete segments are skipped");
    }

    #[test]
    fn a_saved_table_resumes_and_a_foreign_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.segments");
        let mut t = Table::plan(3 * MIN_SEGMENT, 1, 0);
        let i = t.take().unwrap();
        t.advance(i, 123);
        t.save(&path).unwrap();
        let back = Table::load(&path, 3 * MIN_SEGMENT).unwrap();
        assert_eq!(back.segments, t.segments);
        assert_eq!(Table::load(&path, 3 * MIN_SEGMENT + 1), None);
        std::fs::write(&path, br#"{"size": 1, "segments": []}"#).unwrap();
        assert_eq!(Table::load(&path, 1), None);
    }
}
