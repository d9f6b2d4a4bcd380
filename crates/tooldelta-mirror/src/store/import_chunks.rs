//! `import` of chunk index objects: each file that names one in `chunks` has
//! its index stored as a blob, like any content, after three checks — the
//! object hashes to the manifest's `chunks` entry, its header binds it to
//! that file's SHA-256 and size, and every chunk it lists hashes right
//! against the file's (already verified) blob.

use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tooldelta_core::chunks::{self, ChunkIndex, MAX_INDEX_BYTES};
use tooldelta_core::hash::hash_bytes;
use tooldelta_core::manifest::{ChunksRef, FileEntry, Manifest};

use super::{ImportError, Store, fsutil};

impl Store {
    /// Stores the chunk index of every file that names one; returns how many
    /// were added. `dir` is where the publisher wrote them; an index missing
    /// there is rebuilt from the file (the chunker is deterministic) and must
    /// then hash to what the manifest names.
    pub(super) fn import_indexes(
        &self,
        manifest: &Manifest,
        dir: Option<&Path>,
    ) -> Result<usize, ImportError> {
        let mut added = 0;
        for entry in &manifest.files {
            let Some(chunks) = &entry.chunks else {
                continue;
            };
            self.unmark_pulled(&chunks.sha256);
            if self.has_blob(&chunks.sha256) {
                continue;
            }
            let bytes = self.index_bytes(&manifest.tool_id, entry, chunks, dir)?;
            self.check_index(&manifest.tool_id, entry, chunks, &bytes)?;
            self.put_blob(&manifest.tool_id, &chunks.sha256, &bytes)?;
            added += 1;
        }
        Ok(added)
    }

    /// The index object as the publisher wrote it, or rebuilt from the blob.
    fn index_bytes(
        &self,
        tool_id: &str,
        entry: &FileEntry,
        chunks: &ChunksRef,
        dir: Option<&Path>,
    ) -> Result<Vec<u8>, ImportError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| ImportError::Io {
                tool_id: tool_id.to_owned(),
                path,
                source,
            }
        };
        if let Some(path) = dir.map(|d| d.join(&chunks.sha256))
            && let Ok(meta) = std::fs::symlink_metadata(&path)
        {
            if !meta.is_file() || meta.len() != chunks.size || meta.len() > MAX_INDEX_BYTES {
                return Err(bad_index(
                    tool_id,
                    entry,
                    chunks,
                    format!("{} is not a file of {} bytes", path.display(), chunks.size),
                ));
            }
            return fs_err::read(&path).map_err(io_err(&path));
        }
        let blob = self.blob_path(&entry.sha256);
        let (list, _) = chunks::chunk_file(&blob).map_err(io_err(&blob))?;
        let index = ChunkIndex {
            file_sha256: hex::decode(&entry.sha256)
                .expect("rules checked the hex")
                .try_into()
                .expect("32 bytes"),
            file_size: entry.size,
            chunks: list,
        };
        Ok(index.encode())
    }

    /// The three checks of an index object before it is stored.
    fn check_index(
        &self,
        tool_id: &str,
        entry: &FileEntry,
        chunks: &ChunksRef,
        bytes: &[u8],
    ) -> Result<(), ImportError> {
        let bad = |cause: String| bad_index(tool_id, entry, chunks, cause);
        let digest = hash_bytes(bytes);
        if digest.sha256 != chunks.sha256 || digest.size != chunks.size {
            return Err(bad(format!(
                "it hashes to {} ({} bytes); was it published with these files?",
                digest.sha256, digest.size
            )));
        }
        let index = ChunkIndex::parse(bytes).map_err(|e| bad(e.to_string()))?;
        index
            .check_bound_to(&entry.sha256, entry.size)
            .map_err(|e| bad(e.to_string()))?;
        let blob = self.blob_path(&entry.sha256);
        let file = fs_err::File::open(&blob).map_err(|source| ImportError::Io {
            tool_id: tool_id.to_owned(),
            path: blob.clone(),
            source,
        })?;
        match chunks::first_mismatch(&index, std::io::BufReader::new(file)) {
            Ok(None) => Ok(()),
            Ok(Some(i)) => Err(bad(format!("its chunk {i} does not match the file"))),
            Err(e) => Err(bad(format!("reading the file against it: {e}"))),
        }
    }

    /// Writes a small verified blob: temp file, fsync, read-only, rename.
    pub(super) fn put_blob(
        &self,
        tool_id: &str,
        hex: &str,
        bytes: &[u8],
    ) -> Result<(), ImportError> {
        let dest = self.blob_path(hex);
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| ImportError::Io {
                tool_id: tool_id.to_owned(),
                path,
                source,
            }
        };
        let scratch = self.tmp_dir();
        let (mut file, temp) = fsutil::create_temp(&scratch, hex).map_err(io_err(&scratch))?;
        let result = (|| {
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::set_permissions(&temp, Permissions::from_mode(0o444))?;
            tooldelta_core::fs::persist(&temp, &dest)
        })()
        .map_err(io_err(&dest));
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }
}

fn bad_index(tool_id: &str, entry: &FileEntry, chunks: &ChunksRef, cause: String) -> ImportError {
    ImportError::BadIndex {
        tool_id: tool_id.to_owned(),
        path: entry.path.clone(),
        index_sha256: chunks.sha256.clone(),
        cause,
    }
}
