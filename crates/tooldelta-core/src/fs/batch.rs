//! Batched durability: the writes of a run are left to the page cache and
//! made durable together by one `syncfs` before the commit point, instead of
//! an fsync of each file and of its folder (OSTree's model: objects are
//! written, then one `syncfs` per commit).
//!
//! The guarantee stays the same: nothing is trusted before it is known
//! durable. A [`Journal`], itself written durably *before* the first
//! unsynced write, names what a run writes that way; it is closed only after
//! the sync. A journal still there at the next start names writes that may
//! not have reached the disk:
//!
//! - written during an earlier boot (the machine stopped before the sync):
//!   each named object is re-hashed and dropped when it no longer matches;
//! - written during this boot (the process died, the kernel did not): the
//!   bytes are in the page cache, so one sync makes them durable.
//!
//! Large files keep their own fsync ([`BATCH_BELOW`]): their cost is the
//! data, not the call, and re-hashing a model after a power cut would cost
//! more than the fsync saved.

use std::io;
use std::path::{Path, PathBuf};

use super::{failpoint, remove_file_if_exists, write_atomic};

/// Objects smaller than this are written without their own fsync, under a
/// [`Journal`], and made durable by one [`sync_filesystems`] before the
/// commit point.
pub const BATCH_BELOW: u64 = 64 * 1024;

/// How the writes of one step reach the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Each file is fsynced, and its folder after the rename.
    #[default]
    Each,
    /// Left to the page cache: the caller syncs the file system before its
    /// commit point, and a [`Journal`] names the writes until then.
    Batched,
}

impl Durability {
    /// The mode of an object of `size` bytes in a batched run.
    pub fn for_object(size: u64) -> Self {
        if size < BATCH_BELOW {
            Self::Batched
        } else {
            Self::Each
        }
    }
}

/// Makes every write on the file systems holding `paths` durable: one
/// `syncfs` per distinct file system (store and releases share one in the
/// usual layout).
pub fn sync_filesystems(paths: &[&Path]) -> io::Result<()> {
    let mut seen = Vec::new();
    for path in paths {
        let dir = fs_err::File::open(path)?;
        let dev = device(&dir.metadata()?);
        if seen.contains(&dev) {
            continue;
        }
        seen.push(dev);
        failpoint!("fs::syncfs");
        syncfs(dir.file())
            .map_err(|e| io::Error::new(e.kind(), format!("syncfs {}: {e}", path.display())))?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn syncfs(file: &std::fs::File) -> io::Result<()> {
    rustix::fs::syncfs(file).map_err(io::Error::from)
}

/// Without `syncfs`, `sync(2)` flushes every file system (a superset).
#[cfg(not(target_os = "linux"))]
fn syncfs(_file: &std::fs::File) -> io::Result<()> {
    rustix::fs::sync();
    Ok(())
}

#[cfg(unix)]
fn device(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.dev()
}

#[cfg(not(unix))]
fn device(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// First line of a journal file; the boot id follows it.
const MAGIC: &str = "tooldelta-journal-v1";

/// The list of writes a run makes without their own fsync, durable before
/// the first of them.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// Durably writes a journal at `path` naming `names` (one per line).
    pub fn begin<'a>(path: &Path, names: impl IntoIterator<Item = &'a str>) -> io::Result<Self> {
        let mut text = format!("{MAGIC} {}\n", boot_id());
        for name in names {
            text.push_str(name);
            text.push('\n');
        }
        write_atomic(path, text.as_bytes())?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

    /// After the sync: every named write is durable, the journal goes. Its
    /// removal needs no fsync: a journal that comes back costs a re-check.
    pub fn close(self) -> io::Result<()> {
        remove_file_if_exists(&self.path)
    }
}

/// A journal a run left behind (it died before its sync, or after it but
/// before closing the journal).
#[derive(Debug)]
pub struct Leftover {
    /// The journal file.
    pub path: PathBuf,
    /// Whether it was written during this boot (the kernel kept its writes).
    pub this_boot: bool,
    /// What it names.
    pub names: Vec<String>,
}

impl Leftover {
    /// Reads a journal file; `None` when it is not one (an unfinished temp
    /// file of [`write_atomic`] never has the final name).
    pub fn read(path: &Path) -> io::Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut lines = text.lines();
        let Some(boot) = lines.next().and_then(|l| l.strip_prefix(MAGIC)) else {
            return Ok(None);
        };
        let this_boot = boot.trim() == boot_id() && !boot_id().is_empty();
        let names = lines.filter(|l| !l.is_empty()).map(str::to_owned).collect();
        Ok(Some(Self {
            path: path.to_owned(),
            this_boot,
            names,
        }))
    }
}

/// This boot's id: a journal from another boot outlived a machine stop.
/// Empty where unknown, which makes every leftover journal "another boot"
/// (the safe side: its objects are re-hashed).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_lists_its_names_until_closed_and_knows_its_boot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j/t.journal");
        let journal = Journal::begin(&path, ["a", "b"]).unwrap();
        let left = Leftover::read(&path).unwrap().unwrap();
        assert_eq!(left.names, ["a", "b"]);
        assert_eq!(left.this_boot, !boot_id().is_empty());
        journal.close().unwrap();
        assert!(Leftover::read(&path).unwrap().is_none());

        std::fs::write(&path, format!("{MAGIC} another-boot\nc\n")).unwrap();
        let left = Leftover::read(&path).unwrap().unwrap();
        assert!(!left.this_boot);
        assert_eq!(left.names, ["c"]);
        sync_filesystems(&[dir.path(), &dir.path().join("j")]).unwrap();
    }

    #[test]
    fn small_objects_are_batched_and_large_ones_synced_alone() {
        assert_eq!(Durability::for_object(4096), Durability::Batched);
        assert_eq!(Durability::for_object(BATCH_BELOW), Durability::Each);
    }
}
