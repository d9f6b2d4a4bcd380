//! Per-tool state: the highest version accepted (the no-rollback floor) and
//! the history of activations. Written by temp file + fsync + rename.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::CorruptCause;
use crate::fs::write_atomic;

/// One activation of a release.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The version made active.
    pub version: String,
    /// Its `manifest_hash`.
    pub manifest_hash: String,
    /// The version active before, if any.
    pub from_version: Option<String>,
    /// `update`, `rollback` or `repair`.
    pub action: String,
    /// RFC 3339 time of the activation.
    pub at: String,
    /// Bytes an `update` downloaded (resumed bytes included); absent for
    /// other actions and in state files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_downloaded: Option<u64>,
    /// Bytes an `update` reused instead of downloading: what the delta saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_saved: Option<u64>,
}

/// The contents of `tools/<id>/state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolState {
    /// The highest version accepted so far.
    #[serde(default)]
    pub highest_accepted: Option<String>,
    /// Activations, oldest first (bounded to the last [`MAX_HISTORY`]).
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// A version downloaded into the store and waiting to be switched to
    /// (`update --download-only`, or an activation deferred by the in-use lock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// A downloaded, verified version not yet active: its manifest is stored at
/// `manifests/<version>.json` and every object it lists is in the store.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The downloaded version.
    pub version: String,
    /// Its `manifest_hash`, as verified when it was downloaded: `activate`
    /// refuses a stored manifest that hashes to anything else.
    pub manifest_hash: String,
    /// RFC 3339 time the download finished.
    pub downloaded_at: String,
    /// Bytes that download carried over the network.
    pub bytes_downloaded: u64,
    /// Whether it is a signed channel rollback (allowed below the floor).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
    /// Why it is not active yet: `download_only` or `in_use`.
    pub reason: String,
}

/// History entries kept in the state file.
pub const MAX_HISTORY: usize = 200;

impl ToolState {
    /// Reads the state; a missing file is the empty state.
    pub fn load(path: &Path) -> Result<Self, CorruptCause> {
        match fs_err::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(CorruptCause::State),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(CorruptCause::Read(e)),
        }
    }

    /// Writes the state atomically and durably.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut text = serde_json::to_vec_pretty(self).expect("state always serializes");
        text.push(b'\n');
        write_atomic(path, &text)
    }

    /// Appends an activation and raises the floor when `raise_floor` says so.
    pub fn record(&mut self, entry: HistoryEntry, raise_floor: bool) {
        if raise_floor {
            let newer = match (&self.highest_accepted, parse(&entry.version)) {
                (Some(h), Some(v)) => parse(h).is_none_or(|h| v > h),
                (None, _) => true,
                (Some(_), None) => false,
            };
            if newer {
                self.highest_accepted = Some(entry.version.clone());
            }
        }
        // The pending version (or an older one) is active now: nothing waits.
        if let Some(p) = &self.pending
            && parse(&p.version) <= parse(&entry.version)
        {
            self.pending = None;
        }
        self.history.push(entry);
        if self.history.len() > MAX_HISTORY {
            let drop = self.history.len() - MAX_HISTORY;
            self.history.drain(..drop);
        }
    }

    /// The floor as a version.
    pub fn floor(&self) -> Option<semver::Version> {
        self.highest_accepted.as_deref().and_then(parse)
    }
}

fn parse(v: &str) -> Option<semver::Version> {
    crate::manifest::parse_version(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: &str) -> HistoryEntry {
        HistoryEntry {
            version: v.to_owned(),
            manifest_hash: String::new(),
            from_version: None,
            action: "update".into(),
            at: String::new(),
            bytes_downloaded: None,
            bytes_saved: None,
        }
    }

    #[test]
    fn floor_only_rises() {
        let mut s = ToolState::default();
        s.record(entry("1.2.0"), true);
        s.record(entry("1.10.0"), true);
        s.record(entry("1.3.0"), true);
        assert_eq!(s.highest_accepted.as_deref(), Some("1.10.0"));
        assert_eq!(s.history.len(), 3);
    }

    #[test]
    fn state_round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(ToolState::load(&path).unwrap(), ToolState::default());
        let mut s = ToolState::default();
        s.record(entry("2.0.0"), true);
        s.save(&path).unwrap();
        assert_eq!(ToolState::load(&path).unwrap(), s);
    }

    #[test]
    fn an_update_keeps_its_transfer_figures_and_old_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = ToolState::default();
        s.record(
            HistoryEntry {
                bytes_downloaded: Some(24),
                bytes_saved: Some(4096),
                ..entry("1.1.0")
            },
            true,
        );
        s.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"bytes_saved\": 4096") || text.contains("\"bytes_saved\":4096"),
            "{text}"
        );
        assert_eq!(ToolState::load(&path).unwrap(), s);
        // Written before the figures existed: they read as absent.
        std::fs::write(
            &path,
            r#"{"highest_accepted":"1.0.0","history":[{"version":"1.0.0","manifest_hash":"h","from_version":null,"action":"update","at":"t"}]}"#,
        )
        .unwrap();
        let old = ToolState::load(&path).unwrap();
        assert_eq!(old.history[0].bytes_saved, None);
        assert_eq!(old.history[0].bytes_downloaded, None);
    }
}
