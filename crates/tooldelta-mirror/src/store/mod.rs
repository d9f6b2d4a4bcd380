//! The content-addressed store on disk.
//!
//! ```text
//! STORE/blobs/sha256/ab/<hex>                     each content once, read-only
//! STORE/tools/<tool_id>/<version>/manifest.json   the signed bytes as published
//! STORE/app/<target>/<arch>/<version>.json        desktop-app releases (see `app`)
//! STORE/tmp/                                      temp files, same filesystem
//! ```
//!
//! Every path below is built from validated parts (tool ids, SemVer versions,
//! lowercase hex), never from raw request text, and every file is opened with
//! [`fsutil::open_inside`], which refuses symlinks and anything outside the root.

mod channels;
pub(crate) mod fsutil;
mod gc;
mod import;
mod import_chunks;
mod import_export;
mod import_packs;
mod import_source;
mod journal;

pub(crate) use import::check_manifest;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tooldelta_core::manifest::{
    ChunksRef, Manifest, is_sha256_hex, is_valid_tool_id, parse_version,
};

pub use channels::{ChannelImport, ChannelImportError};
pub use gc::{GC_GRACE, RemoveError, StoreGc, VersionRemoval};
pub use import::{ImportError, ImportOptions, ImportReport, ManifestOutcome};
pub use import_export::{BundleError, BundleReport};

/// Longest version text accepted in a route or folder name.
const MAX_VERSION_LEN: usize = 128;

/// A store that could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder could not be created or read; retrying helps only once the
    /// cause (permissions, disk) is fixed.
    #[error("store {root}: {source}")]
    Io {
        /// The store root.
        root: PathBuf,
        /// The cause, naming the path.
        #[source]
        source: io::Error,
    },
}

/// `{tool_id, versions, latest}`: the answer of `/api/v1/tools/{tool_id}` and
/// one entry of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ToolIndex {
    /// The tool.
    pub tool_id: String,
    /// Every stored version as published, in SemVer order (oldest first).
    pub versions: Vec<String>,
    /// The highest SemVer among `versions` without a pre-release tag; `null`
    /// when the tool has only pre-releases (a pre-release is never `latest`).
    pub latest: Option<String>,
}

/// Which version a route asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSel {
    /// The highest stored SemVer that is not a pre-release.
    Latest,
    /// One version (a leading `v` ignored when comparing).
    Exact(semver::Version),
}

impl VersionSel {
    /// Parses `latest` or a SemVer version from a route; `None` when invalid.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "latest" {
            return Some(Self::Latest);
        }
        if !is_version_text(text) {
            return None;
        }
        parse_version(text).ok().map(Self::Exact)
    }
}

/// Whether `text` is short and made only of the characters SemVer allows
/// (plus a leading `v`), so it is safe as one folder name.
pub fn is_version_text(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_VERSION_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
        && parse_version(text).is_ok()
}

/// A mirror's store folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let io_err = |source| StoreError::Io {
            root: root.to_owned(),
            source,
        };
        for sub in ["blobs/sha256", "tools", "tmp", "app"] {
            fs_err::create_dir_all(root.join(sub)).map_err(io_err)?;
        }
        let root = fs_err::canonicalize(root).map_err(io_err)?;
        let store = Self { root };
        store.recover_journals().map_err(io_err)?;
        Ok(store)
    }

    /// The canonical root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes temp files older than `age`: what an interrupted import or
    /// upstream fetch left behind (a live one keeps writing, so its file stays
    /// young). Returns how many were removed. `serve` calls it at start-up
    /// with a day, so a concurrent `import` is never disturbed.
    pub fn clean_temp(&self, age: std::time::Duration) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs_err::read_dir(self.tmp_dir())? {
            let entry = entry?;
            let meta = entry.metadata()?;
            let old = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|elapsed| elapsed > age);
            if meta.is_file() && old {
                fs_err::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Where temp files go (same filesystem as the store).
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `blobs/sha256/ab/<hex>` relative to the root. `hex` must be valid.
    pub fn blob_rel(hex: &str) -> PathBuf {
        debug_assert!(is_sha256_hex(hex));
        Path::new("blobs/sha256").join(&hex[..2]).join(hex)
    }

    /// The absolute path of a blob (which may not exist).
    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join(Self::blob_rel(hex))
    }

    /// Whether the blob is stored (as a regular file).
    pub fn has_blob(&self, hex: &str) -> bool {
        is_sha256_hex(hex) && fsutil::is_regular_file(&self.blob_path(hex))
    }

    /// Opens a blob for reading, with its size; `None` when absent or invalid.
    pub fn open_blob(&self, hex: &str) -> io::Result<Option<(File, u64)>> {
        if !is_sha256_hex(hex) {
            return Ok(None);
        }
        fsutil::open_inside(&self.root, &Self::blob_rel(hex))
    }

    /// `tools/<id>/<version>/manifest.json` relative to the root.
    fn manifest_rel(tool_id: &str, version: &str) -> PathBuf {
        Path::new("tools")
            .join(tool_id)
            .join(version)
            .join("manifest.json")
    }

    /// The stored manifest bytes of one version folder, exactly as published.
    pub fn read_manifest(&self, tool_id: &str, version: &str) -> io::Result<Option<Vec<u8>>> {
        if !is_valid_tool_id(tool_id) || !is_version_text(version) {
            return Ok(None);
        }
        let Some((file, size)) =
            fsutil::open_inside(&self.root, &Self::manifest_rel(tool_id, version))?
        else {
            return Ok(None);
        };
        if size > tooldelta_core::manifest::MAX_MANIFEST_BYTES {
            return Err(io::Error::other(format!(
                "stored manifest of {tool_id} {version} is {size} bytes, over the limit"
            )));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        io::Read::read_to_end(&mut io::Read::take(file, size), &mut bytes)?;
        Ok(Some(bytes))
    }

    /// Writes a manifest atomically (temp file, fsync, rename).
    pub(crate) fn put_manifest(
        &self,
        tool_id: &str,
        version: &str,
        bytes: &[u8],
    ) -> io::Result<()> {
        assert!(is_valid_tool_id(tool_id) && is_version_text(version));
        let dest = self.root.join(Self::manifest_rel(tool_id, version));
        tooldelta_core::fs::write_atomic(&dest, bytes)
    }

    /// `(sha256, size, chunk index)` of every file that stored manifests give
    /// a chunk index, each content once. A manifest that no longer parses is
    /// skipped (it was checked when stored).
    pub(crate) fn chunked_files(&self) -> io::Result<Vec<(String, u64, ChunksRef)>> {
        let mut out: Vec<(String, u64, ChunksRef)> = Vec::new();
        for tool_id in self.tool_ids()? {
            for (_, folder) in self.versions(&tool_id)? {
                let Some(bytes) = self.read_manifest(&tool_id, &folder)? else {
                    continue;
                };
                let Ok(parsed) = Manifest::parse(&bytes) else {
                    continue;
                };
                for file in parsed.manifest.files {
                    if let Some(chunks) = file.chunks
                        && !out.iter().any(|(sha, _, _)| *sha == file.sha256)
                    {
                        out.push((file.sha256, file.size, chunks));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every tool id that has a folder, sorted.
    pub fn tool_ids(&self) -> io::Result<Vec<String>> {
        let mut ids = list_dir_names(&self.root.join("tools"))?;
        ids.retain(|id| is_valid_tool_id(id));
        ids.sort();
        Ok(ids)
    }

    /// The stored versions of a tool as (parsed, folder name), oldest first.
    pub fn versions(&self, tool_id: &str) -> io::Result<Vec<(semver::Version, String)>> {
        if !is_valid_tool_id(tool_id) {
            return Ok(Vec::new());
        }
        let dir = self.root.join("tools").join(tool_id);
        let mut out: Vec<(semver::Version, String)> = list_dir_names(&dir)?
            .into_iter()
            .filter(|name| is_version_text(name))
            .filter(|name| fsutil::is_regular_file(&dir.join(name).join("manifest.json")))
            .filter_map(|name| parse_version(&name).ok().map(|v| (v, name)))
            .collect();
        out.sort();
        Ok(out)
    }

    /// The folder name of the version a route asks for, if stored.
    pub fn resolve(&self, tool_id: &str, sel: &VersionSel) -> io::Result<Option<String>> {
        let versions = self.versions(tool_id)?;
        Ok(match sel {
            VersionSel::Latest => latest_of(versions),
            VersionSel::Exact(want) => versions
                .into_iter()
                .find(|(v, _)| v == want)
                .map(|(_, name)| name),
        })
    }

    /// `{tool_id, versions, latest}` for one tool; `None` when it has no version.
    pub fn tool_index(&self, tool_id: &str) -> io::Result<Option<ToolIndex>> {
        let versions = self.versions(tool_id)?;
        if versions.is_empty() {
            return Ok(None);
        }
        Ok(Some(ToolIndex {
            tool_id: tool_id.to_owned(),
            latest: latest_of(versions.clone()),
            versions: versions.into_iter().map(|(_, name)| name).collect(),
        }))
    }

    /// The catalog: every tool with at least one version, sorted by id.
    pub fn catalog(&self) -> io::Result<Vec<ToolIndex>> {
        let mut out = Vec::new();
        for id in self.tool_ids()? {
            if let Some(index) = self.tool_index(&id)? {
                out.push(index);
            }
        }
        Ok(out)
    }
}

/// The folder name `latest` resolves to among (parsed, folder name) pairs:
/// the highest version that is not a pre-release.
pub(crate) fn latest_of(
    versions: impl IntoIterator<Item = (semver::Version, String)>,
) -> Option<String> {
    let versions: Vec<_> = versions.into_iter().collect();
    let latest = tooldelta_core::manifest::latest_release(versions.iter().map(|(v, _)| v))?;
    versions
        .iter()
        .find(|(v, _)| v == latest)
        .map(|(_, name)| name.clone())
}

/// Names of the sub-folders (not symlinks) of `dir`; empty when `dir` is absent.
fn list_dir_names(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir()
            && let Ok(name) = entry.file_name().into_string()
        {
            names.push(name);
        }
    }
    Ok(names)
}

/// The JSON bytes of a document as the server sends it and `export` writes it
/// (pretty, final newline), so both give byte-identical answers.
pub(crate) fn to_json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("our types always serialize");
    bytes.push(b'\n');
    bytes
}
