//! `import --from-export DIR`: seeds a store from an export tree (a subset
//! bundle carried to an air-gapped site), every version through the same
//! gate as `import`: the manifest checked (rules, hash, expiry, and the
//! signature when keys are trusted), every file hashed against it before it
//! becomes a blob, every chunk index checked against its file, the manifest
//! written last. Signed channel documents of the bundle are imported too.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tooldelta_core::api;
use tooldelta_core::manifest::is_valid_tool_id;

use super::{ChannelImportError, ImportError, ImportOptions, ImportReport, Store, check_manifest};

/// What `import --from-export` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BundleReport {
    /// One report per version imported (or found already stored).
    pub versions: Vec<ImportReport>,
    /// Channel documents stored.
    pub channels: usize,
    /// Channel documents not stored because the store holds a newer one.
    pub channels_kept: usize,
}

/// Why a bundle was refused. Versions imported before the error stay (each
/// is complete and verified); the failing one is not listed.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The folder has no `api/v1/tools`.
    #[error("{dir} is not an export tree (no {} folder in it)", api::TOOLS)]
    NotAnExport {
        /// The folder given.
        dir: PathBuf,
    },
    /// A version of the bundle did not pass the import gate.
    #[error("bundle {dir}: {tool_id} {version}: {source}")]
    Version {
        /// The bundle's version folder.
        dir: PathBuf,
        /// The tool folder's name.
        tool_id: String,
        /// The version folder's name.
        version: String,
        /// Why.
        #[source]
        source: Box<ImportError>,
    },
    /// A manifest filed under another tool or version than it names.
    #[error("bundle {dir}: its manifest is for {found}; refused")]
    Misfiled {
        /// The version folder.
        dir: PathBuf,
        /// `tool version` the manifest names.
        found: String,
    },
    /// A channel document was refused.
    #[error("bundle channel {path}: {source}")]
    Channel {
        /// The document.
        path: PathBuf,
        /// Why.
        #[source]
        source: ChannelImportError,
    },
    /// A tool folder whose name is no tool id.
    #[error("bundle {dir}: {name:?} is not a tool id")]
    BadName {
        /// The tools folder.
        dir: PathBuf,
        /// The folder name.
        name: String,
    },
    /// The bundle could not be read.
    #[error("bundle {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Store {
    /// Imports every version (and channel document) of the export tree `dir`.
    pub fn import_export(
        &self,
        dir: &Path,
        opts: &ImportOptions,
    ) -> Result<BundleReport, BundleError> {
        let tools = dir.join(api::TOOLS);
        if !tools.is_dir() {
            return Err(BundleError::NotAnExport {
                dir: dir.to_owned(),
            });
        }
        let opts = ImportOptions {
            // Chunk indexes are blobs of the export, named by their hash.
            chunks_dir: Some(dir.join(api::BLOBS)),
            ..opts.clone()
        };
        let mut report = BundleReport::default();
        for tool_id in sub_folders(&tools)? {
            if !is_valid_tool_id(&tool_id) {
                return Err(BundleError::BadName {
                    dir: tools.clone(),
                    name: tool_id,
                });
            }
            let tool_dir = tools.join(&tool_id);
            for version in sub_folders(&tool_dir)? {
                // `latest` repeats a version; `channels` holds documents.
                if version == "latest" || version == "channels" {
                    continue;
                }
                let imported =
                    self.import_version(&tool_dir.join(&version), (&tool_id, &version), &opts)?;
                report.versions.push(imported);
            }
            self.import_bundled_channels(&tool_dir.join("channels"), &opts, &mut report)?;
        }
        Ok(report)
    }

    /// One version folder of the bundle, filed as `(tool id, version)`.
    fn import_version(
        &self,
        dir: &Path,
        (tool_id, version): (&str, &str),
        opts: &ImportOptions,
    ) -> Result<ImportReport, BundleError> {
        let refused = |source: ImportError| BundleError::Version {
            dir: dir.to_owned(),
            tool_id: tool_id.to_owned(),
            version: version.to_owned(),
            source: Box::new(source),
        };
        let manifest = dir.join("manifest.json");
        let bytes = std::fs::read(&manifest).map_err(|source| BundleError::Io {
            path: manifest.clone(),
            source,
        })?;
        // The gate first: a manifest filed under another folder than it
        // names is refused before any blob is copied.
        let (checked, _) =
            check_manifest(&bytes, &opts.trust).map_err(|e| refused(ImportError::Trust(e)))?;
        if checked.tool_id != tool_id || checked.tool_version != version {
            return Err(BundleError::Misfiled {
                dir: dir.to_owned(),
                found: format!("{} {}", checked.tool_id, checked.tool_version),
            });
        }
        self.import(&bytes, &dir.join("files"), opts)
            .map_err(refused)
    }

    fn import_bundled_channels(
        &self,
        dir: &Path,
        opts: &ImportOptions,
        report: &mut BundleReport,
    ) -> Result<(), BundleError> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).map_err(|source| BundleError::Io {
                path: path.clone(),
                source,
            })?;
            match self.import_channel(&bytes, &opts.trust) {
                Ok(_) => report.channels += 1,
                Err(ChannelImportError::NotNewer { .. }) => report.channels_kept += 1,
                Err(source) => return Err(BundleError::Channel { path, source }),
            }
        }
        Ok(())
    }
}

/// Names of the real sub-folders of `dir` (symlinks skipped), sorted.
fn sub_folders(dir: &Path) -> Result<Vec<String>, BundleError> {
    let io_err = |source| BundleError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if entry.file_type().map_err(io_err)?.is_dir()
            && let Some(name) = entry.file_name().to_str()
        {
            out.push(name.to_owned());
        }
    }
    out.sort();
    Ok(out)
}
