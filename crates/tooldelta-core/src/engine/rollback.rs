//! `rollback` (the previously active release, still kept, made active again)
//! and `history` (the activations of a tool).

use tokio_util::sync::CancellationToken;

use super::env::Env;
use super::installed::{Installed, Local, load_state};
use super::releases;
use super::session::{Activation, Session};
use crate::activate;
use crate::error::UpdateError;
use crate::events::NullReporter;
use crate::report::RollbackReport;
use crate::state::HistoryEntry;

pub(super) async fn rollback(env: &Env, tool_id: &str) -> Result<RollbackReport, UpdateError> {
    let cancel = CancellationToken::new();
    let s = Session::open(env, tool_id, &NullReporter, &cancel).await?;
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
        },
    );
    Ok(RollbackReport {
        tool_id: tool_id.to_owned(),
        from_version: installed.version,
        to_version: target,
        manifest_hash: now.hash,
    })
}

pub(super) fn history(env: &Env, tool_id: &str) -> Result<Vec<HistoryEntry>, UpdateError> {
    Env::check_tool_id(tool_id)?;
    Ok(load_state(env, tool_id)?.history)
}
