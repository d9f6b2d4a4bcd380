//! What is installed for a tool: the active release with its manifest
//! (parsed once), the tool's state file, and the no-rollback floor derived
//! from both. Local reads only; what a mirror offers is in `offer`.

use semver::Version;

use super::env::Env;
use crate::activate::read_current;
use crate::error::{CorruptCause, UpdateError};
use crate::manifest::{Manifest, parse_version};
use crate::signing::{SignatureCheck, TrustStore, check_signature_of};
use crate::state::ToolState;

/// The active release of a tool.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    /// Its version (the `releases/` folder name).
    pub version: String,
    /// Its manifest, as stored when it was verified.
    pub manifest: Manifest,
    /// Its `manifest_hash` (checked against the content when read).
    pub hash: String,
}

impl Installed {
    /// Reads the active release and its manifest; `None` when nothing is active.
    pub fn read(env: &Env, tool_id: &str) -> Result<Option<Self>, UpdateError> {
        let layout = &env.layout;
        let current = layout.current_link(tool_id);
        let version =
            read_current(layout, tool_id).map_err(UpdateError::io(tool_id, "read", &current))?;
        let Some(version) = version else {
            return Ok(None);
        };
        read_manifest(env, tool_id, &version).map(Some)
    }

    /// Like [`Installed::read`], but a tool with nothing active is an error.
    pub fn require(env: &Env, tool_id: &str) -> Result<Self, UpdateError> {
        Env::check_tool_id(tool_id)?;
        Self::read(env, tool_id)?.ok_or_else(|| UpdateError::NotInstalled {
            tool_id: tool_id.to_owned(),
            root: env.config.root.clone(),
        })
    }

    /// The stored manifest's signature under `trust` (no second read).
    pub fn signature(&self, trust: &TrustStore) -> SignatureCheck {
        check_signature_of(&self.manifest, &self.hash, trust)
    }
}

/// Reads the stored manifest of a kept release (active or not), checked
/// against its own `manifest_hash`.
pub(crate) fn read_manifest(
    env: &Env,
    tool_id: &str,
    version: &str,
) -> Result<Installed, UpdateError> {
    let path = env.layout.manifest_path(tool_id, version);
    let bytes = fs_err::read(&path).map_err(UpdateError::io(tool_id, "read", &path))?;
    let corrupt = UpdateError::corrupt(tool_id, &path);
    let parsed = match Manifest::parse(&bytes) {
        Ok(parsed) => parsed,
        Err(e) => return Err(corrupt(CorruptCause::Manifest(e))),
    };
    if !parsed.hash_matches() {
        return Err(corrupt(CorruptCause::HashMismatch));
    }
    Ok(Installed {
        version: version.to_owned(),
        hash: parsed.computed_hash,
        manifest: parsed.manifest,
    })
}

/// A tool's local state: the active release and the state file.
#[derive(Debug, Clone)]
pub(crate) struct Local {
    /// The active release, if any.
    pub installed: Option<Installed>,
    /// The state file (floor and history).
    pub state: ToolState,
}

impl Local {
    /// Reads both, once.
    pub fn read(env: &Env, tool_id: &str) -> Result<Self, UpdateError> {
        Ok(Self {
            installed: Installed::read(env, tool_id)?,
            state: load_state(env, tool_id)?,
        })
    }

    /// The no-rollback floor: the highest of the recorded floor and the active
    /// version (the state write after a swap may have been lost in a crash).
    pub fn floor(&self) -> Option<Version> {
        let active = self
            .installed
            .as_ref()
            .and_then(|i| parse_version(&i.version).ok());
        self.state.floor().max(active)
    }
}

/// Reads the tool's state file.
pub(crate) fn load_state(env: &Env, tool_id: &str) -> Result<ToolState, UpdateError> {
    let path = env.layout.state_path(tool_id);
    ToolState::load(&path).map_err(UpdateError::corrupt(tool_id, path))
}
