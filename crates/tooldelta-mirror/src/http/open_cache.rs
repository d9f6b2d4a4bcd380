//! Open blob files, kept for a few seconds. A blob never changes under its
//! name (the name is its SHA-256), so a request for a blob opened moments ago
//! can reuse the file: no path checks, no `open`, no hop to the blocking pool —
//! nginx's `open_file_cache` for our one kind of file. A blob removed from the
//! store is still served, with its right bytes, until its entry expires.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an open blob is reused.
const TTL: Duration = Duration::from_secs(5);
/// Open files kept at most, by default.
const CAPACITY: usize = 1024;

/// The cache; one per server.
#[derive(Debug)]
pub(crate) struct OpenBlobs {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

impl Default for OpenBlobs {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

#[derive(Debug)]
struct Entry {
    file: Arc<File>,
    size: u64,
    opened: Instant,
}

impl OpenBlobs {
    /// A cache holding at most `capacity` open files (each is a descriptor).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::default(),
            capacity,
        }
    }

    /// The open file and size of blob `hex`, if opened less than [`TTL`] ago.
    pub(crate) fn get(&self, hex: &str) -> Option<(Arc<File>, u64)> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get(hex)?;
        (entry.opened.elapsed() < TTL).then(|| (Arc::clone(&entry.file), entry.size))
    }

    /// Forgets a blob (evicted from the store): its next request opens anew.
    pub(crate) fn forget(&self, hex: &str) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(hex);
    }

    /// Remembers an opened blob; when full, expired entries go first, then all.
    pub(crate) fn put(&self, hex: &str, file: &Arc<File>, size: u64) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.opened.elapsed() < TTL);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            hex.to_owned(),
            Entry {
                file: Arc::clone(file),
                size,
                opened: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_blob_is_found_with_its_size_and_others_are_not() {
        let cache = OpenBlobs::default();
        let file = Arc::new(tempfile::tempfile().unwrap());
        cache.put("ab", &file, 7);
        let (got, size) = cache.get("ab").unwrap();
        assert!(Arc::ptr_eq(&got, &file));
        assert_eq!(size, 7);
        assert!(cache.get("cd").is_none());
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = OpenBlobs::default();
        let file = Arc::new(tempfile::tempfile().unwrap());
        for i in 0..=CAPACITY {
            cache.put(&format!("{i:x}"), &file, 1);
        }
        assert!(cache.entries.lock().unwrap().len() <= CAPACITY);
        assert!(cache.get(&format!("{CAPACITY:x}")).is_some());
    }
}
