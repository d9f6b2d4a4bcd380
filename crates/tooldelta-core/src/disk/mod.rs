//! Where a workstation's disk went (`tooldelta du`) and what `remove` and
//! `gc` gave back. The figures come from the disk itself: objects are
//! attributed to the tools whose stored manifests list them (the same set
//! garbage collection keeps), and files are counted once per inode, so a
//! release hard-linked from the store costs nothing twice.

mod usage;

use serde::{Deserialize, Serialize};

pub use usage::usage;

/// One kept release of a tool.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseUsage {
    /// The version.
    pub version: String,
    /// Whether it is the active release.
    pub active: bool,
    /// Sum of its files' sizes (what it holds, shared or not).
    pub bytes: u64,
}

/// One tool's share of the disk.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolUsage {
    /// The tool.
    pub tool_id: String,
    /// The active version.
    pub active: Option<String>,
    /// Releases on disk, newest first.
    pub releases: Vec<ReleaseUsage>,
    /// Bytes of stored objects only this tool lists: what `remove` frees.
    pub unique_bytes: u64,
    /// Bytes of stored objects this tool lists together with another tool:
    /// they stay when this tool is removed.
    pub shared_bytes: u64,
    /// Bytes of stored objects only non-active kept releases list: what
    /// dropping kept releases frees.
    pub kept_only_bytes: u64,
}

/// What `tooldelta du` reports.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskUsage {
    /// The install root.
    pub root: String,
    /// Every file under the root, each inode counted once.
    pub total_bytes: u64,
    /// Stored objects (verified content).
    pub objects_bytes: u64,
    /// Number of stored objects.
    pub objects: u64,
    /// Stored objects no stored manifest lists: what `gc` frees.
    pub unreferenced_bytes: u64,
    /// Interrupted downloads (`.partial` files): what `gc --partials` frees.
    pub partial_bytes: u64,
    /// Number of `.partial` files.
    pub partials: u64,
    /// Free bytes on the file system of the root.
    pub free_bytes: Option<u64>,
    /// Per tool, sorted by id.
    pub tools: Vec<ToolUsage>,
}

/// What `tooldelta gc` removed.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    /// Kept (non-active) releases dropped, as `tool@version`.
    pub releases_removed: Vec<String>,
    /// Unreferenced objects removed.
    pub objects_removed: u64,
    /// Their bytes.
    pub objects_bytes: u64,
    /// `.partial` files removed (with their `.etag`).
    pub partials_removed: u64,
    /// Their bytes.
    pub partials_bytes: u64,
    /// Whether objects and partials were left alone because an update was
    /// running (it holds the store lock); run `gc` again later.
    pub skipped_busy: bool,
}

/// What `tooldelta remove` did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveReport {
    /// The tool.
    pub tool_id: String,
    /// The version that was active.
    pub version: Option<String>,
    /// Every release removed, newest first.
    pub releases_removed: Vec<String>,
    /// What the collection after it freed (objects other tools list stay).
    pub gc: GcReport,
}

/// What `gc` should remove besides unreferenced objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcOptions {
    /// Remove interrupted downloads too.
    pub partials: bool,
    /// Only partials untouched for at least this long.
    pub older_than: Option<std::time::Duration>,
    /// Drop every kept release that is not active (no rollback target left).
    pub releases: bool,
}
