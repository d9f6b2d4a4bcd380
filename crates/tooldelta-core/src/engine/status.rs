//! `status` and `overview`: what is installed under the root, and what the
//! mirrors offer — one manifest fetch and verification per tool, shared by
//! the status line and the planned delta (the app's refresh asks once).

use super::env::{Env, UpdateOptions};
use super::follow::hold;
use super::installed::Local;
use super::offer::fetch_verified;
use super::{releases, update};
use crate::error::UpdateError;
use crate::lock::FileLock;
use crate::manifest::is_valid_tool_id;
use crate::report::{ToolStatus, UpdateCheck};

/// A tool's status with the check of what the mirrors offer, from one
/// manifest fetch ([`Engine::overview`](super::Engine::overview)).
#[derive(Debug)]
pub struct ToolOverview {
    /// What `status` reports.
    pub status: ToolStatus,
    /// What `check` reports, for an installed tool when mirrors are configured.
    pub check: Option<Result<UpdateCheck, UpdateError>>,
}

/// Every tool under the root, sorted.
pub(super) fn tool_ids(env: &Env) -> Result<Vec<String>, UpdateError> {
    let tools_dir = env.layout.tools_dir();
    let mut ids = Vec::new();
    match std::fs::read_dir(&tools_dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_valid_tool_id(&name) && entry.path().is_dir() {
                    ids.push(name);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(UpdateError::io("*", "list", &tools_dir)(e)),
    }
    ids.sort();
    Ok(ids)
}

pub(super) async fn all(env: &Env) -> Result<Vec<ToolStatus>, UpdateError> {
    let mut out = Vec::new();
    for id in tool_ids(env)? {
        out.push(one(env, &id, false).await?.status);
    }
    Ok(out)
}

pub(super) async fn overview(env: &Env) -> Result<Vec<ToolOverview>, UpdateError> {
    let mut out = Vec::new();
    for id in tool_ids(env)? {
        out.push(one(env, &id, true).await?);
    }
    Ok(out)
}

/// One tool's status; with `plan`, also the delta an update would fetch
/// (for an installed tool, whenever mirrors are configured).
async fn one(env: &Env, tool_id: &str, plan: bool) -> Result<ToolOverview, UpdateError> {
    let layout = &env.layout;
    let local = Local::read(env, tool_id)?;
    let releases_dir = layout.releases_dir(tool_id);
    let releases = releases::by_version(layout, tool_id).map_err(UpdateError::io(
        tool_id,
        "list",
        &releases_dir,
    ))?;
    let installed = local.installed.as_ref();
    let mut status = ToolStatus {
        tool_id: tool_id.to_owned(),
        version: installed.map(|i| i.version.clone()),
        manifest_hash: installed.map(|i| i.hash.clone()),
        releases,
        highest_accepted: local.state.highest_accepted.clone(),
        updater_running: FileLock::is_held(&layout.lock_path(tool_id)),
        available_version: None,
        update_available: None,
        check_error: None,
        release_notes: None,
        channel: None,
        hold: hold(env, tool_id, installed.map(|i| i.version.as_str()))?,
        pending: local.state.pending.clone(),
        in_use: FileLock::is_held_any(&layout.in_use_lock_path(tool_id)),
    };
    let has_mirrors = env.fetcher.has_mirrors();
    let report_offer = has_mirrors && !env.config.trust.is_empty();
    let want_plan = plan && has_mirrors && installed.is_some();
    if !report_offer && !want_plan {
        return Ok(ToolOverview {
            status,
            check: None,
        });
    }
    let offered = fetch_verified(env, tool_id, &UpdateOptions::default(), &local).await;
    if report_offer {
        match &offered {
            Ok(offer) => {
                let verified = &offer.verified;
                status.available_version = Some(verified.version().to_string());
                status.update_available = Some(installed.is_none_or(|i| i.hash != verified.hash()));
                status
                    .release_notes
                    .clone_from(&verified.manifest().release_notes);
                status.channel.clone_from(&offer.channel);
            }
            Err(e) => status.check_error = Some(e.info()),
        }
    }
    let check = if want_plan {
        Some(match offered {
            Ok(offer) => update::plan_check(env, tool_id, &local, &offer).await,
            Err(e) => Err(e),
        })
    } else {
        None
    };
    Ok(ToolOverview { status, check })
}
