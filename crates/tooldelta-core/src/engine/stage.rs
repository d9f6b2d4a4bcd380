//! The disk steps of an update around its commit point: leftovers of a dead
//! run cleared (journals of unsynced objects re-checked), the verified
//! manifest stored, the release staged from the store, one sync of the file
//! system, `current` swapped (the commit point), then old releases pruned and
//! unreferenced objects collected.

use tokio::task::spawn_blocking;

use super::installed::Installed;
use super::releases;
use super::session::Session;
use crate::activate::{self, Linker, Previous};
use crate::diff::Plan;
use crate::error::UpdateError;
use crate::events::Phase;
use crate::fs::{
    Durability, Journal, Leftover, remove_file_if_exists, remove_stale_temps,
    remove_tree_if_exists, sync_filesystems, write_atomic,
};
use crate::hash::hash_file;
use crate::lock::FileLock;
use crate::manifest::is_sha256_hex;
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
    let journals = layout.journal_dir();
    recover_journals(s).map_err(s.io("recover", &journals))
}

/// Journals a run left before its sync (see [`crate::fs::Journal`]): from an
/// earlier boot, every object they name is re-hashed and dropped when it no
/// longer matches (the machine stopped before those writes were durable);
/// this tool's own from this boot (its process died, the kernel kept the
/// bytes) is closed by one sync. Another tool's journal from this boot may
/// belong to a live run and is left to it.
fn recover_journals(s: &Session<'_>) -> std::io::Result<()> {
    let layout = &s.env.layout;
    let Ok(entries) = std::fs::read_dir(layout.journal_dir()) else {
        return Ok(());
    };
    let own = layout.journal_path(s.tool_id);
    // A temp file of this tool's journal write that died before its rename.
    let own_temp = format!(".{}.tmp-", s.tool_id);
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with(&own_temp) {
            remove_file_if_exists(&path)?;
            continue;
        }
        let Some(left) = Leftover::read(&path)? else {
            continue;
        };
        if left.this_boot {
            if path == own {
                sync_filesystems(&[&layout.objects_dir()])?;
                remove_file_if_exists(&path)?;
            }
            continue;
        }
        for name in left.names.iter().filter(|n| is_sha256_hex(n)) {
            let object = s.store.object_path(name);
            if object.exists() && !hash_file(&object).is_ok_and(|d| d.sha256 == *name) {
                tracing::warn!("{}: dropping {name}, torn by a machine stop", s.tool_id);
                s.store.remove_object(name)?;
            }
        }
        sync_filesystems(&[&layout.objects_dir()])?;
        remove_file_if_exists(&path)?;
    }
    Ok(())
}

/// Durably names the small objects this run will write without their own
/// fsync, before the first of them; `None` when there are none.
pub(super) fn begin_journal(s: &Session<'_>, plan: &Plan) -> Result<Option<Journal>, UpdateError> {
    let objects = plan.objects_to_fetch();
    let mut names = objects
        .iter()
        .filter(|f| Durability::for_object(f.size) == Durability::Batched)
        .map(|f| f.sha256.as_str())
        .peekable();
    if names.peek().is_none() {
        return Ok(None);
    }
    let path = s.env.layout.journal_path(s.tool_id);
    Journal::begin(&path, names)
        .map(Some)
        .map_err(s.io("write", &path))
}

/// Writes the verified manifest bytes to `manifests/<version>.json` (atomic).
pub(super) async fn store_manifest(
    s: &Session<'_>,
    verified: &VerifiedManifest,
    version: &str,
) -> Result<(), UpdateError> {
    let path = s.env.layout.manifest_path(s.tool_id, version);
    let bytes = verified.shared_bytes();
    let target = path.clone();
    let written = spawn_blocking(move || {
        fs_err::create_dir_all(target.parent().expect("manifests/ is a folder"))?;
        write_atomic(&target, bytes.as_slice())
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))
    .and_then(|r| r);
    written.map_err(s.io("write", &path))
}

/// Builds `releases/<version>/` from the store (unchanged files linked from
/// the active release), syncs the file system once, which makes the staged
/// folder and every object of `journal` durable, then swaps `current`.
pub(super) async fn stage_and_activate(
    s: &Session<'_>,
    verified: VerifiedManifest,
    version: &str,
    active: Option<Installed>,
    journal: Option<Journal>,
) -> Result<VerifiedManifest, UpdateError> {
    if s.cancel.is_cancelled() {
        return Err(s.cancelled());
    }
    // No release is built, let alone switched to, under a running job; a
    // deferred switch leaves its downloaded objects durable for `activate`.
    let _switching = match exclusive_use(s, version).await {
        Ok(lock) => lock,
        Err(e) => {
            make_durable(s, journal).await?;
            return Err(e);
        }
    };
    let layout = s.env.layout.clone();
    let store = s.store.clone();
    // Both manifests move to the blocking task and the new one comes back:
    // no copy of a 100,000-file manifest is made.
    let previous = active.map(|a| (layout.release_dir(s.tool_id, &a.version), a.manifest));
    let (tool_id, version_owned) = (s.tool_id.to_owned(), version.to_owned());
    let joined = spawn_blocking(move || {
        let previous = previous
            .as_ref()
            .map(|(dir, manifest)| Previous { dir, manifest });
        let staged = (|| {
            let stage = activate::stage_release(
                &layout,
                &store,
                &Linker::batched(),
                &tool_id,
                &version_owned,
                verified.manifest(),
                previous,
            )?;
            // The one durability step of the run: the objects fetched without
            // their own fsync and every staged file and folder.
            sync_filesystems(&[&layout.objects_dir(), &stage])?;
            if let Some(journal) = journal {
                journal.close()?;
            }
            activate::install_release(&layout, &tool_id, &version_owned, &stage)
        })();
        (staged, verified)
    })
    .await;
    let (staged, verified) = match joined {
        Ok(pair) => pair,
        Err(e) => {
            let releases = s.env.layout.releases_dir(s.tool_id);
            return Err(s.io("stage", &releases)(std::io::Error::other(e)));
        }
    };
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
    activate::swap_current(&s.env.layout, s.tool_id, version).map_err(s.io("switch", &link))?;
    Ok(verified)
}

/// Makes the objects a run wrote without their own fsync durable (one sync
/// of the store's filesystem) and closes the run's journal, for a run that
/// keeps its download without building a release.
pub(super) async fn make_durable(
    s: &Session<'_>,
    journal: Option<Journal>,
) -> Result<(), UpdateError> {
    let Some(journal) = journal else {
        return Ok(());
    };
    let objects = s.env.layout.objects_dir();
    let dir = objects.clone();
    spawn_blocking(move || {
        sync_filesystems(&[&dir])?;
        journal.close()
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r| r)
    .map_err(s.io("sync", &objects))
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
