//! One updater per tool across processes: an OS file lock (`flock` on Unix,
//! `LockFileEx` on Windows) on `tools/<id>/.lock`. The OS releases it when
//! the process dies, so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;
use std::time::Duration;

/// A held lock; released on drop.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// How long to wait for a lock held only for a moment (a `status` probe).
const BRIEF_WAIT: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(25);

fn open(path: &Path) -> io::Result<File> {
    let rw = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path);
    match rw {
        // flock needs no write access: a job of another user may hold a
        // tool's in-use lock through a file it can only read.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => File::open(path),
        other => other,
    }
}

impl FileLock {
    /// Takes the lock exclusively; `Ok(None)` when another process keeps it
    /// past a brief wait (status probes hold it for microseconds).
    pub async fn exclusive(path: &Path) -> io::Result<Option<Self>> {
        Self::acquire(path, false).await
    }

    /// Takes the lock shared (several holders, no exclusive one).
    pub async fn shared(path: &Path) -> io::Result<Option<Self>> {
        Self::acquire(path, true).await
    }

    /// Tries once to take the lock exclusively, without waiting.
    pub fn try_exclusive(path: &Path) -> io::Result<Option<Self>> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Takes the lock exclusively, waiting up to `wait` for its holders
    /// (jobs holding a tool's in-use lock) to let go; `Ok(None)` after that.
    pub async fn exclusive_within(path: &Path, wait: Duration) -> io::Result<Option<Self>> {
        Self::acquire_within(path, false, wait).await
    }

    /// Takes the lock shared, waiting up to `wait` for an exclusive holder
    /// (a switch of `current` holds it for milliseconds).
    pub async fn shared_within(path: &Path, wait: Duration) -> io::Result<Option<Self>> {
        Self::acquire_within(path, true, wait).await
    }

    async fn acquire(path: &Path, shared: bool) -> io::Result<Option<Self>> {
        Self::acquire_within(path, shared, BRIEF_WAIT).await
    }

    async fn acquire_within(path: &Path, shared: bool, wait: Duration) -> io::Result<Option<Self>> {
        let file = open(path)?;
        let mut waited = Duration::ZERO;
        loop {
            let attempt = if shared {
                file.try_lock_shared()
            } else {
                file.try_lock()
            };
            match attempt {
                Ok(()) => return Ok(Some(Self { _file: file })),
                Err(TryLockError::WouldBlock) if waited < wait => {
                    tokio::time::sleep(POLL).await;
                    waited += POLL;
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    /// Whether some process holds the lock in any mode now (an exclusive
    /// probe, released at once). A missing lock file means not held.
    pub fn is_held_any(path: &Path) -> bool {
        let Ok(file) = OpenOptions::new().read(true).open(path) else {
            return false;
        };
        matches!(file.try_lock(), Err(TryLockError::WouldBlock))
    }

    /// Whether some process holds the lock exclusively now (a shared probe
    /// that is released at once). A missing lock file means not held.
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = OpenOptions::new().read(true).open(path) else {
            return false;
        };
        matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_exclusive_lock_is_refused_while_the_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let first = FileLock::exclusive(&path).await.unwrap().unwrap();
        assert!(FileLock::is_held(&path));
        assert!(FileLock::exclusive(&path).await.unwrap().is_none());
        drop(first);
        assert!(!FileLock::is_held(&path));
        assert!(FileLock::exclusive(&path).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_shared_holder_keeps_an_exclusive_waiter_out_for_its_bounded_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in-use.lock");
        let job = FileLock::shared_within(&path, Duration::ZERO)
            .await
            .unwrap()
            .unwrap();
        assert!(
            FileLock::shared_within(&path, Duration::ZERO)
                .await
                .unwrap()
                .is_some()
        );
        assert!(FileLock::is_held_any(&path));
        assert!(
            !FileLock::is_held(&path),
            "shared holders are not an updater"
        );
        let waited = FileLock::exclusive_within(&path, Duration::from_millis(50)).await;
        assert!(waited.unwrap().is_none());
        drop(job);
        assert!(
            FileLock::exclusive_within(&path, Duration::ZERO)
                .await
                .unwrap()
                .is_some()
        );
    }
}
