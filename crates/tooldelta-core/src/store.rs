//! The local content-addressed store: `objects/sha256/ab/<hex>`, read-only,
//! complete and verified; `.partial` downloads named by digest beside it; and
//! garbage collection of objects no kept release references.
//!
//! The store is shared by every tool under a root, so a 4 GB model that two
//! tools (or two versions) list is stored once and linked into each release.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fs::{Durability, failpoint, fsync_dir, remove_file_if_exists, set_readonly};
use crate::layout::Layout;

/// The object store of one root.
#[derive(Debug, Clone)]
pub struct Store {
    layout: Layout,
}

/// What a garbage collection removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Objects removed.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Store {
    /// The store under `layout`'s root.
    pub fn new(layout: &Layout) -> Self {
        Self {
            layout: layout.clone(),
        }
    }

    /// Creates the store's folders.
    pub fn ensure_dirs(&self) -> io::Result<()> {
        fs::create_dir_all(self.layout.objects_sha256_dir())?;
        fs::create_dir_all(self.layout.partial_dir())
    }

    /// Where the object with this SHA-256 lives (whether or not it exists).
    pub fn object_path(&self, sha256: &str) -> PathBuf {
        self.layout.object_path(sha256)
    }

    /// Whether a complete object of this content is stored (a cheap `lstat`:
    /// objects enter the store only after their hash was checked).
    pub fn contains(&self, sha256: &str, size: u64) -> bool {
        fs::symlink_metadata(self.object_path(sha256)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Bytes of an interrupted download of this content, if any.
    pub fn partial_len(&self, sha256: &str) -> u64 {
        // Only a partial this engine wrote counts: a planted link is not resume data.
        fs::symlink_metadata(self.layout.partial_path(sha256))
            .ok()
            .filter(crate::fs::is_own_file)
            .map_or(0, |m| m.len())
    }

    /// The `.partial` file of this content.
    pub fn partial_path(&self, sha256: &str) -> PathBuf {
        self.layout.partial_path(sha256)
    }

    /// The lock file that makes one updater at a time fetch this content
    /// (the store is shared by every tool under the root).
    pub fn fetch_lock_path(&self, sha256: &str) -> PathBuf {
        self.layout.partial_dir().join(format!("{sha256}.lock"))
    }

    /// The ETag file beside the partial.
    pub fn etag_path(&self, sha256: &str) -> PathBuf {
        self.layout.etag_path(sha256)
    }

    /// The `.segments` table of a segmented download's partial.
    pub fn segments_path(&self, sha256: &str) -> PathBuf {
        self.layout.segments_path(sha256)
    }

    /// Moves a complete, verified and fsynced partial into the store: read-only,
    /// rename, fsync the folder. After this the object is durable.
    pub fn persist(&self, sha256: &str) -> io::Result<PathBuf> {
        self.persist_with(sha256, Durability::Each)
    }

    /// [`Store::persist`]; with [`Durability::Batched`] the folder's fsync is
    /// left to the run's sync before its commit point (the object is named
    /// in the run's [`Journal`](crate::fs::Journal) until then).
    pub fn persist_with(&self, sha256: &str, durability: Durability) -> io::Result<PathBuf> {
        let partial = self.partial_path(sha256);
        let object = self.object_path(sha256);
        let dir = object.parent().expect("objects have a parent folder");
        fs::create_dir_all(dir)?;
        set_readonly(&partial)?;
        failpoint!("store::persist::rename");
        fs::rename(&partial, &object)?;
        if durability == Durability::Each {
            failpoint!("store::persist::fsync_dir");
            fsync_dir(dir)?;
        }
        remove_file_if_exists(&self.etag_path(sha256))?;
        Ok(object)
    }

    /// Puts content already verified in memory (a file cut from a pack) into
    /// the store: written under `incoming` (a folder on the store's file
    /// system private to the run), made read-only, renamed into place. No
    /// fsync: the run's journal names it until its one sync.
    pub fn put_verified(&self, sha256: &str, bytes: &[u8], incoming: &Path) -> io::Result<()> {
        use std::io::Write as _;
        let tmp = incoming.join(sha256);
        remove_file_if_exists(&tmp)?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        let mut perms = file.metadata()?.permissions();
        perms.set_readonly(true);
        file.set_permissions(perms)?;
        drop(file);
        let object = self.object_path(sha256);
        match fs::rename(&tmp, &object) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(object.parent().expect("objects have a parent folder"))?;
                fs::rename(&tmp, &object)
            }
            other => other,
        }
    }

    /// Drops a partial download and its ETag (after an integrity failure).
    pub fn discard_partial(&self, sha256: &str) -> io::Result<()> {
        remove_file_if_exists(&self.partial_path(sha256))?;
        remove_file_if_exists(&self.segments_path(sha256))?;
        remove_file_if_exists(&self.etag_path(sha256))
    }

    /// Removes a stored object (found corrupt by `repair`); the path goes, an
    /// inode hard-linked elsewhere is never written.
    pub fn remove_object(&self, sha256: &str) -> io::Result<()> {
        remove_file_if_exists(&self.object_path(sha256))
    }

    /// Free bytes on the file system holding the store.
    pub fn free_space(&self) -> io::Result<u64> {
        let probe = if self.layout.objects_dir().exists() {
            self.layout.objects_dir()
        } else {
            self.layout.root().to_owned()
        };
        Ok(fs4::statvfs(probe)?.available_space())
    }

    /// Removes every object whose digest is not in `keep`. Partials stay:
    /// they are the resume data of an interrupted run.
    pub fn gc(&self, keep: &BTreeSet<String>) -> io::Result<GcStats> {
        let mut stats = GcStats::default();
        let Ok(shards) = fs::read_dir(self.layout.objects_sha256_dir()) else {
            return Ok(stats);
        };
        for shard in shards {
            let shard = shard?.path();
            if !shard.is_dir() {
                continue;
            }
            for object in fs::read_dir(&shard)? {
                let object = object?;
                let name = object.file_name().to_string_lossy().into_owned();
                if keep.contains(&name) {
                    continue;
                }
                let len = object.metadata().map_or(0, |m| m.len());
                remove_file_if_exists(&object.path())?;
                stats.objects += 1;
                stats.bytes += len;
            }
        }
        Ok(stats)
    }
}

/// Every digest the manifests kept under `tools/*/manifests/` reference: the
/// set a garbage collection must keep.
pub fn referenced_objects(layout: &Layout) -> io::Result<BTreeSet<String>> {
    let mut keep = BTreeSet::new();
    let Ok(tools) = fs::read_dir(layout.tools_dir()) else {
        return Ok(keep);
    };
    for tool in tools {
        let manifests = tool?.path().join("manifests");
        let Ok(entries) = fs::read_dir(&manifests) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                add_manifest_objects(&path, &mut keep)?;
            }
        }
    }
    Ok(keep)
}

/// Just the digests of a stored manifest (it was verified when stored; GC
/// needs no hash or signature check, and skipping them keeps cleanup cheap).
#[derive(serde::Deserialize)]
struct Digests {
    files: Vec<Digest>,
}

#[derive(serde::Deserialize)]
struct Digest {
    sha256: String,
    /// The chunk index is kept with its object: the next update reads it.
    #[serde(default)]
    chunks: Option<crate::manifest::ChunksRef>,
}

fn add_manifest_objects(path: &Path, keep: &mut BTreeSet<String>) -> io::Result<()> {
    let bytes = fs::read(path)?;
    // A manifest that no longer parses keeps nothing alive; it was verified
    // when stored, so this only happens after local damage.
    if let Ok(m) = serde_json::from_slice::<Digests>(&bytes) {
        for f in m.files {
            keep.extend(f.chunks.map(|c| c.sha256));
            keep.insert(f.sha256);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_moves_a_partial_into_the_store_read_only_and_gc_removes_unreferenced() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let store = Store::new(&layout);
        store.ensure_dirs().unwrap();
        let data = b"hello";
        let sha = crate::hash::hash_bytes(data).sha256;
        fs::write(store.partial_path(&sha), data).unwrap();
        assert!(!store.contains(&sha, 5));
        let object = store.persist(&sha).unwrap();
        assert!(store.contains(&sha, 5));
        assert!(!store.contains(&sha, 6), "a size mismatch is not a hit");
        assert!(fs::metadata(&object).unwrap().permissions().readonly());
        assert_eq!(store.partial_len(&sha), 0);

        let kept = store.gc(&BTreeSet::from([sha.clone()])).unwrap();
        assert_eq!(kept, GcStats::default());
        let removed = store.gc(&BTreeSet::new()).unwrap();
        assert_eq!(
            removed,
            GcStats {
                objects: 1,
                bytes: 5
            }
        );
        assert!(!store.contains(&sha, 5));
    }
}
