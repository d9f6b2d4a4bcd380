//! The release lifecycle of a tool, in one place: which releases are kept,
//! in which order (by version for display, by recency for rollback and
//! pruning), pruning beyond `keep_releases`, and garbage collection of the
//! objects no kept release references (the keep-set).

use std::collections::BTreeSet;
use std::io;

use super::env::Env;
use crate::activate;
use crate::layout::Layout;
use crate::lock::FileLock;
use crate::manifest::parse_version;
use crate::state::ToolState;
use crate::store::{GcStats, Store, referenced_objects};

/// Kept releases (the active one included), newest version first.
pub(crate) fn by_version(layout: &Layout, tool_id: &str) -> io::Result<Vec<String>> {
    let mut releases = activate::kept_releases(layout, tool_id)?;
    releases.sort_by(|a, b| {
        parse_version(b)
            .ok()
            .cmp(&parse_version(a).ok())
            .then_with(|| b.cmp(a))
    });
    Ok(releases)
}

/// Kept releases other than `active`, most recently active first, then by
/// version (newest first) for those the history does not mention.
pub(crate) fn others_by_recency(
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

/// The release a rollback returns to: the most recently active other one
/// whose manifest is still stored.
pub(crate) fn rollback_target(
    layout: &Layout,
    tool_id: &str,
    state: &ToolState,
    active: &str,
) -> io::Result<Option<String>> {
    let candidates = others_by_recency(layout, tool_id, state, active)?;
    Ok(candidates
        .into_iter()
        .find(|v| layout.manifest_path(tool_id, v).is_file()))
}

/// Removes releases beyond the `keep_releases` most recent inactive ones.
pub(crate) fn prune(
    env: &Env,
    tool_id: &str,
    state: &ToolState,
    active: &str,
) -> io::Result<Vec<String>> {
    let others = others_by_recency(&env.layout, tool_id, state, active)?;
    let doomed: Vec<String> = others.into_iter().skip(env.config.keep_releases).collect();
    for version in &doomed {
        activate::remove_release(&env.layout, tool_id, version)?;
    }
    Ok(doomed)
}

/// The objects some stored manifest of any tool references: what GC keeps.
pub(crate) fn keep_set(layout: &Layout) -> io::Result<BTreeSet<String>> {
    referenced_objects(layout)
}

/// Removes objects outside the keep-set, unless an updater of any tool is
/// between fetch and activation (it holds the store lock shared).
pub(crate) fn collect_garbage(layout: &Layout, store: &Store) -> io::Result<GcStats> {
    let Some(_lock) = FileLock::try_exclusive(&layout.gc_lock_path())? else {
        return Ok(GcStats::default());
    };
    store.gc(&keep_set(layout)?)
}
