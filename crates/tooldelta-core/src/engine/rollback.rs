//! `rollback` (the previously active release, still kept, verified and
//! healed if need be, made active again) and `history` (the activations of a
//! tool).

use tokio_util::sync::CancellationToken;

use super::env::Env;
use super::heal::{self, Damage};
use super::installed::{Installed, Local, load_state, read_manifest};
use super::releases;
use super::session::{Activation, Session};
use crate::activate;
use crate::error::UpdateError;
use crate::events::{Phase, Reporter};
use crate::fetch::Fetched;
use crate::report::FileStatus;
use crate::report::RollbackReport;
use crate::state::HistoryEntry;

pub(super) async fn rollback(
    env: &Env,
    tool_id: &str,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Result<RollbackReport, UpdateError> {
    let s = Session::open(env, tool_id, reporter, cancel).await?;
    let Local {
        installed,
        mut state,
    } = Local::read(env, tool_id)?;
    let installed = installed.ok_or_else(|| UpdateError::NotInstalled {
        tool_id: tool_id.to_owned(),
        root: env.config.root.clone(),
    })?;
    let layout = &env.layout;
    let releases_dir = layout.releases_dir(tool_id);
    let target = releases::rollback_target(layout, tool_id, &state, &installed.version)
        .map_err(s.io("list", &releases_dir))?
        .ok_or_else(|| UpdateError::NoPreviousRelease {
            tool_id: tool_id.to_owned(),
            active: installed.version.clone(),
        })?;
    let healed = heal_target(&s, &target).await?;
    // Never switch under a running job (a rollback is a switch too).
    let _switching = super::stage::exclusive_use(&s, &target).await?;
    let link = layout.current_link(tool_id);
    // The commit point: `current` now names the earlier release.
    activate::swap_current(layout, tool_id, &target).map_err(s.io("switch", &link))?;
    let now = Installed::read(env, tool_id)?.expect("current was just set");
    // A rollback is the user's choice: it never lowers the no-rollback floor.
    s.record(
        &mut state,
        Activation {
            version: &target,
            hash: &now.hash,
            from_version: Some(installed.version.clone()),
            action: "rollback",
            raise_floor: false,
            transfer: None,
        },
    );
    Ok(RollbackReport {
        tool_id: tool_id.to_owned(),
        from_version: installed.version,
        to_version: target,
        manifest_hash: now.hash,
        repaired: healed.damage.bad_paths(),
        removed: healed.damage.extra,
        files_downloaded: healed.files_downloaded,
        bytes_downloaded: healed.fetched.downloaded,
    })
}

/// What the rollback had to put back in its target.
struct Healed {
    damage: Damage,
    files_downloaded: u64,
    fetched: Fetched,
}

/// A kept release may have been damaged since it was active (an in-place
/// edit of a shared file, a disk fault): it is verified, healed from the
/// store or the mirror, and verified again, before `current` may name it.
async fn heal_target(s: &Session<'_>, version: &str) -> Result<Healed, UpdateError> {
    let kept = read_manifest(s.env, s.tool_id, version)?;
    let dir = s.env.layout.release_dir(s.tool_id, version);
    s.phase(Phase::Verify);
    let checks = heal::check_release(s.tool_id, &dir, &kept.manifest).await?;
    let damage = Damage::from_checks(&kept.manifest, &checks);
    if damage.is_empty() {
        return Ok(Healed {
            damage,
            files_downloaded: 0,
            fetched: Fetched::default(),
        });
    }
    s.phase(Phase::Repair);
    let gc_guard = s.gc_guard().await?;
    let (files_downloaded, fetched) = heal::ensure_objects(s, version, &dir, &damage).await?;
    heal::replace_files(&dir, &s.store, &damage)
        .await
        .map_err(s.io("repair", &dir))?;
    drop(gc_guard);
    let after = heal::check_release(s.tool_id, &dir, &kept.manifest).await?;
    let still_bad: Vec<String> = after
        .iter()
        .filter(|c| c.status != FileStatus::Ok)
        .map(|c| c.path.clone())
        .collect();
    if !still_bad.is_empty() {
        return Err(UpdateError::NoGoodCopy {
            tool_id: s.tool_id.to_owned(),
            version: version.to_owned(),
            files: still_bad,
            cause: None,
        });
    }
    Ok(Healed {
        damage,
        files_downloaded,
        fetched,
    })
}

pub(super) fn history(env: &Env, tool_id: &str) -> Result<Vec<HistoryEntry>, UpdateError> {
    Env::check_tool_id(tool_id)?;
    Ok(load_state(env, tool_id)?.history)
}
