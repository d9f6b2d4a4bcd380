//! Re-verification of an installed release against its manifest: every
//! listed file re-hashed (in parallel, bounded buffers), every unlisted file
//! reported as extra. Symlinks are never followed.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use rayon::prelude::*;

use crate::hash::hash_file;
use crate::manifest::{FileEntry, Manifest};
use crate::report::{FileCheck, FileStatus};

/// Checks every file of `manifest` under `dir`, plus extras; sorted by path.
/// Files are hashed on rayon's pool (one thread per core), each streamed
/// through one fixed buffer.
pub fn verify_release(dir: &Path, manifest: &Manifest) -> io::Result<Vec<FileCheck>> {
    let mut checks: Vec<FileCheck> = manifest
        .files
        .par_iter()
        .map(|f| check_listed(dir, f))
        .collect::<io::Result<_>>()?;
    let files = &manifest.files;
    // A verified manifest is sorted by path: a binary search needs no set
    // of 100,000 paths beside it.
    let sorted = files.is_sorted_by(|a, b| a.path.as_bytes() < b.path.as_bytes());
    let set: BTreeSet<&str> = if sorted {
        BTreeSet::new()
    } else {
        files.iter().map(|f| f.path.as_str()).collect()
    };
    let listed = |rel: &str| {
        if sorted {
            files
                .binary_search_by(|f| f.path.as_bytes().cmp(rel.as_bytes()))
                .is_ok()
        } else {
            set.contains(rel)
        }
    };
    checks.extend(find_extras(dir, listed)?);
    checks.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(checks)
}

/// Runs blocking file work from async code without moving its inputs to
/// another thread (`spawn_blocking` needs owned data: a copy of a
/// 100,000-file manifest): on a multi-thread runtime the worker hands its
/// other tasks on first; elsewhere (a current-thread test runtime, or no
/// runtime) it simply runs.
pub fn off_runtime<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

fn check_listed(dir: &Path, file: &FileEntry) -> io::Result<FileCheck> {
    let path = dir.join(&file.path);
    let mut check = FileCheck {
        path: file.path.clone(),
        status: FileStatus::Missing,
        expected_sha256: Some(file.sha256.clone()),
        actual_sha256: None,
        expected_size: Some(file.size),
        actual_size: None,
        shared_links: None,
    };
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(check),
        // A path through a deleted or replaced folder (ENOTDIR) is missing too.
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Ok(check),
        Err(e) => return Err(e),
    };
    check.status = FileStatus::Modified;
    if !meta.is_file() {
        // A symlink or folder where a file belongs is never followed.
        return Ok(check);
    }
    let digest = hash_file(&path)?;
    if digest.sha256 == file.sha256 && digest.size == file.size {
        check.status = FileStatus::Ok;
    } else if meta.nlink() > 1 {
        check.shared_links = Some(meta.nlink() - 1);
    }
    check.actual_sha256 = Some(digest.sha256);
    check.actual_size = Some(digest.size);
    Ok(check)
}

fn find_extras(dir: &Path, listed: impl Fn(&str) -> bool) -> io::Result<Vec<FileCheck>> {
    let mut extras = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false).min_depth(1) {
        let entry = entry.map_err(io::Error::other)?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .expect("walkdir stays under its root");
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if listed(&rel) {
            continue;
        }
        let (sha, size) = if entry.file_type().is_file() {
            let d = hash_file(entry.path())?;
            (Some(d.sha256), Some(d.size))
        } else {
            (None, None)
        };
        extras.push(FileCheck {
            path: rel,
            status: FileStatus::Extra,
            expected_sha256: None,
            actual_sha256: sha,
            expected_size: None,
            actual_size: size,
            shared_links: None,
        });
    }
    Ok(extras)
}

/// Whether every check is `ok`.
pub fn all_ok(checks: &[FileCheck]) -> bool {
    checks.iter().all(|c| c.status == FileStatus::Ok)
}
