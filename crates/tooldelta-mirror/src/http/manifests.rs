//! Parsed manifests kept in memory, so a `files/{path}` request does not parse
//! a large manifest again. An entry is reused only while the file's size and
//! modification time are unchanged (`import --replace` rewrites it).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use bytes::Bytes;
use tooldelta_core::manifest::Manifest;

use crate::store::Store;

/// Entries kept at most; past it the cache starts over (simple and bounded).
const MAX_ENTRIES: usize = 256;

type Entries = HashMap<(String, String), Arc<CachedManifest>>;

/// One stored manifest: its exact bytes and their parsed form.
#[derive(Debug)]
pub(crate) struct CachedManifest {
    stamp: (u64, Option<SystemTime>),
    pub bytes: Bytes,
    pub manifest: Manifest,
}

#[derive(Debug, Default)]
pub(crate) struct ManifestCache {
    entries: Mutex<Entries>,
}

impl ManifestCache {
    /// The manifest stored for `tool_id` in version folder `folder`.
    /// Blocking: call from a blocking task.
    pub(crate) fn load(
        &self,
        store: &Store,
        tool_id: &str,
        folder: &str,
    ) -> io::Result<Option<Arc<CachedManifest>>> {
        let path = store
            .root()
            .join("tools")
            .join(tool_id)
            .join(folder)
            .join("manifest.json");
        let stamp = match std::fs::symlink_metadata(&path) {
            Ok(meta) => (meta.len(), meta.modified().ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let key = (tool_id.to_owned(), folder.to_owned());
        if let Some(hit) = self.lock().get(&key).filter(|c| c.stamp == stamp) {
            return Ok(Some(Arc::clone(hit)));
        }
        let Some(bytes) = store.read_manifest(tool_id, folder)? else {
            return Ok(None);
        };
        // Import checked every rule; a store edited by hand that no longer
        // parses is an operator error, reported as such.
        let parsed = Manifest::parse(&bytes)
            .map_err(|e| io::Error::other(format!("stored manifest {}: {e}", path.display())))?;
        let entry = Arc::new(CachedManifest {
            stamp,
            bytes: Bytes::from(bytes),
            manifest: parsed.manifest,
        });
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, Arc::clone(&entry));
        Ok(Some(entry))
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
