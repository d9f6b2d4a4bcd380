//! The hasher of a segmented download: a blocking thread that hashes the
//! contiguous prefix of written bytes as it grows, reading it back from the
//! page cache while the later segments still arrive.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use super::table::Table;
use crate::hash::HASH_BUF_SIZE;

/// The table the connections advance and the hasher follows.
pub(super) struct Shared {
    state: Mutex<State>,
    grown: Condvar,
}

struct State {
    table: Table,
    stopped: bool,
}

/// What the hasher covered.
#[derive(Debug)]
pub(super) struct Hashed {
    /// Bytes hashed from zero.
    pub len: u64,
    /// Their SHA-256, lowercase hex.
    pub sha256: String,
}

impl Shared {
    pub(super) fn new(table: Table) -> Self {
        Self {
            state: Mutex::new(State {
                table,
                stopped: false,
            }),
            grown: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the table.
    pub(super) fn table(&self) -> Table {
        self.lock().table.clone()
    }

    /// Hands out the next segment to fetch.
    pub(super) fn take(&self) -> Option<usize> {
        self.lock().table.take()
    }

    /// `n` more bytes of segment `i` are written.
    pub(super) fn advance(&self, i: usize, n: u64) {
        self.lock().table.advance(i, n);
        self.grown.notify_all();
    }

    /// No more bytes will come: the hasher returns what it has.
    pub(super) fn stop(&self) {
        self.lock().stopped = true;
        self.grown.notify_all();
    }

    /// Waits until the prefix passes `hashed` (or the run stopped).
    fn wait_past(&self, hashed: u64) -> u64 {
        let mut state = self.lock();
        loop {
            let prefix = state.table.contiguous();
            if prefix > hashed || state.stopped {
                return prefix;
            }
            state = self
                .grown
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Starts hashing `file` as the prefix of `shared` grows, up to `size`.
pub(super) fn spawn(
    file: Arc<File>,
    shared: Arc<Shared>,
    size: u64,
) -> impl Future<Output = std::io::Result<Hashed>> {
    let task = tokio::task::spawn_blocking(move || follow(&file, &shared, size));
    async move { task.await.map_err(std::io::Error::other)? }
}

fn follow(file: &File, shared: &Shared, size: u64) -> std::io::Result<Hashed> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0; HASH_BUF_SIZE];
    let mut at = 0;
    while at < size {
        let target = shared.wait_past(at);
        if target <= at {
            break;
        }
        while at < target {
            let n = usize::try_from((target - at).min(buf.len() as u64)).expect("bounded by buf");
            file.read_exact_at(&mut buf[..n], at)?;
            hasher.update(&buf[..n]);
            at += n as u64;
        }
    }
    Ok(Hashed {
        len: at,
        sha256: hex::encode(hasher.finalize()),
    })
}
