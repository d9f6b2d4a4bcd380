//! `status`: what is installed under the root, and what the mirrors offer.

use std::fs;

use super::{Engine, ToolStatus, UpdateOptions, remote};
use crate::activate;
use crate::error::UpdateError;
use crate::lock::FileLock;
use crate::manifest::{is_valid_tool_id, parse_version};

pub(super) async fn all(engine: &Engine) -> Result<Vec<ToolStatus>, UpdateError> {
    let tools_dir = engine.layout.tools_dir();
    let mut ids = Vec::new();
    match fs::read_dir(&tools_dir) {
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
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(one(engine, &id).await?);
    }
    Ok(out)
}

async fn one(engine: &Engine, tool_id: &str) -> Result<ToolStatus, UpdateError> {
    let layout = &engine.layout;
    let installed = remote::installed(engine, tool_id)?;
    let state = remote::load_state(engine, tool_id)?;
    let releases_dir = layout.releases_dir(tool_id);
    let mut releases = activate::kept_releases(layout, tool_id).map_err(UpdateError::io(
        tool_id,
        "list",
        &releases_dir,
    ))?;
    releases.sort_by(|a, b| {
        parse_version(b)
            .ok()
            .cmp(&parse_version(a).ok())
            .then_with(|| b.cmp(a))
    });
    let mut status = ToolStatus {
        tool_id: tool_id.to_owned(),
        version: installed.as_ref().map(|i| i.version.clone()),
        manifest_hash: installed.as_ref().map(|i| i.hash.clone()),
        releases,
        highest_accepted: state.highest_accepted.clone(),
        updater_running: FileLock::is_held(&layout.lock_path(tool_id)),
        available_version: None,
        update_available: None,
        check_error: None,
    };
    if engine.fetcher.has_mirrors() && !engine.config.trust.is_empty() {
        let floor = remote::floor(&state, installed.as_ref());
        match remote::fetch_verified(engine, tool_id, &UpdateOptions::default(), floor.as_ref())
            .await
        {
            Ok((verified, _)) => {
                status.available_version = Some(verified.version().to_string());
                status.update_available =
                    Some(installed.as_ref().is_none_or(|i| i.hash != verified.hash()));
            }
            Err(e) => status.check_error = Some(e.info()),
        }
    }
    Ok(status)
}
