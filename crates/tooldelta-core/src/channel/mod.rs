//! Signed channel documents: HQ's word on *who* gets *which* version of a
//! tool (format in `docs/rollout.md`).
//!
//! A channel document names a tool, a channel (`stable`, `beta`, …), the
//! version it offers, the version workstations outside the rollout stay on
//! (`previous`), the rollout percentage, whether it is a signed rollback, the
//! withdrawn versions, a `sequence` that only rises, and its validity. It is
//! signed with Ed25519 over `tooldelta-channel-v1:` followed by the SHA-256
//! of its RFC 8785 canonical JSON without `signature`: the prefix differs
//! from the manifest's, so neither signature can be replayed as the other.
//!
//! [`VerifiedChannel::verify`] is the only way a document becomes trusted;
//! [`rollout`] decides what a workstation takes from it; [`local`] keeps the
//! last accepted document per tool and channel (replay and freeze defence).

pub mod issue;
pub mod local;
pub mod rollout;
mod settings;
mod verify;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::manifest::{Signature, parse_version};
use crate::signing::sign_hash;

pub use rollout::ChannelDecision;
pub use settings::{HoldSetting, RolloutSettings, ToolSettings};
pub use verify::{ChannelError, ChannelPolicy, CheckedChannel, VerifiedChannel, check_channel};

/// Domain separation of channel signatures (a manifest uses
/// `tooldelta-manifest-v1:`).
pub const CHANNEL_CONTEXT: &[u8] = b"tooldelta-channel-v1:";

/// The channel a tool follows when the settings name none.
pub const DEFAULT_CHANNEL: &str = "stable";

/// The largest channel document accepted, in bytes.
pub const MAX_CHANNEL_BYTES: u64 = 256 * 1024;

/// The most versions a document may list as withdrawn.
pub const MAX_WITHDRAWN: usize = 1000;

/// A channel document as published (CONTRACT §5). Nothing here is trusted
/// until [`VerifiedChannel::verify`] has checked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDocument {
    /// The tool.
    pub tool_id: String,
    /// The channel's name (same rule as a tool id).
    pub channel: String,
    /// The version the channel offers.
    pub version: String,
    /// The version workstations outside the rollout stay on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The share of workstations (0–100) that take `version`.
    pub rollout_percent: u8,
    /// A signed rollback: workstations above `version` come back to it, and
    /// their no-rollback floor moves down with them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
    /// Versions never installed, whatever asks for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawn: Vec<String>,
    /// Rises with every document of this tool and channel; a client refuses
    /// one lower than it has accepted.
    pub sequence: u64,
    /// RFC 3339 time of issue.
    pub issued_at: String,
    /// RFC 3339; past it the document is refused (freeze defence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Ed25519 over [`CHANNEL_CONTEXT`] and [`ChannelDocument::hash`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

impl ChannelDocument {
    /// Lowercase hex SHA-256 of the RFC 8785 canonical JSON without `signature`.
    pub fn hash(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        let value = serde_json::to_value(&unsigned).expect("a channel document serializes");
        let canonical = serde_json_canonicalizer::to_vec(&value)
            .expect("a channel document canonicalizes (no floats)");
        hex::encode(Sha256::digest(canonical))
    }

    /// Signs the document with `key` (replacing any signature).
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = None;
        self.signature = Some(sign_hash(CHANNEL_CONTEXT, &self.hash(), key));
    }

    /// Pretty JSON with a final newline, as written and served.
    pub fn to_pretty_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a channel document serializes");
        text.push('\n');
        text
    }

    /// Whether `version` is on the withdrawn list (SemVer comparison, a
    /// leading `v` ignored).
    pub fn is_withdrawn(&self, version: &semver::Version) -> bool {
        self.withdrawn
            .iter()
            .any(|w| parse_version(w).is_ok_and(|w| &w == version))
    }
}

/// Whether `name` is a valid channel name (the tool id rule of CONTRACT §1),
/// so it is safe as one path segment and one file name.
pub fn is_valid_channel(name: &str) -> bool {
    crate::manifest::is_valid_tool_id(name)
}

#[cfg(test)]
mod tests;
