//! Disk management of a mirror store: `remove` a version (its manifest
//! folder), and `gc` the blobs nothing references any more. Referenced are
//! the files and chunk indexes of every stored manifest (a chunk is a range
//! of its file's blob, so the file keeps it) and the artifacts of the app
//! feed. Fresh blobs are never collected: an `import` running beside `gc`
//! writes its blobs before its manifest.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use serde::Serialize;
use tooldelta_core::manifest::{is_sha256_hex, is_valid_tool_id};

use super::{Store, is_version_text};

/// Blobs younger than this (by inode change time) are left alone by `gc`.
pub const GC_GRACE: Duration = Duration::from_secs(3600);

/// What `tooldelta-mirror remove` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRemoval {
    /// The tool.
    pub tool_id: String,
    /// The version removed.
    pub version: String,
}

/// What `tooldelta-mirror gc` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreGc {
    /// Blobs removed.
    pub blobs_removed: u64,
    /// Their bytes.
    pub bytes_removed: u64,
    /// Blobs kept because something references them.
    pub blobs_kept: u64,
    /// Unreferenced blobs kept because they are younger than the grace time.
    pub blobs_young: u64,
}

/// Why a removal was refused.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// The tool id or version is not valid, or the version is not stored.
    #[error("remove: {tool_id} {version}: not stored in this mirror")]
    NotStored {
        /// The tool.
        tool_id: String,
        /// The version.
        version: String,
    },
    /// A channel document still offers it (workstations would be sent to a
    /// version the mirror no longer has).
    #[error(
        "remove: {tool_id} {version}: channel {channel} still offers it; publish the channel without it first, or pass --force"
    )]
    InChannel {
        /// The tool.
        tool_id: String,
        /// The version.
        version: String,
        /// The channel that names it.
        channel: String,
    },
    /// The folder could not be removed.
    #[error("remove: {tool_id} {version}: {source}")]
    Io {
        /// The tool.
        tool_id: String,
        /// The version.
        version: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Store {
    /// Removes a version's manifest (its blobs go at the next `gc`). Refused
    /// while a stored channel offers the version, unless `force`.
    pub fn remove_version(
        &self,
        tool_id: &str,
        version: &str,
        force: bool,
    ) -> Result<VersionRemoval, RemoveError> {
        let not_stored = || RemoveError::NotStored {
            tool_id: tool_id.to_owned(),
            version: version.to_owned(),
        };
        if !is_valid_tool_id(tool_id) || !is_version_text(version) {
            return Err(not_stored());
        }
        let io_err = |source| RemoveError::Io {
            tool_id: tool_id.to_owned(),
            version: version.to_owned(),
            source,
        };
        if !force {
            for channel in self.channels(tool_id).map_err(io_err)? {
                if self
                    .channel_names(tool_id, &channel, version)
                    .map_err(io_err)?
                {
                    return Err(RemoveError::InChannel {
                        tool_id: tool_id.to_owned(),
                        version: version.to_owned(),
                        channel,
                    });
                }
            }
        }
        let dir = self.root.join("tools").join(tool_id).join(version);
        if !dir.join("manifest.json").is_file() {
            return Err(not_stored());
        }
        std::fs::remove_dir_all(&dir).map_err(io_err)?;
        Ok(VersionRemoval {
            tool_id: tool_id.to_owned(),
            version: version.to_owned(),
        })
    }

    /// Whether a stored channel document names `version` (offered or previous).
    fn channel_names(&self, tool_id: &str, channel: &str, version: &str) -> io::Result<bool> {
        let Some(bytes) = self.read_channel(tool_id, channel)? else {
            return Ok(false);
        };
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        Ok(["version", "previous"]
            .iter()
            .any(|k| doc.get(k).and_then(|v| v.as_str()) == Some(version)))
    }

    /// The blobs of a manifest's packs: each index and, when the index is
    /// stored, the pack blob it names.
    pub fn pack_blobs<'a>(
        &self,
        packs: impl IntoIterator<Item = &'a tooldelta_core::manifest::PackRef>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for pack in packs {
            if !is_sha256_hex(&pack.sha256) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(self.blob_path(&pack.sha256))
                && let Ok(index) = tooldelta_core::packs::PackIndex::parse(&bytes)
            {
                out.push(index.pack_hex());
            }
            out.push(pack.sha256.clone());
        }
        out
    }

    /// Every blob a stored manifest or app release references.
    pub fn referenced_blobs(&self) -> io::Result<BTreeSet<String>> {
        let mut keep = BTreeSet::new();
        for tool_id in self.tool_ids()? {
            for (_, version) in self.versions(&tool_id)? {
                let Some(bytes) = self.read_manifest(&tool_id, &version)? else {
                    continue;
                };
                let listed: Listed = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::other(format!("stored manifest of {tool_id} {version}: {e}"))
                })?;
                for f in listed.files {
                    keep.extend(f.chunks.map(|c| c.sha256));
                    keep.insert(f.sha256);
                }
                keep.extend(self.pack_blobs(listed.packs.iter().flatten()));
            }
        }
        for entry in walkdir::WalkDir::new(self.root.join("app"))
            .into_iter()
            .flatten()
        {
            if entry.file_type().is_file()
                && let Ok(bytes) = std::fs::read(entry.path())
                && let Ok(release) = serde_json::from_slice::<crate::app::AppRelease>(&bytes)
                && let Some(a) = release.artifact
            {
                keep.insert(a.sha256);
            }
        }
        Ok(keep)
    }

    /// Removes blobs nothing references and older than `grace`.
    pub fn gc(&self, grace: Duration) -> io::Result<StoreGc> {
        let keep = self.referenced_blobs()?;
        let mut report = StoreGc::default();
        let now = std::time::SystemTime::now();
        for (hex, meta) in self.blobs()? {
            if keep.contains(&hex) {
                report.blobs_kept += 1;
                continue;
            }
            let changed =
                std::time::UNIX_EPOCH + Duration::from_secs(meta.ctime().max(0).unsigned_abs());
            if now.duration_since(changed).unwrap_or_default() < grace {
                report.blobs_young += 1;
                continue;
            }
            std::fs::remove_file(self.blob_path(&hex))?;
            report.blobs_removed += 1;
            report.bytes_removed += meta.len();
        }
        Ok(report)
    }

    /// Every stored blob with its metadata.
    pub fn blobs(&self) -> io::Result<Vec<(String, std::fs::Metadata)>> {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(self.root.join("blobs/sha256"))
            .min_depth(2)
            .max_depth(2)
        {
            let entry = entry.map_err(io::Error::other)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_file() && is_sha256_hex(&name) {
                out.push((name, entry.metadata().map_err(io::Error::other)?));
            }
        }
        Ok(out)
    }
}

/// The digests a stored manifest lists (verified at import or pull-through).
#[derive(serde::Deserialize)]
struct Listed {
    files: Vec<ListedFile>,
    #[serde(default)]
    packs: Option<Vec<tooldelta_core::manifest::PackRef>>,
}

#[derive(serde::Deserialize)]
struct ListedFile {
    sha256: String,
    #[serde(default)]
    chunks: Option<tooldelta_core::manifest::ChunksRef>,
}
