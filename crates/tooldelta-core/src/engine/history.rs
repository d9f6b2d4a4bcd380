//! Releases over time: pruning, garbage collection, rollback, history.

use std::io;

use super::remote;
use super::update::Update;
use super::{Engine, RollbackReport, check_tool_id};
use crate::activate;
use crate::error::UpdateError;
use crate::events::NullReporter;
use crate::layout::Layout;
use crate::lock::FileLock;
use crate::manifest::parse_version;
use crate::state::{HistoryEntry, ToolState};
use crate::store::{GcStats, Store, referenced_objects};
use tokio_util::sync::CancellationToken;

/// Kept releases other than `active`, most recently active first, then by
/// version (newest first) for those the history does not mention.
fn others_by_recency(
    layout: &Layout,
    tool_id: &str,
    state: &ToolState,
    active: &str,
) -> io::Result<Vec<String>> {
    let mut kept = activate::kept_releases(layout, tool_id)?;
    kept.retain(|v| v != active);
    let last_active = |v: &str| state.history.iter().rposition(|h| h.version == v);
    kept.sort_by(|a, b| {
        last_active(b)
            .cmp(&last_active(a))
            .then_with(|| parse_version(b).ok().cmp(&parse_version(a).ok()))
            .then_with(|| b.cmp(a))
    });
    Ok(kept)
}

/// Removes releases beyond the `keep_releases` most recent inactive ones.
pub(super) fn prune(
    engine: &Engine,
    tool_id: &str,
    state: &ToolState,
    active: &str,
) -> io::Result<Vec<String>> {
    let others = others_by_recency(&engine.layout, tool_id, state, active)?;
    let doomed: Vec<String> = others
        .into_iter()
        .skip(engine.config.keep_releases)
        .collect();
    for version in &doomed {
        activate::remove_release(&engine.layout, tool_id, version)?;
    }
    Ok(doomed)
}

/// Removes objects no stored manifest references, unless an updater of any
/// tool is between fetch and activation (it holds the store lock shared).
pub(super) fn collect_garbage(layout: &Layout, store: &Store) -> io::Result<GcStats> {
    let Some(_lock) = FileLock::try_exclusive(&layout.gc_lock_path())? else {
        return Ok(GcStats::default());
    };
    let keep = referenced_objects(layout)?;
    store.gc(&keep)
}

pub(super) async fn rollback(
    engine: &Engine,
    tool_id: &str,
) -> Result<RollbackReport, UpdateError> {
    let cancel = CancellationToken::new();
    let update = Update::new(engine, tool_id, &NullReporter, &cancel);
    let _lock = update.prepare().await?;
    let installed =
        remote::installed(engine, tool_id)?.ok_or_else(|| UpdateError::NotInstalled {
            tool_id: tool_id.to_owned(),
            root: engine.root().to_owned(),
        })?;
    let mut state = remote::load_state(engine, tool_id)?;
    let layout = &engine.layout;
    let releases = layout.releases_dir(tool_id);
    let candidates = others_by_recency(layout, tool_id, &state, &installed.version)
        .map_err(UpdateError::io(tool_id, "list", &releases))?;
    let target = candidates
        .into_iter()
        .find(|v| layout.manifest_path(tool_id, v).is_file())
        .ok_or_else(|| UpdateError::NoPreviousRelease {
            tool_id: tool_id.to_owned(),
            active: installed.version.clone(),
        })?;
    let link = layout.current_link(tool_id);
    activate::swap_current(layout, tool_id, &target)
        .map_err(UpdateError::io(tool_id, "switch", &link))?;
    let now = remote::installed(engine, tool_id)?.expect("current was just set");
    // A rollback is the user's choice: it never lowers the no-rollback floor.
    update.record(
        &mut state,
        &target,
        &now.hash,
        Some(installed.version.clone()),
        "rollback",
        false,
    );
    Ok(RollbackReport {
        tool_id: tool_id.to_owned(),
        from_version: installed.version,
        to_version: target,
        manifest_hash: now.hash,
    })
}

pub(super) fn list(engine: &Engine, tool_id: &str) -> Result<Vec<HistoryEntry>, UpdateError> {
    check_tool_id(tool_id)?;
    Ok(remote::load_state(engine, tool_id)?.history)
}
