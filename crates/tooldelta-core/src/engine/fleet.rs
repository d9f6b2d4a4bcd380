//! A workstation's fleet report from its installed state: per tool the
//! active version and manifest hash, what the last verify found, how the
//! last update ended, channel, hold and a downloaded newer release.

use super::env::Env;
use super::follow::hold;
use super::installed::{Installed, Local};
use super::status;
use crate::channel::rollout::workstation_id;
use crate::error::UpdateError;
use crate::fleet::outcome::{last_update, last_verify, now};
use crate::fleet::{Integrity, LastResult, ToolReport, WorkstationReport, hostname};
use crate::store::Store;

pub(super) fn build(env: &Env) -> Result<WorkstationReport, UpdateError> {
    let root = &env.config.root;
    let id = workstation_id(root, env.config.rollout.workstation_id.as_deref()).map_err(
        UpdateError::io(
            "*",
            "read",
            root.join(crate::channel::rollout::WORKSTATION_ID_FILE),
        ),
    )?;
    let mut tools = Vec::new();
    for tool_id in status::tool_ids(env)? {
        tools.push(tool(env, &tool_id)?);
    }
    Ok(WorkstationReport {
        workstation_id: id,
        hostname: hostname(),
        reported_at: now(),
        tools,
        free_disk_bytes: Store::new(&env.layout).free_space().ok(),
        client_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
    })
}

fn tool(env: &Env, tool_id: &str) -> Result<ToolReport, UpdateError> {
    let layout = &env.layout;
    let installed = Installed::read(env, tool_id)?;
    let active = installed.as_ref().map(|i| i.version.clone());
    let verified = last_verify(layout, tool_id).filter(|v| active.as_ref() == Some(&v.version));
    let integrity = match &verified {
        Some(v) if v.ok => Integrity::Ok,
        Some(_) => Integrity::Modified,
        None => Integrity::Unknown,
    };
    let update = last_update(layout, tool_id);
    // The version `update --download-only` (or a deferred switch) left
    // waiting, as recorded in the tool's state.
    let pending = Local::read(env, tool_id)?.state.pending.map(|p| p.version);
    Ok(ToolReport {
        tool_id: tool_id.to_owned(),
        manifest_hash: installed.as_ref().map(|i| i.hash.clone()),
        integrity,
        last_result: update.as_ref().map_or(LastResult::None, |u| u.result),
        last_error: update.as_ref().and_then(|u| u.error.clone()),
        last_result_at: update.map(|u| u.at),
        verified_at: verified.map(|v| v.at),
        channel: Some(env.config.rollout.channel_for(tool_id).to_owned()),
        held: hold(env, tool_id, active.as_deref())?.is_some(),
        pending_version: pending,
        version: active,
    })
}
