//! The reports of CONTRACT §2: stable field names, deterministic order.

use serde::{Deserialize, Serialize};

use crate::signing::SignatureCheck;

/// What `tooldelta update --json` prints.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// The tool.
    pub tool_id: String,
    /// The version active before, `None` on a first install.
    pub from_version: Option<String>,
    /// The version active now.
    pub to_version: String,
    /// Files fetched from a mirror in this run.
    pub files_downloaded: u64,
    /// Files of the new release whose content was verified by SHA-256 (all of them).
    pub files_verified: u64,
    /// Files of the old release that the new one no longer lists.
    pub files_deleted: u64,
    /// Files of the new release not fetched because their content was already present.
    pub files_unchanged: u64,
    /// Payload bytes fetched in this run.
    pub bytes_downloaded: u64,
    /// Sizes of the target files not fetched because they were already present.
    pub bytes_saved: u64,
    /// Bytes of partial downloads reused from an interrupted run.
    pub bytes_resumed: u64,
    /// `manifest_hash` of the installed manifest.
    pub manifest_hash: String,
    /// The signature verdict and key id.
    pub signature: SignatureCheck,
    /// Wall time of the run.
    pub duration_ms: u64,
}

/// The state of one file found by `verify`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Present with the expected size and SHA-256.
    Ok,
    /// Present, but its content differs.
    Modified,
    /// Listed in the manifest, absent on disk.
    Missing,
    /// On disk, not listed in the manifest.
    Extra,
}

/// One line of a verify report.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheck {
    /// Path inside the release.
    pub path: String,
    /// The verdict.
    pub status: FileStatus,
    /// From the manifest (`None` for an extra file).
    pub expected_sha256: Option<String>,
    /// From disk (`None` for a missing file).
    pub actual_sha256: Option<String>,
    /// From the manifest.
    pub expected_size: Option<u64>,
    /// From disk.
    pub actual_size: Option<u64>,
}

/// What `tooldelta verify --json` prints.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The tool.
    pub tool_id: String,
    /// The active version that was checked.
    pub version: String,
    /// Whether every file is `ok` and nothing is extra.
    pub ok: bool,
    /// One entry per file, sorted by path.
    pub files: Vec<FileCheck>,
}
