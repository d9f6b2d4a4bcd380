//! SHA-256 of a download computed beside its writer ([`SideHash`]): once a
//! file is large, its chunks also go to a thread of their own that hashes
//! them while the writer copies the same bytes to disk, so a large object
//! costs the slower of hashing and writing, not their sum (`cp` does no
//! hashing at all; this is how an assembled chunk delta keeps near it).
//! Small files stay on the writer's thread: a thread per 4 KiB file would
//! cost more than it saves.

use std::io;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::hash::ContentDigest;

/// Bytes hashed inline before the hashing moves to its own thread.
const THREAD_AFTER: u64 = 8 << 20;
/// Chunks queued for the hashing thread (each at most about 1 MiB).
const QUEUE: usize = 8;

/// A running SHA-256 of everything written, inline or on its own thread.
#[derive(Debug)]
pub(crate) struct SideHash {
    state: State,
    size: u64,
}

#[derive(Debug)]
enum State {
    Inline(Sha256),
    Thread {
        queue: SyncSender<Bytes>,
        thread: JoinHandle<Sha256>,
    },
}

impl SideHash {
    /// Continues from `hasher`, which has already seen `size` bytes.
    pub(crate) fn resume(hasher: Sha256, size: u64) -> Self {
        Self {
            state: State::Inline(hasher),
            size,
        }
    }

    /// Adds a chunk (shared with the writer, not copied).
    pub(crate) fn update(&mut self, chunk: &Bytes) -> io::Result<()> {
        self.size += chunk.len() as u64;
        match &mut self.state {
            State::Inline(hasher) => {
                hasher.update(chunk);
                if self.size >= THREAD_AFTER {
                    self.move_to_thread()?;
                }
                Ok(())
            }
            State::Thread { queue, .. } => queue
                .send(chunk.clone())
                .map_err(|_| io::Error::other("the hashing thread stopped")),
        }
    }

    fn move_to_thread(&mut self) -> io::Result<()> {
        let State::Inline(hasher) = &mut self.state else {
            return Ok(());
        };
        let mut hasher = std::mem::take(hasher);
        let (queue, chunks) = sync_channel::<Bytes>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("tooldelta-hash".into())
            .spawn(move || {
                for chunk in chunks {
                    hasher.update(&chunk);
                }
                hasher
            })?;
        self.state = State::Thread { queue, thread };
        Ok(())
    }

    /// The digest of everything added.
    pub(crate) fn finish(self) -> io::Result<ContentDigest> {
        let hasher = match self.state {
            State::Inline(hasher) => hasher,
            State::Thread { queue, thread } => {
                drop(queue);
                thread
                    .join()
                    .map_err(|_| io::Error::other("the hashing thread panicked"))?
            }
        };
        Ok(ContentDigest {
            sha256: hex::encode(hasher.finalize()),
            size: self.size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_bytes;

    #[test]
    fn a_large_file_hashed_on_its_own_thread_has_the_same_digest() {
        let data: Vec<u8> = (0..(THREAD_AFTER as usize * 2 + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut side = SideHash::resume(Sha256::new(), 0);
        for chunk in data.chunks(300_000) {
            side.update(&Bytes::copy_from_slice(chunk)).unwrap();
        }
        assert!(matches!(side.state, State::Thread { .. }));
        assert_eq!(side.finish().unwrap(), hash_bytes(&data));
    }

    #[test]
    fn a_small_file_stays_inline() {
        let mut side = SideHash::resume(Sha256::new(), 0);
        side.update(&Bytes::from_static(b"small")).unwrap();
        assert!(matches!(side.state, State::Inline(_)));
        assert_eq!(side.finish().unwrap(), hash_bytes(b"small"));
    }
}
