//! Reading what is installed, and turning what a mirror offers into a
//! [`VerifiedManifest`] under the no-rollback floor.

use jiff::Timestamp;
use semver::Version;

use super::{Engine, UpdateOptions};
use crate::activate::read_current;
use crate::error::UpdateError;
use crate::fetch::FetchedManifest;
use crate::manifest::{Manifest, ManifestError, parse_version};
use crate::signing::{TrustError, TrustPolicy, VerifiedManifest};
use crate::state::ToolState;

/// The active release of a tool.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    /// Its version (the `releases/` folder name).
    pub version: String,
    /// Its manifest, as stored when it was verified.
    pub manifest: Manifest,
    /// Its `manifest_hash`.
    pub hash: String,
}

/// Reads the active release and its manifest; `None` when nothing is active.
pub(crate) fn installed(engine: &Engine, tool_id: &str) -> Result<Option<Installed>, UpdateError> {
    let layout = &engine.layout;
    let current = layout.current_link(tool_id);
    let version =
        read_current(layout, tool_id).map_err(UpdateError::io(tool_id, "read", &current))?;
    let Some(version) = version else {
        return Ok(None);
    };
    let path = layout.manifest_path(tool_id, &version);
    let bytes = std::fs::read(&path).map_err(UpdateError::io(tool_id, "read", &path))?;
    let corrupt = |cause: String| UpdateError::Corrupt {
        tool_id: tool_id.to_owned(),
        path: path.clone(),
        cause,
    };
    let parsed = Manifest::parse(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if !parsed.hash_matches() {
        return Err(corrupt(
            "its manifest_hash does not match its content".into(),
        ));
    }
    Ok(Some(Installed {
        version,
        hash: parsed.computed_hash,
        manifest: parsed.manifest,
    }))
}

/// Reads the tool's state file.
pub(crate) fn load_state(engine: &Engine, tool_id: &str) -> Result<ToolState, UpdateError> {
    let path = engine.layout.state_path(tool_id);
    ToolState::load(&path).map_err(|cause| UpdateError::Corrupt {
        tool_id: tool_id.to_owned(),
        path,
        cause,
    })
}

/// The no-rollback floor: the highest of the recorded floor and the active
/// version (the state write after a swap may have been lost in a crash).
pub(crate) fn floor(state: &ToolState, installed: Option<&Installed>) -> Option<Version> {
    let active = installed.and_then(|i| parse_version(&i.version).ok());
    state.floor().max(active)
}

/// Fetches the offered manifest and verifies it; returns it with its source.
pub(crate) async fn fetch_verified(
    engine: &Engine,
    tool_id: &str,
    opts: &UpdateOptions,
    floor: Option<&Version>,
) -> Result<(VerifiedManifest, FetchedManifest), UpdateError> {
    let wanted = opts
        .version
        .as_deref()
        .map(|v| {
            parse_version(v).map_err(|e| TrustError::Malformed {
                tool_id: tool_id.to_owned(),
                source: ManifestError::Rule(e),
            })
        })
        .transpose()?;
    let fetched = engine
        .fetcher
        .manifest(tool_id, opts.version.as_deref())
        .await?;
    let policy = TrustPolicy {
        trust: &engine.config.trust,
        tool_id,
        version: wanted.as_ref(),
        highest_accepted: floor,
        allow_downgrade: opts.allow_downgrade,
        now: Timestamp::now(),
    };
    let verified = VerifiedManifest::verify(&fetched.bytes, &policy)?;
    Ok((verified, fetched))
}
