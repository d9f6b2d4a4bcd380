//! The store's own filesystem helpers: unique temp files in its scratch
//! folder, and opening files strictly inside the store. The atomic write and
//! the durable rename are the core's (`tooldelta_core::fs`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temp file path inside `tmp_dir` (same filesystem as the store, so
/// the final rename is atomic).
pub(crate) fn temp_path(tmp_dir: &Path, hint: &str) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    tmp_dir.join(format!("{hint}.{}.{n}.tmp", std::process::id()))
}

/// Creates a new temp file that nobody else can be writing.
pub(crate) fn create_temp(tmp_dir: &Path, hint: &str) -> io::Result<(File, PathBuf)> {
    let path = temp_path(tmp_dir, hint);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&path)?;
    Ok((file, path))
}

/// Opens `root/relative` for reading only if it is a regular file whose real
/// path stays under `root` (no symlink anywhere on the way out of the store).
/// `root` must already be canonical. `Ok(None)` means "not there".
pub(crate) fn open_inside(root: &Path, relative: &Path) -> io::Result<Option<(File, u64)>> {
    let full = root.join(relative);
    let resolved = match std::fs::canonicalize(&full) {
        Ok(resolved) => resolved,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // A symlink anywhere on the path changes the canonical form: refuse it,
    // even when it points back into the store, so the rule stays simple.
    if resolved != full || !resolved.starts_with(root) {
        tracing::warn!(path = %full.display(), resolved = %resolved.display(), "refusing a path that leaves the store or goes through a symlink");
        return Ok(None);
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&resolved)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // ELOOP: the last component became a symlink after canonicalize.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some((file, meta.len())))
}

/// Whether `path` is a regular file (not following a final symlink).
pub(crate) fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}
