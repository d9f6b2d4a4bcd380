//! Durable file-system steps, the one home of each in the workspace: fsync of
//! folders, the atomic write (used by the engine, the mirror, the CLI and the
//! settings file), persisting a finished temp file, read-only permissions,
//! and opening engine-owned files without following planted links. Each
//! write, fsync, rename and delete of the update path goes through a fail
//! point (feature `failpoints`) so the fault matrix can stop the engine at
//! every step. Writes of many small files can skip their own fsyncs and be
//! made durable together ([`batch`]).

mod batch;
mod dirs;
pub use batch::{BATCH_BELOW, Durability, Journal, Leftover, sync_filesystems};
pub use dirs::create_parent_dirs;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Returns an I/O error from a fail point when it is configured (feature
/// `failpoints`); compiles to nothing otherwise. `return(enospc)` makes it a
/// "no space left" error, as a full disk would.
macro_rules! failpoint {
    ($name:literal) => {
        fail::fail_point!($name, |arg: Option<String>| Err(crate::fs::injected_error(
            $name,
            arg.as_deref()
        )))
    };
}
pub(crate) use failpoint;

/// The error a configured fail point returns.
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
pub(crate) fn injected_error(name: &str, arg: Option<&str>) -> io::Error {
    let kind = match arg {
        Some("enospc") => io::ErrorKind::StorageFull,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("fail point {name}"))
}

/// Flushes a folder's entries (new names, renames) to disk.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    failpoint!("fsync_dir");
    // Opening a folder read-only and calling fsync is how POSIX makes entries durable.
    fs_err::File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically and durably: temp file in the same
/// folder (`.NAME.tmp-PID-N`, unique per write), fsync, rename, fsync the
/// folder (created when missing). Readers see the old or the new content,
/// never a mix. Errors name the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    fs_err::create_dir_all(dir)?;
    let result = (|| {
        failpoint!("write_atomic::write");
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        failpoint!("write_atomic::fsync");
        file.sync_all()?;
        drop(file);
        failpoint!("write_atomic::rename");
        persist(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Replaces `path` atomically but not durably: temp file in the same folder,
/// rename, no fsync. For snapshots that are rewritten several times a second
/// and worthless after a crash (live progress): readers still see the old or
/// the new content, never a mix.
pub fn write_replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Renames a finished, fsynced temp file to `dest` (creating its folder) and
/// makes the rename durable. The rename is the commit point: readers see the
/// whole file or nothing.
pub fn persist(temp: &Path, dest: &Path) -> io::Result<()> {
    persist_with(temp, dest, Durability::Each)
}

/// [`persist`], leaving the folder's fsync to the caller's batch sync when
/// `durability` is [`Durability::Batched`].
pub fn persist_with(temp: &Path, dest: &Path, durability: Durability) -> io::Result<()> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs_err::create_dir_all(dir)?;
    fs_err::rename(temp, dest)?;
    match durability {
        Durability::Each => fsync_dir(dir),
        Durability::Batched => Ok(()),
    }
}

/// Whether `meta` (from `symlink_metadata`) is a regular file with a single
/// name: what the engine creates itself. A symlink, or a hard link to a file
/// elsewhere, planted where the engine keeps its own data is not, and must
/// never be written through.
pub fn is_own_file(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.is_file() && meta.nlink() == 1
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Opens an engine-owned file for reading and writing without ever
/// following a link planted at `path`: a missing file is created exclusively
/// (`O_EXCL` refuses any existing name, a dangling symlink included); a name
/// that is not [`is_own_file`] is removed first; an existing file must still
/// be the inode that was checked once it is open.
pub fn open_own_file(path: &Path) -> io::Result<File> {
    let create = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    };
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return create(),
        Err(e) => return Err(e),
        Ok(meta) => meta,
    };
    if !is_own_file(&meta) {
        fs::remove_file(path)?;
        return create();
    }
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    if !same_inode(&meta, &file.metadata()?) {
        return Err(io::Error::other(format!(
            "{} was replaced while being opened",
            path.display()
        )));
    }
    Ok(file)
}

fn same_inode(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        true
    }
}

/// Replaces an engine-owned small file (never writing through a link).
pub fn write_own_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    remove_file_if_exists(path)?;
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)
}

/// Removes the temporary files [`write_atomic`] and the `current` swap leave
/// in `dir` when their process dies before the rename (`.NAME.tmp-PID`).
/// Only for folders whose writers hold a lock the caller holds too.
pub fn remove_stale_temps(dir: &Path) -> io::Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp-") && !entry.file_type()?.is_dir() {
            remove_file_if_exists(&entry.path())?;
        }
    }
    Ok(())
}

/// Makes a file read-only (a release file must not be edited in place).
pub fn set_readonly(path: &Path) -> io::Result<()> {
    let mut perms = fs::symlink_metadata(path)?.permissions();
    perms.set_readonly(true);
    fs::set_permissions(path, perms)
}

/// Removes a file; a file already gone is fine.
pub fn remove_file_if_exists(path: &Path) -> io::Result<()> {
    failpoint!("remove_file");
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Removes a folder tree without following symlinks; a tree already gone is fine.
pub fn remove_tree_if_exists(path: &Path) -> io::Result<()> {
    failpoint!("remove_tree");
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        // A symlink planted where a folder is expected is removed, never followed.
        Ok(meta) if !meta.is_dir() => fs::remove_file(path),
        Ok(_) => fs::remove_dir_all(path),
    }
}

/// Creates a folder and its parents, refusing to pass through a symlink.
pub fn create_dir_all_no_symlinks(base: &Path, rel: &Path) -> io::Result<()> {
    let mut dir = base.to_owned();
    for part in rel.components() {
        dir.push(part);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let meta = fs::symlink_metadata(&dir)?;
                if !meta.is_dir() {
                    return Err(io::Error::other(format!(
                        "{} exists and is not a folder (a symlink is never followed)",
                        dir.display()
                    )));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
