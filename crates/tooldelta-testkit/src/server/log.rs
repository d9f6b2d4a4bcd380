//! What the server was asked and what it sent, for assertions.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Order of arrival, from 0.
    pub seq: u64,
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The request path as sent (percent-encoded, without query).
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `If-Range` header, if any.
    pub if_range: Option<String>,
    /// The status answered (0 until the head is sent).
    pub status: u16,
    /// The faults applied, as `Debug` text of each [`crate::Fault`].
    pub faults: Vec<String>,
    /// Body bytes handed to the connection so far.
    pub bytes_sent: u64,
    /// Body chunks handed to the connection so far.
    pub chunks: u64,
    /// The largest chunk, in bytes.
    pub max_chunk: u64,
    /// Whether the body ended by a deliberate cut.
    pub cut: bool,
}

/// Totals for one path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathStats {
    /// Requests received.
    pub count: u64,
    /// The `Range` header of each request, in order.
    pub ranges: Vec<Option<String>>,
    /// The status of each request, in order.
    pub statuses: Vec<u16>,
    /// Body bytes sent over all requests.
    pub bytes_sent: u64,
}

/// The live counters of one request, updated while its body streams.
#[derive(Debug)]
pub(crate) struct Entry {
    seq: u64,
    method: String,
    path: String,
    range: Option<String>,
    if_range: Option<String>,
    faults: Vec<String>,
    status: AtomicU16,
    bytes: AtomicU64,
    chunks: AtomicU64,
    max_chunk: AtomicU64,
    cut: AtomicBool,
}

impl Entry {
    pub(crate) fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    pub(crate) fn add_chunk(&self, len: u64) {
        self.bytes.fetch_add(len, Ordering::Relaxed);
        self.chunks.fetch_add(1, Ordering::Relaxed);
        self.max_chunk.fetch_max(len, Ordering::Relaxed);
    }

    pub(crate) fn mark_cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
    }

    fn snapshot(&self) -> RequestRecord {
        RequestRecord {
            seq: self.seq,
            method: self.method.clone(),
            path: self.path.clone(),
            range: self.range.clone(),
            if_range: self.if_range.clone(),
            status: self.status.load(Ordering::Relaxed),
            faults: self.faults.clone(),
            bytes_sent: self.bytes.load(Ordering::Relaxed),
            chunks: self.chunks.load(Ordering::Relaxed),
            max_chunk: self.max_chunk.load(Ordering::Relaxed),
            cut: self.cut.load(Ordering::Relaxed),
        }
    }
}

/// What a new log entry is made from.
pub(crate) struct NewEntry {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) range: Option<String>,
    pub(crate) if_range: Option<String>,
    pub(crate) faults: Vec<String>,
}

/// Every request a server received, in order. Cheap to clone; clones share
/// the log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    entries: Arc<Mutex<Vec<Arc<Entry>>>>,
}

impl RequestLog {
    pub(crate) fn push(&self, new: NewEntry) -> Arc<Entry> {
        let mut entries = self.lock();
        let entry = Arc::new(Entry {
            seq: entries.len() as u64,
            method: new.method,
            path: new.path,
            range: new.range,
            if_range: new.if_range,
            faults: new.faults,
            status: AtomicU16::new(0),
            bytes: AtomicU64::new(0),
            chunks: AtomicU64::new(0),
            max_chunk: AtomicU64::new(0),
            cut: AtomicBool::new(false),
        });
        entries.push(Arc::clone(&entry));
        entry
    }

    /// A snapshot of every request so far.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.lock().iter().map(|e| e.snapshot()).collect()
    }

    /// The requests for one path.
    pub fn records_for(&self, path: &str) -> Vec<RequestRecord> {
        self.lock()
            .iter()
            .filter(|e| e.path == path)
            .map(|e| e.snapshot())
            .collect()
    }

    /// Totals for one path.
    pub fn stats(&self, path: &str) -> PathStats {
        let mut stats = PathStats::default();
        for r in self.records_for(path) {
            stats.count += 1;
            stats.ranges.push(r.range);
            stats.statuses.push(r.status);
            stats.bytes_sent += r.bytes_sent;
        }
        stats
    }

    /// How many requests asked for `path`.
    pub fn count(&self, path: &str) -> u64 {
        self.lock().iter().filter(|e| e.path == path).count() as u64
    }

    /// How many requests arrived in all.
    pub fn total_requests(&self) -> u64 {
        self.lock().len() as u64
    }

    /// Body bytes sent over all requests.
    pub fn total_bytes_sent(&self) -> u64 {
        self.lock()
            .iter()
            .map(|e| e.bytes.load(Ordering::Relaxed))
            .sum()
    }

    /// Forgets every request (sequence numbers start again from 0).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Entry>>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
