//! `import` of packs: each pack index the manifest lists in `packs`, and the
//! pack blob it names, are stored as blobs like any content, after these
//! checks — the index hashes to the manifest's reference and parses; every
//! file it lists is a file of the manifest with that size; the pack blob,
//! copied while hashed, has the index's SHA-256 and size, and each file's
//! bytes in it hash to that file's SHA-256. A pack whose index lies is
//! refused, and the version is not listed.

use std::collections::HashMap;
use std::fs::Permissions;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};
use tooldelta_core::fs::Durability;
use tooldelta_core::hash::hash_bytes;
use tooldelta_core::manifest::{Manifest, PackRef};
use tooldelta_core::packs::{MAX_PACK_INDEX_BYTES, PackIndex};

use super::{ImportError, Store, fsutil};

impl Store {
    /// Stores every pack of the manifest not stored yet; returns how many
    /// objects (indexes and pack blobs) were added. `dir` is where the
    /// publisher wrote them.
    pub(super) fn import_packs(
        &self,
        manifest: &Manifest,
        dir: Option<&Path>,
    ) -> Result<usize, ImportError> {
        let packs = manifest.packs.as_deref().unwrap_or_default();
        if packs.is_empty() {
            return Ok(0);
        }
        let sizes: HashMap<&str, u64> = manifest
            .files
            .iter()
            .map(|f| (f.sha256.as_str(), f.size))
            .collect();
        let mut added = 0;
        for pack in packs {
            let tool_id = &manifest.tool_id;
            let bad = |cause: String| ImportError::BadPack {
                tool_id: tool_id.clone(),
                index_sha256: pack.sha256.clone(),
                cause,
            };
            let Some(dir) = dir else {
                return Err(bad("no folder of published objects was given".into()));
            };
            let index = self.pack_index(pack, dir, &bad)?;
            for e in &index.entries {
                let sha = hex::encode(e.sha256);
                if sizes.get(sha.as_str()) != Some(&u64::from(e.len)) {
                    return Err(bad(format!(
                        "it lists {sha} ({} bytes), which the manifest does not",
                        e.len
                    )));
                }
            }
            if !self.has_blob(&index.pack_hex()) {
                self.copy_pack(tool_id, &index, dir, &bad)?;
                added += 1;
            }
            if !self.has_blob(&pack.sha256) {
                self.put_blob(tool_id, &pack.sha256, &index.encode())?;
                added += 1;
            }
        }
        Ok(added)
    }

    /// The index as stored, else as the publisher wrote it; checked.
    fn pack_index(
        &self,
        pack: &PackRef,
        dir: &Path,
        bad: &dyn Fn(String) -> ImportError,
    ) -> Result<PackIndex, ImportError> {
        let path = if self.has_blob(&pack.sha256) {
            self.blob_path(&pack.sha256)
        } else {
            dir.join(&pack.sha256)
        };
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| bad(format!("{}: {e}", path.display())))?;
        if !meta.is_file() || meta.len() != pack.size || meta.len() > MAX_PACK_INDEX_BYTES {
            return Err(bad(format!(
                "{} is not a file of {} bytes",
                path.display(),
                pack.size
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let digest = hash_bytes(&bytes);
        if digest.sha256 != pack.sha256 {
            return Err(bad(format!("it hashes to {}", digest.sha256)));
        }
        PackIndex::parse(&bytes).map_err(|e| bad(e.to_string()))
    }

    /// Copies the pack blob into the store, hashing the whole blob and each
    /// file's bytes in it.
    fn copy_pack(
        &self,
        tool_id: &str,
        index: &PackIndex,
        dir: &Path,
        bad: &dyn Fn(String) -> ImportError,
    ) -> Result<(), ImportError> {
        let hex = index.pack_hex();
        let src = dir.join(&hex);
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| ImportError::Io {
                tool_id: tool_id.to_owned(),
                path,
                source,
            }
        };
        let mut reader = BufReader::new(fs_err::File::open(&src).map_err(io_err(&src))?);
        let (file, temp) = fsutil::create_temp(&self.tmp_dir(), &hex).map_err(io_err(&src))?;
        let result = (|| {
            let mut out = std::io::BufWriter::new(file);
            let mut whole = Sha256::new();
            let mut buf = Vec::new();
            for (i, e) in index.entries.iter().enumerate() {
                buf.resize(e.len as usize, 0);
                reader.read_exact(&mut buf).map_err(io_err(&src))?;
                if Sha256::digest(&buf)[..] != e.sha256 {
                    return Err(bad(format!(
                        "file {i} of the pack is not the file it lists"
                    )));
                }
                whole.update(&buf);
                out.write_all(&buf).map_err(io_err(&temp))?;
            }
            if reader.read(&mut [0]).map_err(io_err(&src))? != 0 {
                return Err(bad("the pack is longer than its index says".into()));
            }
            if whole.finalize()[..] != index.pack_sha256 {
                return Err(bad("the pack does not hash to its index's SHA-256".into()));
            }
            let file = out
                .into_inner()
                .map_err(|e| io_err(&temp)(e.into_error()))?;
            file.sync_all().map_err(io_err(&temp))?;
            std::fs::set_permissions(&temp, Permissions::from_mode(0o444))
                .map_err(io_err(&temp))?;
            let dest = self.blob_path(&hex);
            tooldelta_core::fs::persist_with(&temp, &dest, Durability::Each).map_err(io_err(&dest))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }
}
