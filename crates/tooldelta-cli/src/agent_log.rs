//! The agent's log: stderr (for journald) and a file that rotates by size
//! (`agent.log` -> `agent.log.1` … `agent.log.N`, the oldest dropped), so a
//! workstation that runs for years keeps a bounded log for technicians.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;

/// Rotate when the file reaches this size.
pub const ROTATE_AT: u64 = 4 << 20;
/// Rotated files kept besides the live one.
pub const KEEP: usize = 3;

/// An append-only log file that rotates itself by size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    len: u64,
    limit: u64,
}

impl RotatingFile {
    /// Opens (creating) `path` for appending; rotates at `limit` bytes.
    pub fn open(path: &Path, limit: u64) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            file,
            len,
            limit,
        })
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..KEEP).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1))?;
            }
        }
        std::fs::rename(&self.path, self.rotated(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.len > 0 && self.len + buf.len() as u64 > self.limit {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Logs at `info` (or `RUST_LOG`) to stderr and to `path`.
pub fn init(path: &Path) -> io::Result<()> {
    let file = RotatingFile::open(path, ROTATE_AT)?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(io::stderr.and(Mutex::new(file)))
        .init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_by_size_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/agent.log");
        let mut log = RotatingFile::open(&path, 100).unwrap();
        // One write per line, as the log formatter does.
        for i in 0..40 {
            log.write_all(format!("line {i:03} of the agent's log\n").as_bytes())
                .unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() <= 100);
        for n in 1..=KEEP {
            assert!(log.rotated(n).exists(), "{n}");
        }
        assert!(!log.rotated(KEEP + 1).exists());
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.contains("line 039"), "{newest}");
    }
}
