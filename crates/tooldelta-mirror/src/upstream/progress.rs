//! How far each running blob fetch from upstream has come, so requests for
//! a blob that is still arriving are answered at once with its progress
//! (`tooldelta_core::pending`) instead of a silent connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tooldelta_core::pending::UpstreamProgress;

/// `total` while the blob's size is not known yet.
const UNKNOWN: u64 = u64::MAX;

/// The counters of one running fetch.
#[derive(Debug)]
pub(super) struct Counter {
    received: AtomicU64,
    total: AtomicU64,
}

impl Counter {
    /// Bytes arrived (or, while an upstream mirror is itself still fetching,
    /// how far it says it has come).
    pub(super) fn set_received(&self, n: u64) {
        self.received.store(n, Ordering::Relaxed);
    }

    pub(super) fn add_received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    fn snapshot(&self) -> UpstreamProgress {
        let total = self.total.load(Ordering::Relaxed);
        UpstreamProgress {
            received: self.received.load(Ordering::Relaxed),
            total: (total != UNKNOWN).then_some(total),
        }
    }
}

/// Running fetches by blob address.
#[derive(Debug, Default)]
pub(super) struct Flights {
    running: Arc<Mutex<HashMap<String, Arc<Counter>>>>,
}

/// Keeps a fetch's counter listed until dropped (end of the fetch, even by error).
pub(super) struct Listed {
    running: Arc<Mutex<HashMap<String, Arc<Counter>>>>,
    hex: String,
    pub(super) counter: Arc<Counter>,
}

impl Drop for Listed {
    fn drop(&mut self) {
        lock(&self.running).remove(&self.hex);
    }
}

impl Flights {
    /// Lists a fetch of `hex` (its size if a manifest states it).
    pub(super) fn start(&self, hex: &str, size: Option<u64>) -> Listed {
        let counter = Arc::new(Counter {
            received: AtomicU64::new(0),
            total: AtomicU64::new(size.unwrap_or(UNKNOWN)),
        });
        lock(&self.running).insert(hex.to_owned(), Arc::clone(&counter));
        Listed {
            running: Arc::clone(&self.running),
            hex: hex.to_owned(),
            counter,
        }
    }

    /// The progress of the fetch of `hex`, if one runs.
    pub(super) fn get(&self, hex: &str) -> Option<UpstreamProgress> {
        lock(&self.running).get(hex).map(|c| c.snapshot())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
