//! The disk side of a download ([`Sink`]): a blocking thread that hashes and writes the
//! chunks the network side hands it through a bounded channel. Network reads,
//! hashing and writing overlap, and memory stays bounded by the channel.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::side_hash::SideHash;
use crate::fs::open_own_file;
use crate::fs::{Durability, failpoint};
use crate::hash::{ContentDigest, HASH_BUF_SIZE};

/// Chunks in flight between the network and the disk. hyper hands out chunks
/// of at most a few hundred KiB, so this bounds a file's buffers to a few MiB.
const CHANNEL_CHUNKS: usize = 8;
/// Write buffer: large writes keep syscall overhead out of the profile.
const WRITE_BUF: usize = 1 << 20;
/// Bytes written between two early write-backs of a large download.
pub(crate) const WRITEBACK_EVERY: u64 = 128 << 20;

/// The file being written and the hash of the same bytes, kept beside it.
#[derive(Debug)]
struct Writer {
    file: BufWriter<File>,
    hash: SideHash,
}

/// A partial file being appended to.
#[derive(Debug)]
pub struct Sink {
    path: PathBuf,
    tx: Option<mpsc::Sender<Bytes>>,
    task: JoinHandle<io::Result<Writer>>,
}

impl Sink {
    /// Opens `path`, keeps its first `offset` bytes (re-hashing them, so the
    /// digest covers the whole file) and drops anything after them.
    pub fn open(path: &Path, offset: u64) -> Self {
        Self::open_with_writeback(path, offset, WRITEBACK_EVERY)
    }

    /// [`Sink::open`] with early write-backs every `writeback_every` bytes.
    fn open_with_writeback(path: &Path, offset: u64, writeback_every: u64) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let owned = path.to_owned();
        let task =
            tokio::task::spawn_blocking(move || write_loop(&owned, offset, rx, writeback_every));
        Self {
            path: path.to_owned(),
            tx: Some(tx),
            task,
        }
    }

    /// Hands a chunk to the writer. `Err` means the writer stopped: call
    /// [`Sink::close`] for its error.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), ()> {
        let tx = self.tx.as_ref().ok_or(())?;
        tx.send(chunk).await.map_err(|_| ())
    }

    /// Stops writing and flushes (no fsync): what was written stays for a resume.
    pub async fn close(mut self) -> io::Result<()> {
        self.tx = None;
        self.join().await.map(drop)
    }

    /// Flushes, fsyncs and returns the digest of the whole file.
    pub async fn finish(self) -> io::Result<ContentDigest> {
        self.finish_with(Durability::Each).await
    }

    /// Flushes and returns the digest; fsyncs only for [`Durability::Each`]
    /// (a batched write is made durable by the caller's sync).
    pub async fn finish_with(mut self, durability: Durability) -> io::Result<ContentDigest> {
        self.tx = None;
        let writer = self.join().await?;
        tokio::task::spawn_blocking(move || {
            let digest = writer.hash.finish()?;
            let file = writer
                .file
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?;
            if durability == Durability::Each {
                failpoint!("fetch::fsync");
                file.sync_all()?;
            }
            Ok(digest)
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn join(&mut self) -> io::Result<Writer> {
        let task = &mut self.task;
        match task.await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(format!(
                "writer for {} stopped: {e}",
                self.path.display()
            ))),
        }
    }
}

fn write_loop(
    path: &Path,
    offset: u64,
    mut rx: mpsc::Receiver<Bytes>,
    writeback_every: u64,
) -> io::Result<Writer> {
    failpoint!("fetch::open");
    // Never through a symlink or hard link planted in the partial folder.
    let mut file = open_own_file(path)?;
    let hasher = reseed(&mut file, offset)?;
    file.set_len(offset)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut writer = Writer {
        file: BufWriter::with_capacity(WRITE_BUF, file),
        hash: SideHash::resume(hasher, offset),
    };
    let mut writeback: Option<EarlyWriteback> = None;
    let mut since_writeback = 0;
    while let Some(chunk) = rx.blocking_recv() {
        failpoint!("fetch::write");
        writer.hash.update(&chunk)?;
        writer.file.write_all(&chunk)?;
        since_writeback += chunk.len() as u64;
        if since_writeback >= writeback_every {
            since_writeback = 0;
            if writeback.is_none() {
                writeback = Some(EarlyWriteback::start(writer.file.get_ref())?);
            }
            if let Some(writeback) = &writeback {
                writeback.kick();
            }
        }
    }
    writer.file.flush()?;
    if let Some(writeback) = writeback {
        writeback.stop()?;
    }
    Ok(writer)
}

/// Gets the disk writing a large download while it still arrives: every
/// [`WRITEBACK_EVERY`] bytes a helper thread `fdatasync`s the file, and the
/// writer never waits for it, so the fsync after the last byte finds little
/// left to write — what `sync FILE` after `curl -o` does at the end, done
/// along the way (dpkg uses `sync_file_range` for the same reason).
pub(crate) struct EarlyWriteback {
    kick: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<io::Result<u64>>,
}

impl EarlyWriteback {
    pub(crate) fn start(file: &File) -> io::Result<Self> {
        let file = file.try_clone()?;
        let (kick, kicks) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("tooldelta-writeback".into())
            .spawn(move || {
                // The kernel reports a write-back error once per open file:
                // the first one is kept here and returned by `stop`, never
                // left for the final fsync to miss.
                let mut syncs = 0;
                while kicks.recv().is_ok() {
                    file.sync_data()?;
                    syncs += 1;
                }
                Ok(syncs)
            })?;
        Ok(Self { kick, thread })
    }

    /// Asks for a write-back; one already asked for and not yet begun covers it.
    pub(crate) fn kick(&self) {
        let _ = self.kick.try_send(());
    }

    /// Waits for the write-back under way; returns how many ran, or the
    /// first error.
    pub(crate) fn stop(self) -> io::Result<u64> {
        drop(self.kick);
        self.thread
            .join()
            .map_err(|_| io::Error::other("the write-back thread panicked"))?
    }
}

/// Hashes the first `offset` bytes already on disk (rustup's re-seed).
fn reseed(file: &mut File, offset: u64) -> io::Result<Sha256> {
    let mut hasher = Sha256::new();
    if offset == 0 {
        return Ok(hasher);
    }
    let mut buf = vec![0; HASH_BUF_SIZE];
    let mut left = offset;
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).expect("bounded by buf");
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "partial file is shorter than the resume offset",
            ));
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_bytes;

    #[tokio::test]
    async fn a_resumed_file_hashes_as_the_whole_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.partial");
        std::fs::write(&path, b"hello, garbage after the resume point").unwrap();
        let mut sink = Sink::open(&path, 7);
        sink.write(Bytes::from_static(b"world")).await.unwrap();
        let digest = sink.finish().await.unwrap();
        assert_eq!(digest, hash_bytes(b"hello, world"));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello, world");
    }

    #[tokio::test]
    async fn early_write_backs_keep_the_content_and_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.partial");
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
        // A write-back every 4 KiB: several run while chunks keep coming.
        let mut sink = Sink::open_with_writeback(&path, 0, 4096);
        for chunk in data.chunks(1000) {
            sink.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        let digest = sink.finish().await.unwrap();
        assert_eq!(digest, hash_bytes(&data));
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }

    #[test]
    fn a_write_back_thread_syncs_on_request_and_only_then() {
        let file = tempfile::tempfile().unwrap();
        let idle = EarlyWriteback::start(&file).unwrap();
        assert_eq!(idle.stop().unwrap(), 0, "no request, no fdatasync");

        let writeback = EarlyWriteback::start(&file).unwrap();
        (&file).write_all(b"some bytes").unwrap();
        writeback.kick();
        writeback.kick();
        // Two requests while one may still be pending coalesce: at least
        // one and at most two syncs ran before `stop` returned.
        let syncs = writeback.stop().unwrap();
        assert!((1..=2).contains(&syncs), "{syncs} syncs");
    }

    #[tokio::test]
    async fn a_writer_that_fails_reports_its_error_on_close() {
        let dir = tempfile::tempdir().unwrap();
        // The partial's folder is gone: the writer cannot even open it.
        let path = dir.path().join("missing/z.partial");
        let mut sink = Sink::open(&path, 0);
        let _ = sink.write(Bytes::from_static(b"abc")).await;
        let err = sink.close().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn closing_keeps_what_was_written_for_the_next_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.partial");
        let mut sink = Sink::open(&path, 0);
        sink.write(Bytes::from_static(b"abc")).await.unwrap();
        sink.close().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
    }
}
