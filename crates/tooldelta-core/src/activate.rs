//! Building a release from the store and switching `current` to it.
//!
//! A release folder is made of links to store objects: a reflink where the
//! file system has them (its own inode, shared blocks), else a hard link (the
//! store's inode, read-only) for large files, else a copy. Either way an
//! unchanged 4 GB model costs O(1). A file the active release already has
//! unchanged (and still read-only, as staged) is hard-linked from it, so a
//! one-file update of a 100,000-file tool writes one file's bytes. The caller
//! syncs the file system once before the swap, so after the commit point the
//! new release is complete on disk.
//!
//! The platform-specific steps are [`link_object`] and [`swap_current`]; see
//! the Windows plan in `docs/architecture.md`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::fs::{
    Durability, create_dir_all_no_symlinks, create_parent_dirs, failpoint, fsync_dir,
    remove_file_if_exists, remove_tree_if_exists, set_readonly,
};
use crate::layout::Layout;
use crate::manifest::Manifest;
use crate::store::Store;

/// Files smaller than this are staged as their own copy (a reflink where the
/// file system has them), never as a hard link to the store object. 1 MiB
/// holds every script and config a person edits by hand, while the models
/// that make up the bytes of a tool stay shared: copying the small files of
/// a typical tool costs milliseconds (measured in `make bench`).
pub const COPY_BELOW: u64 = 1 << 20;

/// How a release file was made from its store object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Copy-on-write clone (btrfs, XFS, APFS, ReFS): own inode, shared blocks.
    Reflink,
    /// Hard link to the store object: same (read-only) inode.
    Hardlink,
    /// A full copy (the store is on another file system, or links are refused).
    Copy,
}

/// Makes release files from store objects, remembering what the file system
/// refused so each file costs one system call.
#[derive(Debug, Default)]
pub struct Linker {
    no_reflink: AtomicBool,
    no_hardlink: AtomicBool,
    /// [`Durability::Batched`]: copies get no fsync of their own; the caller
    /// syncs the file system before its commit point.
    durability: Durability,
}

impl Linker {
    /// A linker whose copies wait for the caller's one sync (staging).
    pub fn batched() -> Self {
        Self {
            durability: Durability::Batched,
            ..Self::default()
        }
    }

    /// Places a new file at `dst` (which must not exist) with the content of
    /// `object`; never follows a symlink at `dst`.
    pub fn link_object(&self, object: &Path, dst: &Path) -> io::Result<LinkKind> {
        let size = fs::metadata(object)?.len();
        self.link_object_sized(object, size, dst)
    }

    /// [`Linker::link_object`] for an object of known `size` (from the manifest).
    pub fn link_object_sized(&self, object: &Path, size: u64, dst: &Path) -> io::Result<LinkKind> {
        failpoint!("activate::link");
        if !self.no_reflink.load(Ordering::Relaxed) {
            match reflink_copy::reflink(object, dst) {
                Ok(()) => {
                    set_readonly(dst)?;
                    if self.durability == Durability::Each {
                        File::open(dst)?.sync_all()?;
                    }
                    return Ok(LinkKind::Reflink);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
                Err(_) => self.no_reflink.store(true, Ordering::Relaxed),
            }
        }
        // Small files (scripts, configs: what people edit) are never hard
        // links to the store: an in-place edit of one must not reach the
        // store object, which stays the clean copy every repair and rollback
        // heals from. Large files keep O(1) reuse.
        if size >= COPY_BELOW && !self.no_hardlink.load(Ordering::Relaxed) {
            match fs::hard_link(object, dst) {
                Ok(()) => return Ok(LinkKind::Hardlink),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
                Err(_) => self.no_hardlink.store(true, Ordering::Relaxed),
            }
        }
        copy_new(object, dst, self.durability)?;
        Ok(LinkKind::Copy)
    }

    /// Hard-links the unchanged file `previous` of the active release to
    /// `dst`, when it is still as staged: a read-only regular file of the
    /// listed size. `false` when it is not (or the link is refused): the
    /// caller makes the file from the store instead.
    fn link_previous(&self, previous: &Path, size: u64, dst: &Path) -> io::Result<bool> {
        let Ok(meta) = fs::symlink_metadata(previous) else {
            return Ok(false);
        };
        if !meta.is_file() || meta.len() != size || !meta.permissions().readonly() {
            return Ok(false);
        }
        if self.no_hardlink.load(Ordering::Relaxed) {
            return Ok(false);
        }
        failpoint!("activate::link");
        match fs::hard_link(previous, dst) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            Err(_) => {
                self.no_hardlink.store(true, Ordering::Relaxed);
                Ok(false)
            }
        }
    }
}

/// Copies into a new file (`O_EXCL`: a planted symlink at `dst` is refused).
fn copy_new(src: &Path, dst: &Path, durability: Durability) -> io::Result<()> {
    let mut from = File::open(src)?;
    let mut to = OpenOptions::new().write(true).create_new(true).open(dst)?;
    io::copy(&mut from, &mut to)?;
    if durability == Durability::Each {
        to.sync_all()?;
    }
    drop(to);
    set_readonly(dst)
}

/// The active release a new one is staged beside: unchanged files are
/// hard-linked from it instead of made again from the store.
#[derive(Debug, Clone, Copy)]
pub struct Previous<'a> {
    /// Its folder, `releases/<version>/`.
    pub dir: &'a Path,
    /// Its manifest (files sorted by path, as the rules require).
    pub manifest: &'a Manifest,
}

impl Previous<'_> {
    /// The previous release's copy of `file`, when it lists the same
    /// content at the same path.
    fn unchanged(&self, file: &crate::manifest::FileEntry) -> Option<PathBuf> {
        let files = &self.manifest.files;
        let i = files
            .binary_search_by(|f| f.path.as_bytes().cmp(file.path.as_bytes()))
            .ok()?;
        let old = &files[i];
        (old.sha256 == file.sha256 && old.size == file.size).then(|| self.dir.join(&old.path))
    }
}

/// Builds `tools/<id>/staging/<version>/` from the store: every file of the
/// manifest, unchanged ones hard-linked from `previous`. Folders are made
/// level by level, files in parallel. Nothing is fsynced here: the caller
/// syncs the file system once before the release is moved into place (a
/// staging folder is never trusted: the next run removes it). Returns the
/// staging folder.
pub fn stage_release(
    layout: &Layout,
    store: &Store,
    linker: &Linker,
    tool_id: &str,
    version: &str,
    manifest: &Manifest,
    previous: Option<Previous<'_>>,
) -> io::Result<PathBuf> {
    let tool_dir = layout.tool_dir(tool_id);
    let rel = Path::new("staging").join(version);
    let stage = tool_dir.join(&rel);
    remove_tree_if_exists(&stage)?;
    create_dir_all_no_symlinks(&tool_dir, &rel)?;
    create_parent_dirs(&stage, manifest.files.iter().map(|f| f.path.as_str()))?;
    manifest.files.par_iter().try_for_each(|file| {
        let dst = stage.join(&file.path);
        if let Some(old) = previous.and_then(|p| p.unchanged(file))
            && linker.link_previous(&old, file.size, &dst)?
        {
            return Ok(());
        }
        linker
            .link_object_sized(&store.object_path(&file.sha256), file.size, &dst)
            .map(drop)
    })?;
    Ok(stage)
}

/// Moves a staged release to `releases/<version>/`, replacing a kept, inactive
/// copy of the same version.
pub fn install_release(
    layout: &Layout,
    tool_id: &str,
    version: &str,
    stage: &Path,
) -> io::Result<PathBuf> {
    let releases = layout.releases_dir(tool_id);
    fs::create_dir_all(&releases)?;
    let target = layout.release_dir(tool_id, version);
    remove_tree_if_exists(&target)?;
    failpoint!("activate::install_rename");
    fs::rename(stage, &target)?;
    fsync_dir(&releases)?;
    Ok(target)
}

/// Points `current` at `releases/<version>` atomically: a new relative symlink
/// under a temporary name, then rename over `current`.
pub fn swap_current(layout: &Layout, tool_id: &str, version: &str) -> io::Result<()> {
    let tool_dir = layout.tool_dir(tool_id);
    let tmp = tool_dir.join(format!(".current.tmp-{}", std::process::id()));
    remove_file_if_exists(&tmp)?;
    failpoint!("activate::symlink");
    make_dir_link(&Layout::current_target(version), &tmp)?;
    // COMMIT POINT: after this rename the new release is the active one; before
    // it, `current` still names the old release and nothing else changed it.
    if let Err(e) = rename_link(&tmp, &layout.current_link(tool_id)) {
        // No temporary link is left behind by a swap that did not happen.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Past the commit point the swap has happened: a failed fsync makes it
    // less durable, not undone, so it is logged rather than reported as a
    // failed switch (which would claim `current` is unchanged).
    if let Err(e) = sync_after_swap(&tool_dir) {
        tracing::warn!("{tool_id}: cannot fsync {}: {e}", tool_dir.display());
    }
    Ok(())
}

/// The commit point's rename (a fail point of its own).
fn rename_link(tmp: &Path, link: &Path) -> io::Result<()> {
    failpoint!("activate::swap_rename");
    fs::rename(tmp, link)
}

/// Makes the swap durable (a fail point of its own).
fn sync_after_swap(tool_dir: &Path) -> io::Result<()> {
    failpoint!("activate::swap_fsync");
    fsync_dir(tool_dir)
}

#[cfg(unix)]
fn make_dir_link(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn make_dir_link(target: &Path, link: &Path) -> io::Result<()> {
    // Needs Developer Mode or the symlink privilege; see the Windows plan.
    std::os::windows::fs::symlink_dir(target, link)
}

/// The active version: the folder name `current` points to, if it is a
/// `releases/<version>` link.
pub fn read_current(layout: &Layout, tool_id: &str) -> io::Result<Option<String>> {
    let target = match fs::read_link(layout.current_link(tool_id)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut parts = target.components();
    let ok = parts.next().is_some_and(|c| c.as_os_str() == "releases");
    let version = parts
        .next()
        .and_then(|c| c.as_os_str().to_str().map(str::to_owned));
    match (ok, version, parts.next()) {
        (true, Some(v), None) => Ok(Some(v)),
        _ => Err(io::Error::other(format!(
            "current points to {}, not to releases/<version>",
            target.display()
        ))),
    }
}

/// The versions kept in `releases/`.
pub fn kept_releases(layout: &Layout, tool_id: &str) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(layout.releases_dir(tool_id)) else {
        return Ok(out);
    };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(name) = entry.file_name().to_str() {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// Removes a release folder and its stored manifest.
pub fn remove_release(layout: &Layout, tool_id: &str, version: &str) -> io::Result<()> {
    failpoint!("activate::prune");
    // The manifest goes first: a release without a manifest is never chosen
    // for rollback, and its objects stop being referenced only once it is gone.
    remove_file_if_exists(&layout.manifest_path(tool_id, version))?;
    remove_tree_if_exists(&layout.release_dir(tool_id, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_is_a_relative_link_that_swaps_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        for v in ["1.0.0", "2.0.0"] {
            fs::create_dir_all(layout.release_dir("t", v)).unwrap();
        }
        assert_eq!(read_current(&layout, "t").unwrap(), None);
        swap_current(&layout, "t", "1.0.0").unwrap();
        swap_current(&layout, "t", "2.0.0").unwrap();
        assert_eq!(
            read_current(&layout, "t").unwrap().as_deref(),
            Some("2.0.0")
        );
        let target = fs::read_link(layout.current_link("t")).unwrap();
        assert!(target.is_relative(), "{}", target.display());
        assert!(layout.current_link("t").join(".").is_dir());
    }

    /// A store holding `data` and a manifest listing it at `path`.
    fn one_file(layout: &Layout, path: &str, data: &[u8]) -> (Store, Manifest) {
        let store = Store::new(layout);
        store.ensure_dirs().unwrap();
        let digest = crate::hash::hash_bytes(data);
        fs::write(store.partial_path(&digest.sha256), data).unwrap();
        store.persist(&digest.sha256).unwrap();
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "manifest_version": crate::manifest::MANIFEST_VERSION,
            "tool_id": "t",
            "tool_version": "1.0.0",
            "files": [{"path": path, "sha256": digest.sha256, "size": digest.size}],
        }))
        .unwrap();
        (store, manifest)
    }

    #[test]
    fn staging_builds_every_file_of_the_manifest_read_only_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let (store, manifest) = one_file(&layout, "sub/deeper/f.bin", b"payload");
        fs::create_dir_all(layout.tool_dir("t")).unwrap();
        let linker = Linker::default();
        let stage = stage_release(&layout, &store, &linker, "t", "1.0.0", &manifest, None).unwrap();
        let staged = stage.join("sub/deeper/f.bin");
        assert_eq!(fs::read(&staged).unwrap(), b"payload");
        assert!(fs::metadata(&staged).unwrap().permissions().readonly());
        let release = install_release(&layout, "t", "1.0.0", &stage).unwrap();
        assert_eq!(release, layout.release_dir("t", "1.0.0"));
        assert_eq!(
            fs::read(release.join("sub/deeper/f.bin")).unwrap(),
            b"payload"
        );
        assert!(!stage.exists());
    }

    #[test]
    fn staging_refuses_a_planted_symlinked_folder() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let (store, manifest) = one_file(&layout, "sub/f.bin", b"payload");
        // `staging/` planted as a link to a folder outside the install root.
        let outside = dir.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::create_dir_all(layout.tool_dir("t")).unwrap();
        std::os::unix::fs::symlink(&outside, layout.staging_dir("t")).unwrap();
        let linker = Linker::default();
        let err =
            stage_release(&layout, &store, &linker, "t", "1.0.0", &manifest, None).unwrap_err();
        assert!(err.to_string().contains("not a folder"), "{err}");
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "nothing written outside"
        );
    }

    #[test]
    fn a_link_never_writes_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("obj");
        fs::write(&object, b"data").unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let dst = dir.path().join("dst");
        std::os::unix::fs::symlink(&victim, &dst).unwrap();
        assert!(Linker::default().link_object(&object, &dst).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }
}
