//! The disk steps of an update around its commit point: leftovers of a dead
//! run cleared, the verified manifest stored, the release staged from the
//! store and `current` swapped (the commit point), then old releases pruned
//! and unreferenced objects collected.

use tokio::task::spawn_blocking;

use super::releases;
use super::session::Session;
use crate::activate::{self, Linker};
use crate::error::UpdateError;
use crate::events::Phase;
use crate::fs::{remove_stale_temps, remove_tree_if_exists, write_atomic};
use crate::lock::FileLock;
use crate::signing::VerifiedManifest;
use crate::state::ToolState;

/// Drops what a run that died left behind, under the tool's lock.
pub(super) fn clear_leftovers(s: &Session<'_>) -> Result<(), UpdateError> {
    let layout = &s.env.layout;
    // An earlier run that died mid-stage left a half-built folder: drop it.
    let staging = layout.staging_dir(s.tool_id);
    remove_tree_if_exists(&staging).map_err(s.io("remove", &staging))?;
    // … and one killed mid-write left temporary files (`.state.json.tmp-PID`,
    // `.current.tmp-PID`); under the tool's lock no live writer owns them.
    for dir in [layout.manifests_dir(s.tool_id), layout.tool_dir(s.tool_id)] {
        remove_stale_temps(&dir).map_err(s.io("remove", &dir))?;
    }
    Ok(())
}

/// Writes the verified manifest bytes to `manifests/<version>.json` (atomic).
pub(super) async fn store_manifest(
    s: &Session<'_>,
    verified: &VerifiedManifest,
    version: &str,
) -> Result<(), UpdateError> {
    let path = s.env.layout.manifest_path(s.tool_id, version);
    let bytes = verified.bytes().to_vec();
    let target = path.clone();
    let written = spawn_blocking(move || {
        fs_err::create_dir_all(target.parent().expect("manifests/ is a folder"))?;
        write_atomic(&target, &bytes)
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))
    .and_then(|r| r);
    written.map_err(s.io("write", &path))
}

/// Builds `releases/<version>/` from the store, then swaps `current`.
pub(super) async fn stage_and_activate(
    s: &Session<'_>,
    verified: &VerifiedManifest,
    version: &str,
) -> Result<(), UpdateError> {
    if s.cancel.is_cancelled() {
        return Err(s.cancelled());
    }
    // No release is built, let alone switched to, under a running job.
    let _switching = exclusive_use(s, version).await?;
    let layout = s.env.layout.clone();
    let store = s.store.clone();
    let manifest = verified.manifest().clone();
    let (tool_id, version_owned) = (s.tool_id.to_owned(), version.to_owned());
    let staged = spawn_blocking(move || {
        let stage = activate::stage_release(
            &layout,
            &store,
            &Linker::default(),
            &tool_id,
            &version_owned,
            &manifest,
        )?;
        activate::install_release(&layout, &tool_id, &version_owned, &stage)
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))
    .and_then(|r| r);
    let releases = s.env.layout.releases_dir(s.tool_id);
    if let Err(e) = staged {
        // A half-built release is no use to anyone: leave no temporary
        // folder behind (the next run would clear it, but may never come).
        let staging = s.env.layout.staging_dir(s.tool_id).join(version);
        let _ = remove_tree_if_exists(&staging);
        return Err(s.io("stage", &releases)(e));
    }
    if s.cancel.is_cancelled() {
        return Err(s.cancelled());
    }
    s.phase(Phase::Activate);
    let link = s.env.layout.current_link(s.tool_id);
    // The commit point: past this rename the new release is active.
    activate::swap_current(&s.env.layout, s.tool_id, version).map_err(s.io("switch", &link))
}

/// Takes the tool's in-use lock exclusively for a switch of `current`,
/// waiting up to `in_use_wait` for running jobs (`tooldelta run`, or any
/// launcher holding `flock -s` on it) to end; else the switch to `version`
/// is deferred with [`UpdateError::InUse`]. Held until the swap is done, so
/// a job starting meanwhile waits and then runs the new release.
pub(super) async fn exclusive_use(s: &Session<'_>, version: &str) -> Result<FileLock, UpdateError> {
    let path = s.env.layout.in_use_lock_path(s.tool_id);
    FileLock::exclusive_within(&path, s.env.config.in_use_wait)
        .await
        .map_err(s.io("lock", &path))?
        .ok_or_else(|| UpdateError::InUse {
            tool_id: s.tool_id.to_owned(),
            version: version.to_owned(),
            path,
        })
}

/// Prunes old releases, then collects the objects only they referenced.
/// Past the commit point a failure here is logged, never reported as a
/// failed update.
pub(super) async fn cleanup(s: &Session<'_>, state: &ToolState, active: &str) {
    match releases::prune(s.env, s.tool_id, state, active) {
        // Nothing pruned: no object lost its last reference in this run.
        Ok(pruned) if pruned.is_empty() => return,
        Ok(_) => {}
        Err(e) => tracing::warn!("{}: pruning old releases failed: {e}", s.tool_id),
    }
    let layout = s.env.layout.clone();
    let store = s.store.clone();
    let gc = spawn_blocking(move || releases::collect_garbage(&layout, &store)).await;
    match gc {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!("{}: garbage collection failed: {e}", s.tool_id),
        Err(e) => tracing::warn!("{}: garbage collection failed: {e}", s.tool_id),
    }
}
