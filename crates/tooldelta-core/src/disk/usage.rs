//! `du`: the disk usage of an install root, from the disk.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{DiskUsage, ReleaseUsage, ToolUsage};
use crate::activate::{kept_releases, read_current};
use crate::layout::Layout;
use crate::manifest::{is_valid_tool_id, parse_version};
use crate::store::{Store, referenced_objects};

/// The digests and sizes a stored manifest lists (it was verified when
/// stored; sizes only need the fields below).
#[derive(serde::Deserialize)]
struct Listed {
    files: Vec<ListedFile>,
}

#[derive(serde::Deserialize)]
struct ListedFile {
    sha256: String,
    size: u64,
    #[serde(default)]
    chunks: Option<crate::manifest::ChunksRef>,
}

/// Which releases of which tools list one object.
#[derive(Default)]
struct Owners {
    /// Tools whose active release lists it.
    active: BTreeSet<String>,
    /// Tools whose kept, non-active releases list it.
    kept: BTreeSet<String>,
}

/// Measures the root. Reads only; safe while updates run (figures are then
/// a snapshot of a moving target).
pub fn usage(layout: &Layout) -> io::Result<DiskUsage> {
    let mut owners: BTreeMap<String, Owners> = BTreeMap::new();
    let mut tools = Vec::new();
    for tool_id in tool_ids(layout)? {
        let active = read_current(layout, &tool_id)?;
        let mut releases = Vec::new();
        for version in kept_releases(layout, &tool_id)? {
            let is_active = active.as_deref() == Some(version.as_str());
            let listed = read_listed(&layout.manifest_path(&tool_id, &version));
            let bytes = listed.iter().flat_map(|l| &l.files).map(|f| f.size).sum();
            for file in listed.iter().flat_map(|l| &l.files) {
                let digests = std::iter::once(file.sha256.clone())
                    .chain(file.chunks.as_ref().map(|c| c.sha256.clone()));
                for digest in digests {
                    let o = owners.entry(digest).or_default();
                    if is_active {
                        o.active.insert(tool_id.clone());
                    } else {
                        o.kept.insert(tool_id.clone());
                    }
                }
            }
            releases.push(ReleaseUsage {
                version,
                active: is_active,
                bytes,
            });
        }
        releases.sort_by(|a, b| {
            parse_version(&b.version)
                .ok()
                .cmp(&parse_version(&a.version).ok())
        });
        tools.push(ToolUsage {
            tool_id,
            active,
            releases,
            unique_bytes: 0,
            shared_bytes: 0,
            kept_only_bytes: 0,
        });
    }
    let store = Store::new(layout);
    attribute(&store, &owners, &mut tools);
    let (objects, objects_bytes, unreferenced_bytes) = objects(layout)?;
    let (partials, partial_bytes) = partials(layout);
    Ok(DiskUsage {
        root: layout.root().display().to_string(),
        total_bytes: tree_bytes(layout.root())?,
        objects_bytes,
        objects,
        unreferenced_bytes,
        partial_bytes,
        partials,
        free_bytes: store.free_space().ok(),
        tools,
    })
}

/// Adds each stored object's size to the tools that list it.
fn attribute(store: &Store, owners: &BTreeMap<String, Owners>, tools: &mut [ToolUsage]) {
    for (digest, o) in owners {
        let Ok(meta) = std::fs::symlink_metadata(store.object_path(digest)) else {
            continue;
        };
        let size = meta.len();
        let all: BTreeSet<&String> = o.active.iter().chain(&o.kept).collect();
        for tool in tools.iter_mut() {
            if !all.contains(&tool.tool_id) {
                continue;
            }
            if all.len() > 1 {
                tool.shared_bytes += size;
            } else {
                tool.unique_bytes += size;
                if !o.active.contains(&tool.tool_id) {
                    tool.kept_only_bytes += size;
                }
            }
        }
    }
}

fn tool_ids(layout: &Layout) -> io::Result<Vec<String>> {
    let mut ids = Vec::new();
    match std::fs::read_dir(layout.tools_dir()) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_valid_tool_id(&name) && entry.file_type()?.is_dir() {
                    ids.push(name);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    ids.sort();
    Ok(ids)
}

fn read_listed(path: &Path) -> Option<Listed> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Count and bytes of stored objects, and the bytes no manifest lists.
fn objects(layout: &Layout) -> io::Result<(u64, u64, u64)> {
    let keep = referenced_objects(layout)?;
    let (mut count, mut bytes, mut unreferenced) = (0, 0, 0);
    for entry in walkdir::WalkDir::new(layout.objects_sha256_dir()).min_depth(2) {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file() {
            continue;
        }
        let len = entry.metadata().map_or(0, |m| m.len());
        count += 1;
        bytes += len;
        if !keep.contains(entry.file_name().to_string_lossy().as_ref()) {
            unreferenced += len;
        }
    }
    Ok((count, bytes, unreferenced))
}

/// Count and bytes of `.partial` files.
fn partials(layout: &Layout) -> (u64, u64) {
    let (mut count, mut bytes) = (0, 0);
    let Ok(entries) = std::fs::read_dir(layout.partial_dir()) else {
        return (0, 0);
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".partial") {
            count += 1;
            bytes += entry.metadata().map_or(0, |m| m.len());
        }
    }
    (count, bytes)
}

/// Bytes of every regular file under `root`, each inode once (as `du` counts
/// hard links), symlinks not followed.
pub(crate) fn tree_bytes(root: &Path) -> io::Result<u64> {
    let mut seen = HashSet::new();
    let mut total = 0;
    for entry in walkdir::WalkDir::new(root) {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = entry.metadata().map_err(io::Error::other)?;
        if seen.insert((meta.dev(), meta.ino())) {
            total += meta.len();
        }
    }
    Ok(total)
}
