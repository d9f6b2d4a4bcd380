//! The Storage panel's commands: the same figures and actions as
//! `tooldelta du`, `remove` and `gc`, over the one engine.

// Tauri hands commands their arguments (and `State`) by value.
#![allow(clippy::needless_pass_by_value)]

use tauri::{AppHandle, State};
use tooldelta_core::disk::{DiskUsage, GcOptions, GcReport, RemoveReport};

use crate::commands::{CmdResult, notify_changed};
use crate::state::AppState;

/// Where the disk under the root went (`tooldelta du`).
#[tauri::command]
pub fn disk_usage(state: State<'_, AppState>) -> CmdResult<DiskUsage> {
    state.engine()?.disk_usage().map_err(|e| e.info())
}

/// Uninstalls a tool (`tooldelta remove`); content other tools list stays.
#[tauri::command]
pub async fn remove_tool(
    app: AppHandle,
    state: State<'_, AppState>,
    tool_id: String,
) -> CmdResult<RemoveReport> {
    let report = state
        .engine()?
        .remove(&tool_id)
        .await
        .map_err(|e| e.info())?;
    notify_changed(&app);
    Ok(report)
}

/// Gives space back (`tooldelta gc`): unreferenced content always, partial
/// downloads and kept releases when asked.
#[tauri::command]
pub async fn collect_garbage(
    app: AppHandle,
    state: State<'_, AppState>,
    partials: bool,
    releases: bool,
) -> CmdResult<GcReport> {
    let opts = GcOptions {
        partials,
        older_than: None,
        releases,
    };
    let report = state.engine()?.gc(opts).await.map_err(|e| e.info())?;
    if !report.releases_removed.is_empty() {
        notify_changed(&app);
    }
    Ok(report)
}
