//! The plan of an update: a pure, deterministic diff of what is installed and
//! stored against a verified manifest.
//!
//! Content is keyed by SHA-256: a file is reused when its content is already in
//! the local store, whatever path or tool it came with; fetched otherwise. A
//! content listed under several paths is fetched once.

use std::collections::BTreeSet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::manifest::{FileEntry, Manifest};
use crate::signing::VerifiedManifest;

/// One file of the new release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    /// Path inside the release.
    pub path: String,
    /// Expected SHA-256 (lowercase hex).
    pub sha256: String,
    /// Expected size.
    pub size: u64,
    /// The manifest's fallback URL, if any.
    pub url: Option<String>,
    /// The file's chunk index, when the publisher made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<crate::manifest::ChunksRef>,
}

impl From<&FileEntry> for PlannedFile {
    fn from(f: &FileEntry) -> Self {
        Self {
            path: f.path.clone(),
            sha256: f.sha256.clone(),
            size: f.size,
            url: f.url.clone(),
            chunks: f.chunks.clone(),
        }
    }
}

/// What an update does: every list sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Files whose content is already in the local store (not fetched), as
    /// positions in the new manifest's `files`: a one-file update of a
    /// 100,000-file tool reuses almost all of them, and copies of their
    /// entries would double the manifest in memory.
    pub reuse: Vec<u32>,
    /// The summed size of the reused files.
    pub reused_bytes: u64,
    /// Files whose content must be fetched.
    pub fetch: Vec<PlannedFile>,
    /// Paths of the active release that the new one no longer lists.
    pub remove: Vec<String>,
}

impl Plan {
    /// Diffs `new` against the active release's manifest (`old`) and the store;
    /// `in_store(sha256, size)` answers whether that content is stored.
    pub fn new(
        old: Option<&Manifest>,
        new: &VerifiedManifest,
        in_store: impl Fn(&str, u64) -> bool + Sync,
    ) -> Self {
        let old_files = old.map_or(&[][..], |m| &m.files[..]);
        Self::from_files(old_files, &new.manifest().files, in_store)
    }

    /// The diff over plain file lists (both sorted by path, as manifests are).
    pub fn from_files(
        old: &[FileEntry],
        new: &[FileEntry],
        in_store: impl Fn(&str, u64) -> bool + Sync,
    ) -> Self {
        // One `lstat` per file: on both cores for a tool of many files.
        let stored: Vec<bool> = new
            .par_iter()
            .map(|f| in_store(&f.sha256, f.size))
            .collect();
        let (mut reuse, mut fetch, mut reused_bytes) = (Vec::new(), Vec::new(), 0);
        for (i, f) in new.iter().enumerate() {
            if stored[i] {
                reuse.push(u32::try_from(i).expect("a manifest lists fewer than 2^32 files"));
                reused_bytes += f.size;
            } else {
                fetch.push(PlannedFile::from(f));
            }
        }
        let listed = |p: &str| {
            new.binary_search_by(|f| f.path.as_bytes().cmp(p.as_bytes()))
                .is_ok()
        };
        let remove = old
            .iter()
            .filter(|f| !listed(&f.path))
            .map(|f| f.path.clone())
            .collect();
        Self {
            reuse,
            reused_bytes,
            fetch,
            remove,
        }
    }

    /// The distinct contents to fetch (first path of each), sorted by path.
    pub fn objects_to_fetch(&self) -> Vec<&PlannedFile> {
        let mut seen = BTreeSet::new();
        self.fetch
            .iter()
            .filter(|f| seen.insert(f.sha256.as_str()))
            .collect()
    }

    /// Bytes to download (each distinct content once), before any resume.
    pub fn bytes_to_fetch(&self) -> u64 {
        self.objects_to_fetch().iter().map(|f| f.size).sum()
    }

    /// Sizes of the files not fetched because their content is present.
    pub fn bytes_saved(&self) -> u64 {
        self.reused_bytes
    }

    /// Whether nothing needs fetching.
    pub fn is_fetch_free(&self) -> bool {
        self.fetch.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: char, size: u64) -> FileEntry {
        FileEntry {
            path: path.to_owned(),
            sha256: content.to_string().repeat(64),
            size,
            url: None,
            chunks: None,
            extra: std::collections::BTreeMap::new(),
        }
    }

    fn paths(files: &[PlannedFile]) -> Vec<&str> {
        files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn first_install_fetches_everything_and_saves_nothing() {
        let new = [entry("a", 'a', 3), entry("b", 'b', 5)];
        let plan = Plan::from_files(&[], &new, |_, _| false);
        assert_eq!(paths(&plan.fetch), ["a", "b"]);
        assert!(plan.reuse.is_empty() && plan.remove.is_empty());
        assert_eq!((plan.bytes_to_fetch(), plan.bytes_saved()), (8, 0));
    }

    #[test]
    fn one_changed_file_is_the_only_fetch() {
        let old = [entry("a", 'a', 3), entry("b", 'b', 5)];
        let new = [entry("a", 'a', 3), entry("b", 'c', 7)];
        let stored = ['a', 'b'];
        let plan = Plan::from_files(&old, &new, |h, _| stored.iter().any(|c| h.starts_with(*c)));
        assert_eq!(paths(&plan.fetch), ["b"]);
        assert_eq!(plan.reuse, [0]);
        assert_eq!((plan.bytes_to_fetch(), plan.bytes_saved()), (7, 3));
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn deleted_and_added_files_are_removed_and_fetched() {
        let old = [entry("a", 'a', 3), entry("b", 'b', 5)];
        let new = [entry("a", 'a', 3), entry("c", 'c', 9)];
        let plan = Plan::from_files(&old, &new, |h, _| h.starts_with('a') || h.starts_with('b'));
        assert_eq!(plan.remove, ["b"]);
        assert_eq!(paths(&plan.fetch), ["c"]);
        assert_eq!(plan.bytes_saved(), 3);
    }

    #[test]
    fn content_present_under_another_path_or_tool_is_reused() {
        let new = [entry("models/renamed.gguf", 'm', 4_000_000_000)];
        let plan = Plan::from_files(&[], &new, |h, _| h.starts_with('m'));
        assert!(plan.fetch.is_empty());
        assert_eq!(plan.bytes_saved(), 4_000_000_000);
    }

    #[test]
    fn duplicate_content_is_fetched_once() {
        let new = [entry("x", 'd', 10), entry("y", 'd', 10), entry("z", 'e', 1)];
        let plan = Plan::from_files(&[], &new, |_, _| false);
        assert_eq!(plan.fetch.len(), 3);
        assert_eq!(
            paths(
                &plan
                    .objects_to_fetch()
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>()
            ),
            ["x", "z"]
        );
        assert_eq!(plan.bytes_to_fetch(), 11);
    }

    #[test]
    fn a_file_whose_content_left_the_store_is_fetched_even_if_the_old_release_listed_it() {
        let old = [entry("a", 'a', 3)];
        let new = [entry("a", 'a', 3)];
        let plan = Plan::from_files(&old, &new, |_, _| false);
        assert_eq!(paths(&plan.fetch), ["a"]);
    }
}
