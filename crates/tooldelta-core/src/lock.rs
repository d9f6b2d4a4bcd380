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
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
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

    async fn acquire(path: &Path, shared: bool) -> io::Result<Option<Self>> {
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
                Err(TryLockError::WouldBlock) if waited < BRIEF_WAIT => {
                    tokio::time::sleep(POLL).await;
                    waited += POLL;
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
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
}
