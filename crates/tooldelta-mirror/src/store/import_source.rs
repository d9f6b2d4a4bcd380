//! The tool folder's side of `import`: opening a listed file without
//! following links, hashing it, and comparing with the manifest.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tooldelta_core::hash::{HASH_BUF_SIZE, HashingReader};
use tooldelta_core::manifest::FileEntry;

use super::ImportError;

/// Opens a listed file of the tool folder; refuses symlinks and non-files.
pub(super) fn open_source(
    tool_id: &str,
    tool_dir: &Path,
    entry: &FileEntry,
) -> Result<(File, PathBuf), ImportError> {
    let path = tool_dir.join(&entry.path);
    let bad = |problem| ImportError::BadSourceFile {
        tool_id: tool_id.to_owned(),
        path: entry.path.clone(),
        file: path.clone(),
        problem,
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(bad("missing")),
        Err(source) => {
            return Err(ImportError::Io {
                tool_id: tool_id.to_owned(),
                path,
                source,
            });
        }
    };
    if meta.file_type().is_symlink() {
        return Err(bad("a symlink (a release holds regular files only)"));
    }
    if !meta.is_file() {
        return Err(bad("not a regular file"));
    }
    let file = File::open(&path).map_err(|source| ImportError::Io {
        tool_id: tool_id.to_owned(),
        path: path.clone(),
        source,
    })?;
    Ok((file, path))
}

/// Hashes a source file whose content is already stored.
pub(super) fn check_source(
    tool_id: &str,
    entry: &FileEntry,
    (file, path): (File, PathBuf),
) -> Result<(), ImportError> {
    let mut reader = HashingReader::new(file);
    copy(&mut reader, &mut io::sink()).map_err(|source| ImportError::Io {
        tool_id: tool_id.to_owned(),
        path,
        source,
    })?;
    let digest = reader.finish();
    compare(tool_id, entry, &digest.sha256, digest.size)
}

pub(super) fn compare(
    tool_id: &str,
    entry: &FileEntry,
    sha256: &str,
    size: u64,
) -> Result<(), ImportError> {
    if sha256 == entry.sha256 && size == entry.size {
        return Ok(());
    }
    Err(ImportError::FileMismatch {
        tool_id: tool_id.to_owned(),
        path: entry.path.clone(),
        expected_sha256: entry.sha256.clone(),
        actual_sha256: sha256.to_owned(),
        expected_size: entry.size,
        actual_size: size,
    })
}

/// A copy loop with a large buffer (the writers hash, so no copy_file_range).
pub(super) fn copy(mut reader: impl Read, writer: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0; HASH_BUF_SIZE];
    let mut total = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        total += n as u64;
    }
}
