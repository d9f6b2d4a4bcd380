//! The reports of CONTRACT §2: stable field names, deterministic order.

use serde::{Deserialize, Serialize};

use crate::channel::ChannelDecision;
use crate::channel::local::Hold;
use crate::error::ErrorInfo;
use crate::signing::SignatureCheck;
use crate::state::Pending;

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
    /// Bytes of changed files rebuilt from chunks already on disk (old
    /// versions, other tools) instead of being downloaded.
    pub bytes_from_local_chunks: u64,
    /// `manifest_hash` of the installed manifest.
    pub manifest_hash: String,
    /// The signature verdict and key id.
    pub signature: SignatureCheck,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// `true` when `to_version` was only downloaded, not switched to
    /// (`--download-only`): it is then pending, and `from_version` stays active.
    #[serde(default)]
    pub download_only: bool,
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
    /// For a modified file: how many other paths share its inode (the store
    /// object, kept releases, other tools' releases). An in-place edit of a
    /// hard link changed them all; `repair` heals them together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub shared_links: Option<u64>,
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

/// What an update would do, without doing it (the dashboard's pending delta).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateCheck {
    /// The tool.
    pub tool_id: String,
    /// The active version, if installed.
    pub installed_version: Option<String>,
    /// The version the mirror offers (verified).
    pub available_version: String,
    /// Whether the offered manifest is exactly the installed one.
    pub up_to_date: bool,
    /// `manifest_hash` of the offered manifest.
    pub manifest_hash: String,
    /// Signature verdict of the offered manifest (always `valid`: others are errors).
    pub signature: SignatureCheck,
    /// What it would fetch and reuse.
    #[serde(flatten)]
    pub delta: Delta,
    /// The offered version's `release_notes` (signed; inert text, never HTML).
    pub release_notes: Option<String>,
    /// What the tool's channel decided for this workstation, when one is published.
    pub channel: Option<ChannelDecision>,
    /// The technician's hold, when the tool is held.
    pub hold: Option<Hold>,
    /// A downloaded version waiting to be switched to, if any.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// Whether running jobs hold the tool's in-use lock right now.
    #[serde(default)]
    pub in_use: bool,
}

/// The pending delta of an update: what it would fetch, resume, reuse and drop.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// Files whose content must be downloaded.
    pub files_to_fetch: u64,
    /// Bytes to download, before resume: for files with a chunk index, the
    /// index and the missing chunks only (exact, from the index).
    pub bytes_to_fetch: u64,
    /// Bytes of the files to fetch that will be rebuilt from chunks already
    /// on disk instead of downloaded.
    pub bytes_from_local_chunks: u64,
    /// Bytes already downloaded in `.partial` files that a run would resume.
    pub bytes_resumable: u64,
    /// Files whose content is already present.
    pub files_reused: u64,
    /// Their bytes: what the delta saves over a full download.
    pub bytes_saved: u64,
    /// Files of the active release the new one drops.
    pub files_to_remove: u64,
}

/// One installed tool, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolStatus {
    /// The tool.
    pub tool_id: String,
    /// The active version (`None` when a tool folder exists but nothing is active).
    pub version: Option<String>,
    /// `manifest_hash` of the active release.
    pub manifest_hash: Option<String>,
    /// Versions kept on disk (the active one included), newest first.
    pub releases: Vec<String>,
    /// The highest version accepted so far (the no-rollback floor).
    pub highest_accepted: Option<String>,
    /// Whether an updater holds the tool's lock right now.
    pub updater_running: bool,
    /// The version the mirrors offer as `latest`, when mirrors were given.
    pub available_version: Option<String>,
    /// Whether that differs from the active release.
    pub update_available: Option<bool>,
    /// Why the mirror check failed, if it did.
    pub check_error: Option<ErrorInfo>,
    /// The offered version's `release_notes`, when mirrors were given.
    pub release_notes: Option<String>,
    /// What the tool's channel decided for this workstation, when mirrors
    /// were given and a channel is published.
    pub channel: Option<ChannelDecision>,
    /// The technician's hold, when the tool is held.
    pub hold: Option<Hold>,
    /// A downloaded version waiting to be switched to, if any.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// Whether running jobs hold the tool's in-use lock right now.
    #[serde(default)]
    pub in_use: bool,
}

/// What `repair` did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairReport {
    /// The tool.
    pub tool_id: String,
    /// The active version that was repaired.
    pub version: String,
    /// Paths found `modified` or `missing` and replaced, sorted.
    pub files_repaired: Vec<String>,
    /// Paths found `extra` and removed, sorted.
    pub files_removed: Vec<String>,
    /// Files whose content had to be downloaded.
    pub files_downloaded: u64,
    /// Payload bytes downloaded.
    pub bytes_downloaded: u64,
    /// Bytes of partial downloads reused.
    pub bytes_resumed: u64,
    /// Bytes of repaired files rebuilt from chunks already on disk (the
    /// damaged file's own intact chunks, other objects) instead of downloaded.
    #[serde(default)]
    pub bytes_from_local_chunks: u64,
    /// Files of other releases (kept ones, other tools) that shared a
    /// damaged inode and were put back too.
    pub also_repaired: Vec<SharedRepair>,
    /// The verification after the repair.
    pub verify: VerifyReport,
    /// Wall time.
    pub duration_ms: u64,
}

/// What `rollback` did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackReport {
    /// The tool.
    pub tool_id: String,
    /// The version active before.
    pub from_version: String,
    /// The version active now.
    pub to_version: String,
    /// `manifest_hash` of the release now active.
    pub manifest_hash: String,
    /// Files of the target release that were damaged and put back before
    /// the switch (from the store, or fetched from the mirror).
    pub repaired: Vec<String>,
    /// Unlisted files removed from the target release before the switch.
    pub removed: Vec<String>,
    /// Objects fetched from the mirror to heal the target.
    pub files_downloaded: u64,
    /// Their payload bytes.
    pub bytes_downloaded: u64,
}

/// A release file outside the one being repaired that shared a damaged inode.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SharedRepair {
    /// The tool whose release it is (maybe another tool listing the same content).
    pub tool_id: String,
    /// The release (version) that held the damaged file.
    pub release: String,
    /// The file's path in that release.
    pub path: String,
}
