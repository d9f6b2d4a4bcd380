//! `verify` and `repair` of the active release.
//!
//! Repair never writes a file in place: a release file may be a hard link to
//! the store object and to the same file in other kept releases. A bad file is
//! replaced by a new directory entry (link or copy under a temporary name,
//! then rename over the path), so other releases keep their inodes untouched.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::env::Env;
use super::installed::Installed;
use super::session::Session;
use crate::activate::Linker;
use crate::diff::{Plan, PlannedFile};
use crate::error::UpdateError;
use crate::events::{Event, Phase, Reporter};
use crate::fs::{create_dir_all_no_symlinks, fsync_dir, remove_tree_if_exists};
use crate::hash::hash_file;
use crate::report::{FileCheck, FileStatus, RepairReport, VerifyReport};
use crate::signing::{SignatureStatus, TrustError};
use crate::store::Store;
use crate::verify::{all_ok, verify_release};

async fn check_files(
    env: &Env,
    tool_id: &str,
    installed: &Installed,
) -> Result<Vec<FileCheck>, UpdateError> {
    let dir = env.layout.release_dir(tool_id, &installed.version);
    let manifest = installed.manifest.clone();
    let dir2 = dir.clone();
    tokio::task::spawn_blocking(move || verify_release(&dir2, &manifest))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(UpdateError::io(tool_id, "verify", &dir))
}

fn emit_checks(tool_id: &str, checks: &[FileCheck], reporter: &dyn Reporter) {
    for c in checks.iter().filter(|c| c.status == FileStatus::Ok) {
        reporter.report(&Event::FileVerified {
            tool_id: tool_id.to_owned(),
            path: c.path.clone(),
        });
    }
}

pub(super) async fn verify(
    env: &Env,
    tool_id: &str,
    reporter: &dyn Reporter,
) -> Result<VerifyReport, UpdateError> {
    let installed = Installed::require(env, tool_id)?;
    reporter.report(&Event::Phase {
        tool_id: tool_id.to_owned(),
        phase: Phase::Verify,
    });
    let files = check_files(env, tool_id, &installed).await?;
    emit_checks(tool_id, &files, reporter);
    Ok(VerifyReport {
        tool_id: tool_id.to_owned(),
        version: installed.version,
        ok: all_ok(&files),
        files,
    })
}

pub(super) async fn run(
    env: &Env,
    tool_id: &str,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Result<RepairReport, UpdateError> {
    let started = Instant::now();
    let session = Session::open(env, tool_id, reporter, cancel).await?;
    let installed = Installed::require(env, tool_id)?;
    check_stored_signature(env, tool_id, &installed)?;
    session.phase(Phase::Verify);
    let before = check_files(env, tool_id, &installed).await?;
    let bad: Vec<&FileCheck> = before
        .iter()
        .filter(|c| matches!(c.status, FileStatus::Modified | FileStatus::Missing))
        .collect();
    let extra: Vec<&FileCheck> = before
        .iter()
        .filter(|c| c.status == FileStatus::Extra)
        .collect();

    session.phase(Phase::Repair);
    let bad_files: Vec<PlannedFile> = bad
        .iter()
        .filter_map(|c| installed.manifest.file(&c.path))
        .map(PlannedFile::from)
        .collect();
    let store = session.store.clone();
    drop_corrupt_objects(&store, &bad_files).await;
    let plan = Plan {
        reuse: Vec::new(),
        fetch: bad_files
            .iter()
            .filter(|f| !store.contains(&f.sha256, f.size))
            .cloned()
            .collect(),
        remove: Vec::new(),
    };
    let gc_guard = session.gc_guard().await?;
    let totals = session
        .fetch_all(&plan, &installed.manifest.tool_version, None)
        .await?;
    let release = env.layout.release_dir(tool_id, &installed.version);
    replace_files(&release, &store, &bad_files, &extra)
        .await
        .map_err(UpdateError::io(tool_id, "repair", &release))?;
    drop(gc_guard);

    let after = check_files(env, tool_id, &installed).await?;
    emit_checks(tool_id, &after, reporter);
    let verify = VerifyReport {
        tool_id: tool_id.to_owned(),
        version: installed.version.clone(),
        ok: all_ok(&after),
        files: after,
    };
    Ok(RepairReport {
        tool_id: tool_id.to_owned(),
        version: installed.version,
        files_repaired: bad.iter().map(|c| c.path.clone()).collect(),
        files_removed: extra.iter().map(|c| c.path.clone()).collect(),
        files_downloaded: plan.fetch.len() as u64,
        bytes_downloaded: totals.downloaded,
        bytes_resumed: totals.resumed,
        verify,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// With trusted keys configured, the stored manifest must still carry a valid
/// signature: repair fetches by its hashes, so they must be HQ's.
fn check_stored_signature(
    env: &Env,
    tool_id: &str,
    installed: &Installed,
) -> Result<(), UpdateError> {
    if env.config.trust.is_empty() {
        return Ok(());
    }
    let check = installed.signature(&env.config.trust);
    if check.status == SignatureStatus::Valid {
        return Ok(());
    }
    Err(UpdateError::from(TrustError::Signature {
        tool_id: tool_id.to_owned(),
        status: check.status,
        public_key_id: check.public_key_id,
    }))
}

/// A store object hard-linked to a file edited in place is edited too:
/// re-hash the objects of the bad files and drop those that no longer match.
async fn drop_corrupt_objects(store: &Store, files: &[PlannedFile]) {
    let store = store.clone();
    let files = files.to_vec();
    let _ = tokio::task::spawn_blocking(move || {
        for f in &files {
            let path = store.object_path(&f.sha256);
            if !store.contains(&f.sha256, f.size) {
                continue;
            }
            let good = hash_file(&path).is_ok_and(|d| d.sha256 == f.sha256 && d.size == f.size);
            if !good {
                let _ = store.remove_object(&f.sha256);
            }
        }
    })
    .await;
}

/// Puts each bad file back as a new directory entry and removes extras.
async fn replace_files(
    release: &Path,
    store: &Store,
    bad: &[PlannedFile],
    extra: &[&FileCheck],
) -> std::io::Result<()> {
    let release = release.to_owned();
    let store = store.clone();
    let bad = bad.to_vec();
    let extra: Vec<String> = extra.iter().map(|c| c.path.clone()).collect();
    tokio::task::spawn_blocking(move || {
        let linker = Linker::default();
        for f in &bad {
            replace_one(&release, &store, &linker, f)?;
        }
        for path in &extra {
            let full = release.join(path);
            remove_tree_if_exists(&full)?;
            if let Some(parent) = full.parent() {
                fsync_dir(parent)?;
            }
        }
        remove_empty_dirs(&release)
    })
    .await
    .map_err(std::io::Error::other)?
}

fn replace_one(
    release: &Path,
    store: &Store,
    linker: &Linker,
    f: &PlannedFile,
) -> std::io::Result<()> {
    let rel = Path::new(&f.path);
    let parent_rel = rel.parent().unwrap_or(Path::new(""));
    create_dir_all_no_symlinks(release, parent_rel)?;
    let dst = release.join(rel);
    let parent = dst
        .parent()
        .expect("a release file has a parent")
        .to_owned();
    let name = rel
        .file_name()
        .expect("a release file has a name")
        .to_string_lossy();
    let tmp: PathBuf = parent.join(format!(".{name}.repair-{}", std::process::id()));
    remove_tree_if_exists(&tmp)?;
    linker.link_object(&store.object_path(&f.sha256), &tmp)?;
    // A folder planted where the file belongs cannot be renamed over: drop it.
    if std::fs::symlink_metadata(&dst).is_ok_and(|m| m.is_dir()) {
        remove_tree_if_exists(&dst)?;
    }
    std::fs::rename(&tmp, &dst)?;
    fsync_dir(&parent)
}

/// Folders left empty after removing extra files are not part of the release.
fn remove_empty_dirs(release: &Path) -> std::io::Result<()> {
    let dirs: Vec<PathBuf> = walkdir::WalkDir::new(release)
        .min_depth(1)
        .contents_first(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_dir())
        .map(walkdir::DirEntry::into_path)
        .collect();
    for dir in dirs {
        if std::fs::read_dir(&dir)?.next().is_none() {
            std::fs::remove_dir(&dir)?;
        }
    }
    Ok(())
}
