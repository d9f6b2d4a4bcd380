//! Staged rollout: which version a workstation takes from a channel document.
//!
//! A workstation takes `version` when `hash(tool, version, workstation id)`
//! falls in the first `rollout_percent` of 100 buckets, else it stays on
//! `previous`. The bucket depends only on the tool, the version and the
//! workstation, so the same workstations take a version on every run, and
//! raising the percentage only ever adds workstations.

use std::path::Path;

use semver::Version;
use sha2::{Digest as _, Sha256};

use super::ChannelDocument;
use crate::manifest::parse_version;

/// The file under the root that holds the workstation's generated id.
pub const WORKSTATION_ID_FILE: &str = "workstation_id";

/// The bucket (0–99) of a workstation for one version of a tool.
pub fn bucket(tool_id: &str, version: &str, workstation_id: &str) -> u8 {
    // NUL separates the parts: no two different triples hash alike.
    let digest = Sha256::new()
        .chain_update(b"tooldelta-rollout-v1:")
        .chain_update(tool_id)
        .chain_update([0])
        .chain_update(version)
        .chain_update([0])
        .chain_update(workstation_id)
        .finalize();
    let head = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    u8::try_from(head % 100).expect("below 100")
}

/// Whether the workstation is in a `percent` rollout of `version`.
pub fn in_rollout(tool_id: &str, version: &str, workstation_id: &str, percent: u8) -> bool {
    bucket(tool_id, version, workstation_id) < percent.min(100)
}

/// What a channel document means for one workstation.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelDecision {
    /// The channel followed.
    pub channel: String,
    /// Its `sequence`.
    pub sequence: u64,
    /// The version the channel offers.
    pub offered: String,
    /// Whether this workstation is in the rollout of `offered`.
    pub in_rollout: bool,
    /// The version this workstation should run (`None`: nothing installed
    /// and nothing offered to it).
    pub target: Option<String>,
    /// Whether reaching `target` is a signed rollback (the floor moves down).
    pub rollback: bool,
    /// The withdrawn versions (never installed).
    pub withdrawn: Vec<String>,
}

/// Decides the version for a workstation running `installed`:
/// `version` inside the rollout, else `previous`; never a withdrawn version;
/// never lower than `installed` unless the document is a signed rollback
/// (a halted rollout stops new workstations, it moves nobody back).
pub fn decide(
    doc: &ChannelDocument,
    installed: Option<&Version>,
    workstation_id: &str,
) -> ChannelDecision {
    let inside = in_rollout(
        &doc.tool_id,
        &doc.version,
        workstation_id,
        doc.rollout_percent,
    );
    let candidate = if inside {
        Some(doc.version.as_str())
    } else {
        doc.previous.as_deref()
    };
    let candidate = candidate
        .and_then(|c| parse_version(c).ok().map(|v| (c, v)))
        .filter(|(_, v)| !doc.is_withdrawn(v));
    let stay = installed.map(ToString::to_string);
    let (target, rollback) = match (candidate, installed) {
        (Some((c, _)), None) => (Some(c.to_owned()), false),
        (Some((c, v)), Some(active)) if &v >= active => (Some(c.to_owned()), false),
        (Some((c, _)), Some(_)) if doc.rollback && inside => (Some(c.to_owned()), true),
        // Nothing offered to this workstation, or lower without a signed
        // rollback: it stays where it is.
        _ => (stay, false),
    };
    ChannelDecision {
        channel: doc.channel.clone(),
        sequence: doc.sequence,
        offered: doc.version.clone(),
        in_rollout: inside,
        target,
        rollback,
        withdrawn: doc.withdrawn.clone(),
    }
}

/// The workstation's id: `configured` when given, else the one stored under
/// the root, generated (128 random bits, hex) and stored the first time.
pub fn workstation_id(root: &Path, configured: Option<&str>) -> std::io::Result<String> {
    if let Some(id) = configured.map(str::trim).filter(|id| !id.is_empty()) {
        return Ok(id.to_owned());
    }
    let path = root.join(WORKSTATION_ID_FILE);
    match fs_err::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut raw = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    let id = hex::encode(raw);
    // Written complete under a temporary name, then linked into place only if
    // no other process got there first: two first runs agree on one id.
    let tmp = root.join(format!(".{WORKSTATION_ID_FILE}.{id}"));
    crate::fs::write_atomic(&tmp, format!("{id}\n").as_bytes())?;
    let linked = fs_err::hard_link(&tmp, &path);
    let _ = fs_err::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(fs_err::read_to_string(&path)?.trim().to_owned())
        }
        Err(e) => Err(e),
    }
}
