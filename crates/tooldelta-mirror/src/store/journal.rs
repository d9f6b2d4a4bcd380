//! Batched durability of `import` (the core's [`Journal`]): small blobs are
//! written without their own fsync, named in a journal written durably
//! before the first of them, and made durable by one `syncfs` before the
//! manifest is listed. A journal left by an import that died is handled when
//! the store is next opened: from an earlier boot (the machine stopped
//! before the sync) every blob it names is re-hashed and dropped when it no
//! longer matches; from this boot, once its process is gone, one sync makes
//! its blobs durable (the kernel kept them).

use std::io;
use std::path::PathBuf;

use tooldelta_core::fs::{Durability, Journal, Leftover, remove_file_if_exists, sync_filesystems};
use tooldelta_core::hash::hash_file;
use tooldelta_core::manifest::{Manifest, is_sha256_hex};

use super::Store;

impl Store {
    /// `STORE/journal/`.
    pub(crate) fn journal_dir(&self) -> PathBuf {
        self.root.join("journal")
    }

    /// Durably names the small blobs this import will write; `None` when
    /// there are none.
    pub(super) fn begin_journal(&self, manifest: &Manifest) -> io::Result<Option<Journal>> {
        let mut names = manifest
            .files
            .iter()
            .filter(|f| Durability::for_object(f.size) == Durability::Batched)
            .filter(|f| !self.has_blob(&f.sha256))
            .map(|f| f.sha256.as_str())
            .peekable();
        if names.peek().is_none() {
            return Ok(None);
        }
        let path = self
            .journal_dir()
            .join(format!("{}-{}", std::process::id(), manifest.tool_id));
        Journal::begin(&path, names).map(Some)
    }

    /// Handles the journals of imports that died (see the module docs).
    pub(super) fn recover_journals(&self) -> io::Result<()> {
        let Ok(entries) = std::fs::read_dir(self.journal_dir()) else {
            return Ok(());
        };
        for entry in entries {
            let entry = entry?;
            // A journal still being written (`write_atomic`'s temp file).
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let Some(left) = Leftover::read(&path)? else {
                continue;
            };
            if left.this_boot {
                if owner_alive(&path) {
                    continue;
                }
            } else {
                for hex in left.names.iter().filter(|h| is_sha256_hex(h)) {
                    let blob = self.blob_path(hex);
                    if blob.exists() && !hash_file(&blob).is_ok_and(|d| d.sha256 == *hex) {
                        tracing::warn!(blob = %hex, "dropping a blob torn by a machine stop");
                        remove_file_if_exists(&blob)?;
                    }
                }
            }
            sync_filesystems(&[&self.root])?;
            remove_file_if_exists(&path)?;
        }
        Ok(())
    }
}

/// Whether the process that named the journal `PID-TOOL` still runs.
fn owner_alive(path: &std::path::Path) -> bool {
    let pid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('-').next())
        .and_then(|p| p.parse::<u32>().ok());
    pid.is_some_and(|pid| {
        pid == std::process::id() || PathBuf::from(format!("/proc/{pid}")).exists()
    })
}
