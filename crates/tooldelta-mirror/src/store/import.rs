//! `import`: a published tool folder and its manifest into the store.
//!
//! Order of the steps, each a check before trust: the core's manifest gate
//! ([`signing::check_manifest`]: parse (bounded, strict) → CONTRACT §1 rules →
//! `manifest_hash` → signature, when keys are trusted) → expiry → every file copied into the store while hashing, size and SHA-256
//! compared before the blob is renamed into place → the manifest written last.
//! Writing the manifest is the commit point: once a version is listed, every
//! blob it names is present. Re-importing the same manifest changes nothing.

use std::collections::BTreeMap;
use std::fs::{File, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use tooldelta_core::fs::{Durability, sync_filesystems};
use tooldelta_core::hash::HashingWriter;
use tooldelta_core::manifest::{FileEntry, Manifest};
use tooldelta_core::signing::{self, SignatureCheck, TrustError, TrustStore};

use super::import_source::{check_source, compare, copy, open_source};
use super::{Store, fsutil};

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// When not empty, the manifest must carry a valid signature by one of these keys.
    pub trust: TrustStore,
    /// Replace a different manifest already stored for the same version
    /// (published versions are meant to be immutable; this is the escape hatch).
    pub replace: bool,
    /// Where the publisher wrote the chunk index objects; [`Store::import_file`]
    /// defaults to `chunks/` beside the manifest. An index not found there is
    /// rebuilt from its file.
    pub chunks_dir: Option<PathBuf>,
}

/// What happened to the manifest file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestOutcome {
    /// A new version.
    Added,
    /// The same bytes were already stored.
    Unchanged,
    /// A different manifest for this version was replaced (`--replace`).
    Replaced,
}

/// The result of one import.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The tool.
    pub tool_id: String,
    /// Its version as published.
    pub tool_version: String,
    /// Files the manifest lists.
    pub files: usize,
    /// Blobs written by this import.
    pub blobs_added: usize,
    /// Distinct contents that were already stored (deduplicated).
    pub blobs_present: usize,
    /// Bytes written into `blobs/`.
    pub bytes_added: u64,
    /// Chunk index objects written into `blobs/`.
    pub indexes_added: usize,
    /// Pack indexes and pack blobs written into `blobs/`.
    pub packs_added: usize,
    /// What happened to the manifest.
    pub manifest: ManifestOutcome,
    /// The signature as checked against the trusted keys given.
    pub signature: SignatureCheck,
}

/// Why an import was refused. Nothing is listed in the store after an error;
/// blobs already copied stay (they are valid content, reused next time).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The manifest file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    ReadManifest {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The manifest did not pass the core's manifest gate (parse, rules,
    /// hash, signature when keys are trusted, expiry).
    #[error("manifest refused: {0}")]
    Trust(#[from] TrustError),
    /// A listed file is missing, or not a regular file, in the tool folder.
    #[error("{tool_id}: file {path:?} of the manifest: {file} is {problem}")]
    BadSourceFile {
        /// The tool.
        tool_id: String,
        /// The manifest path.
        path: String,
        /// The file on disk.
        file: PathBuf,
        /// `missing`, `a symlink`, …
        problem: &'static str,
    },
    /// A file's content is not what the manifest says.
    #[error(
        "{tool_id}: file {path:?} does not match the manifest: expected sha256 {expected_sha256} ({expected_size} bytes), found {actual_sha256} ({actual_size} bytes)"
    )]
    FileMismatch {
        /// The tool.
        tool_id: String,
        /// The manifest path.
        path: String,
        /// From the manifest.
        expected_sha256: String,
        /// From the file.
        actual_sha256: String,
        /// From the manifest.
        expected_size: u64,
        /// From the file.
        actual_size: u64,
    },
    /// A chunk index object is not the one the manifest names, or does not
    /// describe its file.
    #[error("{tool_id}: file {path:?}: chunk index {index_sha256} refused: {cause}")]
    BadIndex {
        /// The tool.
        tool_id: String,
        /// The manifest path of the file it indexes.
        path: String,
        /// The index's content address from the manifest.
        index_sha256: String,
        /// What is wrong.
        cause: String,
    },
    /// A pack index or pack blob is not what the manifest names, or does
    /// not describe the manifest's files.
    #[error("{tool_id}: pack {index_sha256} refused: {cause}")]
    BadPack {
        /// The tool.
        tool_id: String,
        /// The pack index's content address from the manifest.
        index_sha256: String,
        /// What is wrong.
        cause: String,
    },
    /// Another manifest is stored for this version.
    #[error(
        "{tool_id} {version}: the store already holds a different manifest for this version (published versions are immutable; pass --replace to overwrite)"
    )]
    Conflict {
        /// The tool.
        tool_id: String,
        /// The version.
        version: String,
    },
    /// Reading the tool folder or writing the store failed.
    #[error("{tool_id}: {path}: {source}")]
    Io {
        /// The tool.
        tool_id: String,
        /// The file being read or written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Store {
    /// Imports a manifest file and the tool folder it describes.
    pub fn import_file(
        &self,
        manifest: &Path,
        tool_dir: &Path,
        opts: &ImportOptions,
    ) -> Result<ImportReport, ImportError> {
        let bytes = std::fs::read(manifest).map_err(|source| ImportError::ReadManifest {
            path: manifest.to_owned(),
            source,
        })?;
        let mut opts = opts.clone();
        if opts.chunks_dir.is_none() {
            let beside = manifest.parent().unwrap_or(Path::new("."));
            opts.chunks_dir = Some(beside.join("chunks"));
        }
        self.import(&bytes, tool_dir, &opts)
    }

    /// Imports manifest bytes and the tool folder they describe.
    pub fn import(
        &self,
        manifest_bytes: &[u8],
        tool_dir: &Path,
        opts: &ImportOptions,
    ) -> Result<ImportReport, ImportError> {
        let (manifest, signature) = check_manifest(manifest_bytes, &opts.trust)?;
        let tool_id = manifest.tool_id.clone();
        let version = manifest.tool_version.clone();
        let outcome = self.manifest_outcome(&manifest, manifest_bytes, opts.replace)?;
        let io_err = |path: PathBuf| {
            let tool_id = tool_id.clone();
            move |source| ImportError::Io {
                tool_id,
                path,
                source,
            }
        };
        // Small blobs are written without their own fsync: the journal names
        // them until the one sync before the commit point.
        let journal = self
            .begin_journal(&manifest)
            .map_err(io_err(self.journal_dir()))?;
        let (blobs_added, blobs_present, bytes_added) = self.import_blobs(&manifest, tool_dir)?;
        let indexes_added = self.import_indexes(&manifest, opts.chunks_dir.as_deref())?;
        let packs_added = self.import_packs(&manifest, opts.chunks_dir.as_deref())?;
        if let Some(journal) = journal {
            sync_filesystems(&[&self.root]).map_err(io_err(self.root.clone()))?;
            journal.close().map_err(io_err(self.journal_dir()))?;
        }
        // Commit point: the version becomes visible only once all its blobs
        // are in, and durable.
        if outcome != ManifestOutcome::Unchanged {
            self.put_manifest(&tool_id, &version, manifest_bytes)
                .map_err(|source| ImportError::Io {
                    tool_id: tool_id.clone(),
                    path: self.root.join("tools").join(&tool_id).join(&version),
                    source,
                })?;
        }
        Ok(ImportReport {
            files: manifest.files.len(),
            tool_id,
            tool_version: version,
            blobs_added,
            blobs_present,
            bytes_added,
            indexes_added,
            packs_added,
            manifest: outcome,
            signature,
        })
    }

    fn manifest_outcome(
        &self,
        manifest: &Manifest,
        bytes: &[u8],
        replace: bool,
    ) -> Result<ManifestOutcome, ImportError> {
        let tool_id = &manifest.tool_id;
        let io_err = |source| ImportError::Io {
            tool_id: tool_id.clone(),
            path: self.root.join("tools").join(tool_id),
            source,
        };
        let want = manifest.version().expect("rules checked");
        let existing = self
            .versions(tool_id)
            .map_err(io_err)?
            .into_iter()
            .find(|(v, _)| *v == want);
        let Some((_, folder)) = existing else {
            return Ok(ManifestOutcome::Added);
        };
        let stored = self.read_manifest(tool_id, &folder).map_err(io_err)?;
        if folder == manifest.tool_version && stored.as_deref() == Some(bytes) {
            return Ok(ManifestOutcome::Unchanged);
        }
        if !replace {
            return Err(ImportError::Conflict {
                tool_id: tool_id.clone(),
                version: manifest.tool_version.clone(),
            });
        }
        if folder != manifest.tool_version {
            // Same SemVer spelt differently (`v1.0.0` / `1.0.0`): keep one folder.
            let old = self.root.join("tools").join(tool_id).join(&folder);
            fs_err::remove_dir_all(old).map_err(io_err)?;
        }
        Ok(ManifestOutcome::Replaced)
    }

    /// Copies (or only checks, when already stored) every distinct content.
    fn import_blobs(
        &self,
        manifest: &Manifest,
        tool_dir: &Path,
    ) -> Result<(usize, usize, u64), ImportError> {
        // One group per content, so two files with equal bytes never race to
        // write the same blob.
        let mut groups: BTreeMap<&str, Vec<&FileEntry>> = BTreeMap::new();
        for file in &manifest.files {
            groups.entry(&file.sha256).or_default().push(file);
        }
        let results = groups
            .into_par_iter()
            .map(|(_, entries)| {
                let added = self.import_group(&manifest.tool_id, tool_dir, &entries)?;
                Ok((added, entries[0].size))
            })
            .collect::<Result<Vec<_>, ImportError>>()?;
        let added = results.iter().filter(|(a, _)| *a).count();
        let bytes = results.iter().filter(|(a, _)| *a).map(|(_, s)| s).sum();
        Ok((added, results.len() - added, bytes))
    }

    /// Returns whether a new blob was written.
    fn import_group(
        &self,
        tool_id: &str,
        tool_dir: &Path,
        entries: &[&FileEntry],
    ) -> Result<bool, ImportError> {
        let first = entries[0];
        // Imported content is never evicted from a pull-through cache.
        self.unmark_pulled(&first.sha256);
        let dest = self.blob_path(&first.sha256);
        let present = std::fs::symlink_metadata(&dest)
            .is_ok_and(|m| m.file_type().is_file() && m.len() == first.size);
        let mut added = false;
        for (i, entry) in entries.iter().enumerate() {
            let source = open_source(tool_id, tool_dir, entry)?;
            if i == 0 && !present {
                self.copy_into_store(tool_id, entry, source, &dest)?;
                added = true;
            } else {
                check_source(tool_id, entry, source)?;
            }
        }
        Ok(added)
    }

    fn copy_into_store(
        &self,
        tool_id: &str,
        entry: &FileEntry,
        source: (File, PathBuf),
        dest: &Path,
    ) -> Result<(), ImportError> {
        let (src, src_path) = source;
        let scratch = self.tmp_dir();
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| ImportError::Io {
                tool_id: tool_id.to_owned(),
                path,
                source,
            }
        };
        let (file, temp) =
            fsutil::create_temp(&scratch, &entry.sha256).map_err(io_err(&scratch))?;
        let result = (|| {
            let mut writer = HashingWriter::new(file);
            copy(src, &mut writer).map_err(io_err(&src_path))?;
            let (file, digest) = writer.finish();
            compare(tool_id, entry, &digest.sha256, digest.size)?;
            // Small blobs wait for the import's one sync (named in its journal).
            let durability = Durability::for_object(entry.size);
            if durability == Durability::Each {
                file.sync_all().map_err(io_err(&temp))?;
            }
            // Read-only: the export hardlinks these, and content must never change.
            std::fs::set_permissions(&temp, Permissions::from_mode(0o444))
                .map_err(io_err(&temp))?;
            tooldelta_core::fs::persist_with(&temp, dest, durability).map_err(io_err(dest))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }
}

/// Steps before any file is touched: the core's manifest gate (parse, rules,
/// hash, signature — required when `trust` is not empty), then expiry.
pub(crate) fn check_manifest(
    bytes: &[u8],
    trust: &TrustStore,
) -> Result<(Manifest, SignatureCheck), TrustError> {
    let checked = signing::check_manifest(bytes, trust, !trust.is_empty(), None)?;
    checked.check_expiry(jiff::Timestamp::now())?;
    Ok((checked.manifest, checked.signature))
}
