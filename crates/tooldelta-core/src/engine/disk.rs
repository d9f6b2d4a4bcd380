//! `remove` (uninstall a tool) and `gc` (give back what no kept release
//! needs): objects another tool or a kept release lists always stay, because
//! both go through the one keep-set of `releases`.

use std::time::SystemTime;

use super::env::Env;
use super::installed::load_state;
use super::releases::{by_version, keep_set, others_by_recency};
use crate::activate::{read_current, remove_release};
use crate::disk::{GcOptions, GcReport, RemoveReport};
use crate::error::UpdateError;
use crate::fs::{remove_file_if_exists, remove_tree_if_exists};
use crate::lock::FileLock;
use crate::store::Store;

/// Uninstalls a tool: its releases, manifests, state and hold go; then the
/// objects nothing else lists are collected.
pub(super) async fn remove(env: &Env, tool_id: &str) -> Result<RemoveReport, UpdateError> {
    super::env::Env::check_tool_id(tool_id)?;
    let layout = &env.layout;
    let tool_dir = layout.tool_dir(tool_id);
    if !tool_dir.is_dir() {
        return Err(UpdateError::NotInstalled {
            tool_id: tool_id.to_owned(),
            root: env.config.root.clone(),
        });
    }
    let lock_path = layout.lock_path(tool_id);
    let _lock = lock_tool(tool_id, &lock_path).await?;
    let current = layout.current_link(tool_id);
    let version =
        read_current(layout, tool_id).map_err(UpdateError::io(tool_id, "read", &current))?;
    let releases = by_version(layout, tool_id).map_err(UpdateError::io(
        tool_id,
        "list",
        layout.releases_dir(tool_id),
    ))?;
    // The commit point: once `current` is gone the tool is not installed;
    // the rest is cleanup that a second `remove` finishes if interrupted.
    remove_file_if_exists(&current).map_err(UpdateError::io(tool_id, "remove", &current))?;
    remove_tree_if_exists(&tool_dir).map_err(UpdateError::io(tool_id, "remove", &tool_dir))?;
    let gc = collect(env, GcOptions::default())?;
    Ok(RemoveReport {
        tool_id: tool_id.to_owned(),
        version,
        releases_removed: releases,
        gc,
    })
}

/// Drops kept releases (when asked), then unreferenced objects and old
/// partials, unless an update holds the store.
pub(super) async fn gc(env: &Env, opts: GcOptions) -> Result<GcReport, UpdateError> {
    let mut dropped = Vec::new();
    if opts.releases {
        for tool_id in super::status::tool_ids(env)? {
            dropped.extend(drop_kept(env, &tool_id).await?);
        }
    }
    let mut report = collect(env, opts)?;
    report.releases_removed = dropped;
    Ok(report)
}

/// Removes every non-active release of a tool (under its lock).
async fn drop_kept(env: &Env, tool_id: &str) -> Result<Vec<String>, UpdateError> {
    let layout = &env.layout;
    let lock_path = layout.lock_path(tool_id);
    let _lock = lock_tool(tool_id, &lock_path).await?;
    let current = layout.current_link(tool_id);
    let Some(active) =
        read_current(layout, tool_id).map_err(UpdateError::io(tool_id, "read", &current))?
    else {
        return Ok(Vec::new());
    };
    let state = load_state(env, tool_id)?;
    let releases = layout.releases_dir(tool_id);
    let others = others_by_recency(layout, tool_id, &state, &active)
        .map_err(UpdateError::io(tool_id, "list", &releases))?;
    let mut out = Vec::new();
    for version in others {
        remove_release(layout, tool_id, &version).map_err(UpdateError::io(
            tool_id,
            "remove",
            layout.release_dir(tool_id, &version),
        ))?;
        out.push(format!("{tool_id}@{version}"));
    }
    Ok(out)
}

async fn lock_tool(tool_id: &str, lock_path: &std::path::Path) -> Result<FileLock, UpdateError> {
    FileLock::exclusive(lock_path)
        .await
        .map_err(UpdateError::io(tool_id, "lock", lock_path))?
        .ok_or_else(|| UpdateError::Locked {
            tool_id: tool_id.to_owned(),
            path: lock_path.to_owned(),
        })
}

/// Objects outside the keep-set and (when asked) partials, under the store
/// lock held exclusively: an updater between fetch and activation holds it
/// shared, so its downloads and fresh objects are never collected.
fn collect(env: &Env, opts: GcOptions) -> Result<GcReport, UpdateError> {
    let layout = &env.layout;
    let gc_lock = layout.gc_lock_path();
    if !layout.objects_dir().is_dir() {
        return Ok(GcReport::default());
    }
    let Some(_lock) =
        FileLock::try_exclusive(&gc_lock).map_err(UpdateError::io("*", "lock", &gc_lock))?
    else {
        return Ok(GcReport {
            skipped_busy: true,
            ..GcReport::default()
        });
    };
    let store = Store::new(layout);
    let objects = layout.objects_sha256_dir();
    let keep = keep_set(layout).map_err(UpdateError::io("*", "read", layout.tools_dir()))?;
    let stats = store
        .gc(&keep)
        .map_err(UpdateError::io("*", "remove", &objects))?;
    let mut report = GcReport {
        objects_removed: stats.objects,
        objects_bytes: stats.bytes,
        ..GcReport::default()
    };
    if opts.partials {
        let partial_dir = layout.partial_dir();
        let (n, bytes) = remove_partials(layout, opts.older_than).map_err(UpdateError::io(
            "*",
            "remove",
            &partial_dir,
        ))?;
        report.partials_removed = n;
        report.partials_bytes = bytes;
    }
    Ok(report)
}

fn remove_partials(
    layout: &crate::layout::Layout,
    older_than: Option<std::time::Duration>,
) -> std::io::Result<(u64, u64)> {
    let (mut count, mut bytes) = (0, 0);
    let Ok(entries) = std::fs::read_dir(layout.partial_dir()) else {
        return Ok((0, 0));
    };
    let now = SystemTime::now();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(hex) = name.strip_suffix(".partial") else {
            continue;
        };
        let meta = entry.metadata()?;
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if older_than.is_some_and(|min| age < min) {
            continue;
        }
        remove_file_if_exists(&entry.path())?;
        remove_file_if_exists(&layout.etag_path(hex))?;
        count += 1;
        bytes += meta.len();
    }
    Ok((count, bytes))
}
