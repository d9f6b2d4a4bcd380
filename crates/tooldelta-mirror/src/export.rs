//! `export`: the read routes of CONTRACT §4 as a static tree, for nginx, a CDN
//! or an object store.
//!
//! ```text
//! OUT/healthz
//! OUT/api/v1/tools/index.json                          the catalog
//! OUT/api/v1/tools/<id>/index.json                     the tool index
//! OUT/api/v1/tools/<id>/<version>/manifest.json        the signed bytes
//! OUT/api/v1/tools/<id>/<version>/files/<path>         hardlink to the blob
//! OUT/api/v1/tools/<id>/latest/…                       the highest version again
//! OUT/api/v1/blobs/sha256/<hex>                        hardlink to the blob
//! ```
//!
//! Content is hardlinked from the store, so an export on the store's
//! filesystem costs metadata only; on another filesystem (a bundle on a USB
//! disk) blobs are copied. JSON
//! documents are byte-identical to what `serve` answers. Exporting again into
//! the same folder updates it in place (each file replaced by rename); files of
//! versions removed from the store are left behind, so export into a fresh
//! folder and swap it in when you delete versions.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tooldelta_core::api;
use tooldelta_core::manifest::{Manifest, check_path};

pub use crate::export_subset::Selection;
use crate::store::{Store, fsutil, to_json_bytes};

/// What an export wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    /// Tools exported.
    pub tools: usize,
    /// Versions exported (not counting `latest`).
    pub versions: usize,
    /// Distinct blobs linked under `blobs/`.
    pub blobs: usize,
    /// `files/{path}` links written (including under `latest`).
    pub file_links: usize,
    /// Signed channel documents written.
    pub channels: usize,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output is on another filesystem and copying a blob there failed.
    #[error("cannot copy {blob} into {out} (another filesystem than the store): {source}")]
    CrossDevice {
        /// The blob.
        blob: PathBuf,
        /// The output folder.
        out: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A manifest lists content the store does not hold (a damaged store).
    #[error("{tool_id} {version}: file {path:?} needs blob {sha256}, which is not in the store")]
    MissingBlob {
        /// The tool.
        tool_id: String,
        /// The version.
        version: String,
        /// The manifest path.
        path: String,
        /// The content address.
        sha256: String,
    },
    /// A stored manifest no longer parses or breaks a rule (edited by hand?).
    #[error("{tool_id} {version}: stored manifest refused: {cause}")]
    BadManifest {
        /// The tool.
        tool_id: String,
        /// The version.
        version: String,
        /// Why.
        cause: String,
    },
    /// `export --tool/--version` named something the store does not hold.
    #[error("{tool_id}{}: not in the store, nothing exported", version.as_deref().map(|v| format!(" {v}")).unwrap_or_default())]
    NotInStore {
        /// The tool.
        tool_id: String,
        /// The version, when one was named.
        version: Option<String>,
    },
    /// A tool id that would collide with the export's own `index.json`.
    #[error("tool id {0:?} collides with the catalog file index.json and cannot be exported")]
    ReservedToolId(String),
    /// Reading the store or writing the output failed.
    #[error("export: {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes the static tree of `store` into `out`.
pub fn export(store: &Store, out: &Path) -> Result<ExportReport, ExportError> {
    export_selected(store, out, &Selection::all())
}

/// Writes the static tree of what `selection` names into `out`: only those
/// tools and versions, their blobs and chunk indexes, and the tools' channel
/// documents (a subset bundle for `import --from-export`).
pub fn export_selected(
    store: &Store,
    out: &Path,
    selection: &Selection,
) -> Result<ExportReport, ExportError> {
    let catalog = selection.apply(store.catalog().map_err(io_err(store.root()))?)?;
    fs_err::create_dir_all(out).map_err(io_err(out))?;
    let out = fs_err::canonicalize(out).map_err(io_err(out))?;
    let scratch = out.join(".tmp");
    fs_err::create_dir_all(&scratch).map_err(io_err(&scratch))?;
    let mut report = ExportReport::default();
    let tools_root = out.join(api::TOOLS);
    let mut blobs = BTreeSet::new();
    for index in &catalog {
        if index.tool_id == "index.json" {
            return Err(ExportError::ReservedToolId(index.tool_id.clone()));
        }
        let tool_folder = tools_root.join(&index.tool_id);
        for version in &index.versions {
            let (bytes, manifest) = read_manifest(store, &index.tool_id, version)?;
            let mut folders = vec![tool_folder.join(version)];
            if index.latest.as_ref() == Some(version) {
                folders.push(tool_folder.join("latest"));
            }
            for folder in folders {
                write_file(&folder.join("manifest.json"), &bytes)?;
                for file in &manifest.files {
                    let blob = blob_of(store, &index.tool_id, version, &file.path, &file.sha256)?;
                    link(
                        &scratch,
                        &blob,
                        &folder.join("files").join(&file.path),
                        &out,
                    )?;
                    report.file_links += 1;
                    blobs.insert(file.sha256.clone());
                    // The chunk index is served at the blob route like any content.
                    if let Some(chunks) = &file.chunks {
                        blob_of(store, &index.tool_id, version, &file.path, &chunks.sha256)?;
                        blobs.insert(chunks.sha256.clone());
                    }
                }
            }
            // Packs are served at the blob route like any content.
            blobs.extend(pack_blobs(store, &manifest));
            report.versions += 1;
        }
        report.channels += export_channels(store, &index.tool_id, &out)?;
        write_file(&tool_folder.join("index.json"), &to_json_bytes(index))?;
        report.tools += 1;
    }
    for hex in &blobs {
        let dest = out.join(api::blob(hex));
        link(&scratch, &store.blob_path(hex), &dest, &out)?;
    }
    report.blobs = blobs.len();
    // The catalog last: a client that sees a tool finds all of its files.
    write_file(&tools_root.join("index.json"), &to_json_bytes(&catalog))?;
    write_file(&out.join("healthz"), b"ok\n")?;
    let _ = std::fs::remove_dir(&scratch);
    Ok(report)
}

/// The pack indexes a manifest lists and the pack blobs they name, as far as
/// the store holds them (a client fetches whatever is missing file by file).
fn pack_blobs(store: &Store, manifest: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    for pack in manifest.packs.as_deref().unwrap_or_default() {
        let Ok(bytes) = std::fs::read(store.blob_path(&pack.sha256)) else {
            continue;
        };
        let Ok(index) = tooldelta_core::packs::PackIndex::parse(&bytes) else {
            continue;
        };
        if store.has_blob(&index.pack_hex()) {
            out.push(pack.sha256.clone());
            out.push(index.pack_hex());
        }
    }
    out
}

/// Writes a tool's signed channel documents as they are stored.
fn export_channels(store: &Store, tool_id: &str, out: &Path) -> Result<usize, ExportError> {
    let mut written = 0;
    for channel in store.channels(tool_id).map_err(io_err(store.root()))? {
        let bytes = store
            .read_channel(tool_id, &channel)
            .map_err(io_err(store.root()))?;
        if let Some(bytes) = bytes {
            write_file(&out.join(api::channel(tool_id, &channel)), &bytes)?;
            written += 1;
        }
    }
    Ok(written)
}

fn read_manifest(
    store: &Store,
    tool_id: &str,
    version: &str,
) -> Result<(Vec<u8>, Manifest), ExportError> {
    let bad = |cause: String| ExportError::BadManifest {
        tool_id: tool_id.to_owned(),
        version: version.to_owned(),
        cause,
    };
    let bytes = store
        .read_manifest(tool_id, version)
        .map_err(io_err(store.root()))?
        .ok_or_else(|| bad("vanished during the export".into()))?;
    let parsed = Manifest::parse(&bytes).map_err(|e| bad(e.to_string()))?;
    parsed
        .manifest
        .check_rules()
        .map_err(|e| bad(e.to_string()))?;
    // Paths are joined below: check each again, whatever import checked.
    for file in &parsed.manifest.files {
        check_path(&file.path).map_err(|rule| bad(format!("{:?}: {}", file.path, rule.name())))?;
    }
    Ok((bytes, parsed.manifest))
}

/// The stored blob `sha256` that file `path` of a manifest needs (its
/// content or its chunk index).
fn blob_of(
    store: &Store,
    tool_id: &str,
    version: &str,
    path: &str,
    sha256: &str,
) -> Result<PathBuf, ExportError> {
    if !store.has_blob(sha256) {
        return Err(ExportError::MissingBlob {
            tool_id: tool_id.to_owned(),
            version: version.to_owned(),
            path: path.to_owned(),
            sha256: sha256.to_owned(),
        });
    }
    Ok(store.blob_path(sha256))
}

/// Writes a small file atomically.
fn write_file(dest: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    if std::fs::read(dest).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    tooldelta_core::fs::write_atomic(dest, bytes).map_err(io_err(dest))
}

/// Hardlinks `blob` at `dest` (via a temp name and a rename, so a reader never
/// sees a missing file); nothing to do when `dest` is that blob already.
fn link(scratch: &Path, blob: &Path, dest: &Path, out: &Path) -> Result<(), ExportError> {
    use std::os::unix::fs::MetadataExt;
    let blob_meta = fs_err::metadata(blob).map_err(io_err(blob))?;
    if let Ok(meta) = std::fs::symlink_metadata(dest)
        && meta.ino() == blob_meta.ino()
        && meta.dev() == blob_meta.dev()
    {
        return Ok(());
    }
    let parent = dest.parent().expect("export paths have a parent");
    fs_err::create_dir_all(parent).map_err(io_err(parent))?;
    let temp = fsutil::temp_path(scratch, "link");
    if let Err(source) = std::fs::hard_link(blob, &temp) {
        if source.raw_os_error() != Some(libc::EXDEV) {
            return Err(ExportError::Io { path: temp, source });
        }
        // Another filesystem (a bundle written to a USB disk): a copy of
        // the verified, immutable blob serves the same.
        if let Err(source) = std::fs::copy(blob, &temp) {
            let _ = std::fs::remove_file(&temp);
            return Err(ExportError::CrossDevice {
                blob: blob.to_owned(),
                out: out.to_owned(),
                source,
            });
        }
    }
    std::fs::rename(&temp, dest).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        ExportError::Io {
            path: dest.to_owned(),
            source,
        }
    })
}
