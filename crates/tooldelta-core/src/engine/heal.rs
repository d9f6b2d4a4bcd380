//! Bringing any release of a tool (active or kept) back to its manifest,
//! from the local store first and a mirror second. Repair and rollback both
//! use it: a rollback never activates a release that does not verify.
//!
//! Nothing is written in place: a bad file is replaced by a new directory
//! entry (link or copy under a temporary name, then rename over the path), so
//! a file that another release still shares keeps its inode until that
//! release is healed too.
//!
//! An in-place edit of a hard-linked file changes every release and the store
//! object that share its inode. [`sharers`] finds them (same device and inode,
//! listed with the same content), so one repair heals all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::env::Env;
use super::installed::read_manifest;
use super::session::Session;
use crate::activate::{self, Linker};
use crate::diff::{Plan, PlannedFile};
use crate::error::UpdateError;
use crate::fetch::Fetched;
use crate::fs::{create_dir_all_no_symlinks, fsync_dir, remove_tree_if_exists};
use crate::hash::hash_file;
use crate::manifest::Manifest;
use crate::report::{FileCheck, FileStatus};
use crate::store::Store;
use crate::verify::verify_release;

/// What a release needs to match its manifest again.
#[derive(Debug, Default)]
pub(crate) struct Damage {
    /// Listed files that are modified or missing.
    pub bad: Vec<PlannedFile>,
    /// Files the manifest does not list.
    pub extra: Vec<String>,
}

impl Damage {
    /// Sorts the checks of one release into what must be put back and removed.
    pub fn from_checks(manifest: &Manifest, checks: &[FileCheck]) -> Self {
        let bad = checks
            .iter()
            .filter(|c| matches!(c.status, FileStatus::Modified | FileStatus::Missing))
            .filter_map(|c| manifest.file(&c.path))
            .map(PlannedFile::from)
            .collect();
        let extra = checks
            .iter()
            .filter(|c| c.status == FileStatus::Extra)
            .map(|c| c.path.clone())
            .collect();
        Self { bad, extra }
    }

    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.bad.is_empty() && self.extra.is_empty()
    }

    /// The paths of the bad files.
    pub fn bad_paths(&self) -> Vec<String> {
        self.bad.iter().map(|f| f.path.clone()).collect()
    }
}

/// Re-hashes every file of `dir` against `manifest` (off the async runtime).
/// Still `async` for its callers: the work moves off the runtime's worker
/// in place rather than to a task that would need its own manifest copy.
#[allow(clippy::unused_async)]
pub(crate) async fn check_release(
    tool_id: &str,
    dir: &Path,
    manifest: &Manifest,
) -> Result<Vec<FileCheck>, UpdateError> {
    crate::verify::off_runtime(|| verify_release(dir, manifest))
        .map_err(UpdateError::io(tool_id, "verify", dir))
}

/// Makes sure the store holds a good object for every bad file: objects that
/// no longer hash right are dropped (an in-place edit of a hard link edits
/// the store too), and the missing ones are fetched from the mirrors. Without
/// a mirror, or when none can serve, the release cannot be healed: the error
/// names its files. A large file damaged in place (`release` still holds it)
/// costs only its damaged chunks. Returns how many objects were fetched, and
/// their bytes.
pub(crate) async fn ensure_objects(
    session: &Session<'_>,
    version: &str,
    release: &Path,
    damage: &Damage,
) -> Result<(u64, Fetched), UpdateError> {
    drop_corrupt_objects(&session.store, &damage.bad).await;
    let plan = Plan {
        reuse: Vec::new(),
        reused_bytes: 0,
        fetch: damage
            .bad
            .iter()
            .filter(|f| !session.store.contains(&f.sha256, f.size))
            .cloned()
            .collect(),
        remove: Vec::new(),
    };
    if plan.fetch.is_empty() {
        return Ok((0, Fetched::default()));
    }
    let no_good_copy = |cause| UpdateError::NoGoodCopy {
        tool_id: session.tool_id.to_owned(),
        version: version.to_owned(),
        files: plan.fetch.iter().map(|f| f.path.clone()).collect(),
        cause,
    };
    if session.env.config.mirrors.is_empty() {
        return Err(no_good_copy(None));
    }
    session
        .fetch_repair(&plan, version, release)
        .await
        .map(|fetched| (plan.fetch.len() as u64, fetched))
        .map_err(|e| match e {
            UpdateError::Cancelled { .. } => e,
            other => no_good_copy(Some(Box::new(other))),
        })
}

/// A store object hard-linked to a file edited in place is edited too:
/// re-hash the objects of the bad files and drop those that no longer match.
async fn drop_corrupt_objects(store: &Store, files: &[PlannedFile]) {
    let store = store.clone();
    let files = files.to_vec();
    let _ = tokio::task::spawn_blocking(move || {
        for f in &files {
            if !store.contains(&f.sha256, f.size) {
                continue;
            }
            let path = store.object_path(&f.sha256);
            let good = hash_file(&path).is_ok_and(|d| d.sha256 == f.sha256 && d.size == f.size);
            if !good {
                let _ = store.remove_object(&f.sha256);
            }
        }
    })
    .await;
}

/// Puts each bad file of `release` back from the store as a new directory
/// entry and removes the extras.
pub(crate) async fn replace_files(
    release: &Path,
    store: &Store,
    damage: &Damage,
) -> std::io::Result<()> {
    let release = release.to_owned();
    let store = store.clone();
    let bad = damage.bad.clone();
    let extra = damage.extra.clone();
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
    create_dir_all_no_symlinks(release, rel.parent().unwrap_or(Path::new("")))?;
    let dst = release.join(rel);
    let parent = dst
        .parent()
        .expect("a release file has a parent")
        .to_owned();
    let name = rel.file_name().expect("a release file has a name");
    let tmp: PathBuf = parent.join(format!(
        ".{}.repair-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
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

/// The inode of a damaged file whose content other paths may share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Inode {
    dev: u64,
    ino: u64,
}

/// The damaged regular files of `release` whose inode has other links
/// (hard links from the store, kept releases or other tools), keyed by the
/// content the manifest lists for them.
pub(crate) fn shared_inodes(release: &Path, damage: &Damage) -> BTreeMap<String, BTreeSet<Inode>> {
    let mut out: BTreeMap<String, BTreeSet<Inode>> = BTreeMap::new();
    for f in &damage.bad {
        let Ok(meta) = std::fs::symlink_metadata(release.join(&f.path)) else {
            continue;
        };
        if meta.is_file() && meta.nlink() > 1 {
            out.entry(f.sha256.clone()).or_default().insert(Inode {
                dev: meta.dev(),
                ino: meta.ino(),
            });
        }
    }
    out
}

/// Every file of every kept release of every tool (but `skip`) that is one
/// of the `damaged` inodes, grouped by release folder with what to put back.
pub(crate) fn sharers(
    env: &Env,
    damaged: &BTreeMap<String, BTreeSet<Inode>>,
    skip: (&str, &str),
) -> BTreeMap<(String, String), Damage> {
    let mut out: BTreeMap<(String, String), Damage> = BTreeMap::new();
    if damaged.is_empty() {
        return out;
    }
    let layout = &env.layout;
    let Ok(tools) = std::fs::read_dir(layout.tools_dir()) else {
        return out;
    };
    for tool in tools.filter_map(Result::ok) {
        let Some(tool_id) = tool.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        for version in activate::kept_releases(layout, &tool_id).unwrap_or_default() {
            if (tool_id.as_str(), version.as_str()) == skip {
                continue;
            }
            let Ok(manifest) = read_manifest(env, &tool_id, &version) else {
                continue;
            };
            let dir = layout.release_dir(&tool_id, &version);
            for file in &manifest.manifest.files {
                let Some(inodes) = damaged.get(&file.sha256) else {
                    continue;
                };
                let Ok(meta) = std::fs::symlink_metadata(dir.join(&file.path)) else {
                    continue;
                };
                let inode = Inode {
                    dev: meta.dev(),
                    ino: meta.ino(),
                };
                if inodes.contains(&inode) {
                    out.entry((tool_id.clone(), version.clone()))
                        .or_default()
                        .bad
                        .push(PlannedFile::from(file));
                }
            }
        }
    }
    out
}
