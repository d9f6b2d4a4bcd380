//! The size limit of a pull-through cache (`--max-cache-bytes`).
//!
//! Blobs pulled from upstream are marked (`STORE/cache/pulled/<hex>`, an
//! empty file that survives restarts); imported blobs never are, and an
//! `import` removes the mark of content it brings, so only pulled content is
//! ever evicted. When the pulled bytes exceed the limit, the least recently
//! served go first — except blobs of a version whose manifest was served
//! within the pin window: a client in the middle of an update still finds
//! every blob of its version. A response already streaming keeps its open
//! file whatever happens to the path.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tooldelta_core::manifest::is_sha256_hex;

use crate::store::Store;

/// How long a served manifest keeps its version's blobs from eviction.
pub const DEFAULT_PIN_WINDOW: Duration = Duration::from_secs(600);

/// The cache's bookkeeping.
#[derive(Debug)]
pub(crate) struct CacheLimit {
    store: Store,
    limit: u64,
    pin_window: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Pulled blobs: size and when last served.
    pulled: HashMap<String, (u64, Instant)>,
    total: u64,
    /// `tool/version` -> when its manifest was last served, and its blobs.
    pins: HashMap<String, (Instant, Vec<String>)>,
}

/// What one eviction pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Evicted {
    pub blobs: Vec<String>,
    pub bytes: u64,
}

impl Store {
    fn pulled_dir(&self) -> PathBuf {
        self.root().join("cache").join("pulled")
    }

    /// Drops the pulled mark of a blob (an import now owns the content).
    pub(crate) fn unmark_pulled(&self, hex: &str) {
        if is_sha256_hex(hex) {
            let _ = std::fs::remove_file(self.pulled_dir().join(hex));
        }
    }

    fn is_marked_pulled(&self, hex: &str) -> bool {
        self.pulled_dir().join(hex).is_file()
    }
}

impl CacheLimit {
    /// Reads the marks left by earlier runs (their age stands for recency).
    pub fn open(store: Store, limit: u64, pin_window: Duration) -> std::io::Result<Self> {
        let dir = store.pulled_dir();
        std::fs::create_dir_all(&dir)?;
        let mut inner = Inner::default();
        let now = Instant::now();
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let hex = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = std::fs::metadata(store.blob_path(&hex)) else {
                let _ = std::fs::remove_file(entry.path());
                continue;
            };
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default();
            let served = now.checked_sub(age).unwrap_or(now);
            inner.total += meta.len();
            inner.pulled.insert(hex, (meta.len(), served));
        }
        Ok(Self {
            store,
            limit,
            pin_window,
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bytes of pulled blobs stored now.
    pub fn pulled_bytes(&self) -> u64 {
        self.lock().total
    }

    /// Records a blob just pulled from upstream (blocking: writes the mark).
    pub fn pulled(&self, hex: &str, size: u64) {
        let mark = self.store.pulled_dir().join(hex);
        if let Err(e) = std::fs::write(&mark, b"") {
            tracing::warn!(path = %mark.display(), error = %e, "cannot mark a pulled blob; it will never be evicted");
            return;
        }
        let mut inner = self.lock();
        if inner
            .pulled
            .insert(hex.to_owned(), (size, Instant::now()))
            .is_none()
        {
            inner.total += size;
        }
    }

    /// A blob was served: it becomes the most recently used.
    pub fn touch(&self, hex: &str) {
        if let Some(entry) = self.lock().pulled.get_mut(hex) {
            entry.1 = Instant::now();
        }
    }

    /// A version's manifest was served: its blobs stay for the pin window.
    pub fn pin(&self, tool_id: &str, version: &str, blobs: Vec<String>) {
        self.lock()
            .pins
            .insert(format!("{tool_id}/{version}"), (Instant::now(), blobs));
    }

    /// Evicts least-recently-served unpinned pulled blobs until the pulled
    /// bytes fit the limit (blocking: removes files).
    pub fn enforce(&self) -> Evicted {
        let mut evicted = Evicted::default();
        let mut inner = self.lock();
        if inner.total <= self.limit {
            return evicted;
        }
        let window = self.pin_window;
        inner.pins.retain(|_, (at, _)| at.elapsed() < window);
        let pinned: BTreeSet<&String> = inner.pins.values().flat_map(|(_, b)| b).collect();
        let mut order: Vec<(Instant, String, u64)> = inner
            .pulled
            .iter()
            .filter(|(hex, _)| !pinned.contains(hex))
            .map(|(hex, (size, at))| (*at, hex.clone(), *size))
            .collect();
        order.sort();
        let mut total = inner.total;
        let mut gone = Vec::new();
        for (_, hex, size) in order {
            if total <= self.limit {
                break;
            }
            gone.push(hex.clone());
            total -= size;
            // Imported since it was pulled: not ours to evict any more.
            if !self.store.is_marked_pulled(&hex) {
                continue;
            }
            if let Err(e) = std::fs::remove_file(self.store.blob_path(&hex)) {
                tracing::warn!(blob = %hex, error = %e, "cannot evict a cached blob");
                total += size;
                gone.pop();
                continue;
            }
            self.store.unmark_pulled(&hex);
            evicted.blobs.push(hex);
            evicted.bytes += size;
        }
        for hex in &gone {
            inner.pulled.remove(hex);
        }
        inner.total = total;
        if total > self.limit {
            tracing::warn!(
                pulled_bytes = total,
                limit = self.limit,
                "cache over its limit: the rest is pinned by versions being served"
            );
        }
        evicted
    }
}
