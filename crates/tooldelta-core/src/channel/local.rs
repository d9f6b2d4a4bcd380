//! What a workstation keeps of channels and holds, under its root:
//!
//! ```text
//! ROOT/tools/<id>/channels/<channel>.json   the channel document accepted last (as signed)
//! ROOT/tools/<id>/hold.json                 a technician's hold: {"version": …, "at": …}
//! ```
//!
//! The accepted document is what makes replay and freeze defences work: a
//! lower `sequence` is refused against it, and when a mirror withholds the
//! channel the client keeps following it until it expires.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ChannelDocument, is_valid_channel};
use crate::fs::write_atomic;
use crate::layout::Layout;

/// Where the channel document accepted last for `tool_id` is kept.
pub fn accepted_path(layout: &Layout, tool_id: &str, channel: &str) -> PathBuf {
    debug_assert!(is_valid_channel(channel));
    layout
        .tool_dir(tool_id)
        .join("channels")
        .join(format!("{channel}.json"))
}

/// The document accepted last (its bytes), if any.
pub fn read_accepted(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match fs_err::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `sequence` and hash of stored bytes (unchecked: they were verified when
/// stored; a damaged file gives `None` and so no replay floor, which the
/// signature check of the next document still guards).
pub fn sequence_of(bytes: &[u8]) -> Option<(u64, String)> {
    let doc: ChannelDocument = serde_json::from_slice(bytes).ok()?;
    let hash = doc.hash();
    Some((doc.sequence, hash))
}

/// A technician's hold on a tool.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The version the tool is held at (`None`: whatever is active).
    pub version: Option<String>,
    /// RFC 3339 time the hold was set (`None` for a hold from the settings).
    #[serde(default)]
    pub at: Option<String>,
}

/// `tools/<id>/hold.json`.
pub fn hold_path(layout: &Layout, tool_id: &str) -> PathBuf {
    layout.tool_dir(tool_id).join("hold.json")
}

/// The hold set on the workstation, if any.
pub fn read_hold(layout: &Layout, tool_id: &str) -> std::io::Result<Option<Hold>> {
    let path = hold_path(layout, tool_id);
    match fs_err::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets a hold (atomically).
pub fn write_hold(layout: &Layout, tool_id: &str, hold: &Hold) -> std::io::Result<()> {
    let mut text = serde_json::to_vec_pretty(hold).expect("a hold serializes");
    text.push(b'\n');
    let path = hold_path(layout, tool_id);
    fs_err::create_dir_all(layout.tool_dir(tool_id))?;
    write_atomic(&path, &text)
}

/// Removes a hold; `false` when there was none.
pub fn remove_hold(layout: &Layout, tool_id: &str) -> std::io::Result<bool> {
    match fs_err::remove_file(hold_path(layout, tool_id)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}
