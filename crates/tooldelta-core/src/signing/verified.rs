//! [`VerifiedManifest`]: the only way trusted manifest data enters the engine.

use std::sync::Arc;

use jiff::Timestamp;
use semver::Version;

use super::{SignatureCheck, SignatureStatus, TrustStore, check_signature};
use crate::manifest::{Manifest, ManifestError, RuleViolation};

/// What the client expects of a manifest before it trusts it.
#[derive(Debug, Clone)]
pub struct TrustPolicy<'a> {
    /// The keys whose signatures are accepted.
    pub trust: &'a TrustStore,
    /// The tool the client asked for (mix-and-match defence).
    pub tool_id: &'a str,
    /// The version asked for explicitly, or `None` for `latest`.
    pub version: Option<&'a Version>,
    /// The highest version of this tool accepted so far (rollback defence).
    pub highest_accepted: Option<&'a Version>,
    /// Whether an explicitly requested version may be older than that.
    pub allow_downgrade: bool,
    /// The current time (freeze defence via `expires_at`).
    pub now: Timestamp,
}

/// Why a manifest is not trusted. Every variant names the tool.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// Too large, not JSON, or breaks a rule of CONTRACT §1.
    #[error("manifest for {tool_id}: {source}")]
    Malformed {
        /// The tool asked for.
        tool_id: String,
        /// What is wrong.
        #[source]
        source: ManifestError,
    },
    /// The stated `manifest_hash` does not match the content.
    #[error(
        "manifest for {tool_id}: manifest_hash {stated} does not match the content ({computed}); the manifest was altered"
    )]
    HashMismatch {
        /// The tool.
        tool_id: String,
        /// What the manifest says.
        stated: String,
        /// What its content hashes to.
        computed: String,
    },
    /// The signature is missing, from an unknown key, or does not verify.
    #[error("manifest for {tool_id}: signature is {status}{key}", status = status_word(*.status), key = key_suffix(.public_key_id.as_deref()))]
    Signature {
        /// The tool.
        tool_id: String,
        /// `unsigned`, `unknown_key` or `invalid`.
        status: SignatureStatus,
        /// The key id the manifest claims.
        public_key_id: Option<String>,
        /// The ids of the keys this client trusts (for the hint).
        trusted: Vec<String>,
    },
    /// The manifest is for another tool.
    #[error("manifest for {expected}: it describes tool {found:?} instead (mix-and-match refused)")]
    WrongTool {
        /// The tool asked for.
        expected: String,
        /// The tool the manifest names.
        found: String,
    },
    /// The manifest is for another version than the one asked for.
    #[error("manifest for {tool_id}: version {found} was served where {expected} was asked for")]
    WrongVersion {
        /// The tool.
        tool_id: String,
        /// The version asked for.
        expected: String,
        /// The version served.
        found: String,
    },
    /// A pre-release served as `latest`.
    #[error(
        "manifest for {tool_id}: pre-release {version} was served as latest (a pre-release is installed only by version or channel)"
    )]
    PrereleaseAsLatest {
        /// The tool.
        tool_id: String,
        /// The pre-release served.
        version: String,
    },
    /// Older than a version already accepted.
    #[error("manifest for {tool_id}: version {offered} is older than {highest}, already accepted (rollback refused{hint})", hint = if *.explicit { "; pass --allow-downgrade to install it" } else { "" })]
    Rollback {
        /// The tool.
        tool_id: String,
        /// The version offered.
        offered: String,
        /// The highest version accepted so far.
        highest: String,
        /// Whether the version was asked for explicitly.
        explicit: bool,
    },
    /// Past `expires_at`.
    #[error("manifest for {tool_id} {version}: expired at {expires_at} (freeze refused)")]
    Expired {
        /// The tool.
        tool_id: String,
        /// The version.
        version: String,
        /// When it expired.
        expires_at: String,
    },
}

impl TrustError {
    /// What to try next, when the refusal has a usual cause.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Signature {
                status: SignatureStatus::UnknownKey,
                trusted,
                ..
            } => Some(format!(
                "this workstation trusts {}: add the publisher's public key with --trust PUB.pem, or have the manifest signed with a trusted key",
                if trusted.is_empty() { "no key".to_owned() } else { trusted.join(", ") }
            )),
            Self::Signature {
                status: SignatureStatus::Unsigned,
                ..
            } => Some("publish the manifest with --key SECRET.pem: unsigned manifests are never installed".to_owned()),
            Self::Signature { .. } | Self::HashMismatch { .. } => Some(
                "the manifest was changed after it was signed: publish it again, and check who can write to the mirror".to_owned(),
            ),
            Self::Expired { .. } => Some(
                "the mirror serves an expired manifest: the publisher must publish it again with a later expires_at (and the mirror import it)".to_owned(),
            ),
            _ => None,
        }
    }
}

fn status_word(status: SignatureStatus) -> &'static str {
    match status {
        SignatureStatus::Valid => "valid",
        SignatureStatus::Invalid => "invalid (it does not verify with the trusted key)",
        SignatureStatus::Unsigned => "missing (unsigned manifests are never installed)",
        SignatureStatus::UnknownKey => "from a key that is not trusted",
    }
}

fn key_suffix(key: Option<&str>) -> String {
    key.map(|k| format!(" (key id {k})")).unwrap_or_default()
}

/// A manifest whose signature, tool id, version and expiry have been checked.
#[derive(Debug, Clone)]
pub struct VerifiedManifest {
    manifest: Manifest,
    version: Version,
    hash: String,
    key_id: String,
    /// Shared, not copied: the manifest of a 100,000-file tool is 17 MB.
    bytes: Arc<Vec<u8>>,
}

/// A manifest through the steps every manifest takes wherever it is used
/// (engine, mirror import and pull-through): bounded strict parse, the rules
/// of CONTRACT §1, `manifest_hash`, and the signature when one is required.
#[derive(Debug, Clone)]
pub struct CheckedManifest {
    /// The manifest.
    pub manifest: Manifest,
    /// Its `manifest_hash`, as computed.
    pub hash: String,
    /// What its signature check found.
    pub signature: SignatureCheck,
}

/// The one manifest gate. `tool_id` is the tool asked for, named in errors
/// (`None`: errors name the tool the manifest states). With
/// `signature_required`, only a valid signature by a key of `trust` passes;
/// without it (a mirror importing with no keys given) the check is reported.
pub fn check_manifest(
    bytes: &[u8],
    trust: &TrustStore,
    signature_required: bool,
    tool_id: Option<&str>,
) -> Result<CheckedManifest, TrustError> {
    let label = |m: Option<&Manifest>| {
        tool_id
            .or(m.map(|m| m.tool_id.as_str()))
            .unwrap_or("unknown tool")
            .to_owned()
    };
    // Bounded, strict parse; the hash is taken over the bytes as received.
    let parsed = Manifest::parse(bytes).map_err(|source| TrustError::Malformed {
        tool_id: label(None),
        source,
    })?;
    let tool_id = label(Some(&parsed.manifest));
    // Every rule of CONTRACT §1, paths first among them, even when signed.
    if let Err(e) = parsed.manifest.check_rules() {
        return Err(TrustError::Malformed {
            tool_id,
            source: e.into(),
        });
    }
    // The content must be what the hash says …
    if !parsed.hash_matches() {
        return Err(TrustError::HashMismatch {
            tool_id,
            stated: parsed.manifest.manifest_hash.clone(),
            computed: parsed.computed_hash,
        });
    }
    // … and the hash signed by a trusted key.
    let signature = check_signature(&parsed, trust);
    if signature_required && signature.status != SignatureStatus::Valid {
        return Err(TrustError::Signature {
            tool_id,
            status: signature.status,
            public_key_id: signature.public_key_id,
            trusted: trust.ids().map(ToString::to_string).collect(),
        });
    }
    Ok(CheckedManifest {
        manifest: parsed.manifest,
        hash: parsed.computed_hash,
        signature,
    })
}

impl CheckedManifest {
    /// Freeze defence: refuses a manifest past its `expires_at` at `now`.
    pub fn check_expiry(&self, now: Timestamp) -> Result<(), TrustError> {
        if !self.manifest.is_expired(now) {
            return Ok(());
        }
        Err(TrustError::Expired {
            tool_id: self.manifest.tool_id.clone(),
            version: self.manifest.tool_version.clone(),
            expires_at: self.manifest.expires_at.clone().unwrap_or_default(),
        })
    }
}

impl VerifiedManifest {
    /// Checks manifest bytes against a client's policy: [`check_manifest`]
    /// with a signature required, then the client's own checks, the spec step
    /// of each written above it.
    pub fn verify(bytes: &[u8], policy: &TrustPolicy<'_>) -> Result<Self, TrustError> {
        Self::verify_with(bytes.to_vec(), policy, true)
    }

    /// [`VerifiedManifest::verify`] of bytes the caller no longer needs:
    /// they are kept without a copy.
    pub fn verify_owned(bytes: Vec<u8>, policy: &TrustPolicy<'_>) -> Result<Self, TrustError> {
        Self::verify_with(bytes, policy, true)
    }

    /// The gate for a manifest this client verified and stored itself, read
    /// back to switch to it offline (`activate`): with trusted keys, every
    /// step of [`VerifiedManifest::verify`]; with none, the same steps but
    /// the signature, which is replaced by the hash recorded when the
    /// manifest was verified. Either way its `manifest_hash` must be the
    /// recorded one, and an expired manifest is refused.
    pub fn reverify_stored(
        bytes: &[u8],
        policy: &TrustPolicy<'_>,
        recorded_hash: &str,
    ) -> Result<Self, TrustError> {
        let verified = Self::verify_with(bytes.to_vec(), policy, !policy.trust.is_empty())?;
        // The stored bytes must be the ones verified at download time.
        if verified.hash != recorded_hash {
            return Err(TrustError::HashMismatch {
                tool_id: policy.tool_id.to_owned(),
                stated: recorded_hash.to_owned(),
                computed: verified.hash,
            });
        }
        Ok(verified)
    }

    fn verify_with(
        bytes: Vec<u8>,
        policy: &TrustPolicy<'_>,
        signature_required: bool,
    ) -> Result<Self, TrustError> {
        let tool_id = policy.tool_id.to_owned();
        let checked = check_manifest(
            &bytes,
            policy.trust,
            signature_required,
            Some(policy.tool_id),
        )?;
        // Mix-and-match: a validly signed manifest for another tool.
        if checked.manifest.tool_id != policy.tool_id {
            return Err(TrustError::WrongTool {
                expected: tool_id,
                found: checked.manifest.tool_id,
            });
        }
        let version =
            checked
                .manifest
                .version()
                .map_err(|e: RuleViolation| TrustError::Malformed {
                    tool_id: tool_id.clone(),
                    source: ManifestError::from(e),
                })?;
        check_version(&tool_id, &version, policy)?;
        checked.check_expiry(policy.now)?;
        Ok(Self {
            version,
            hash: checked.hash,
            key_id: checked.signature.public_key_id.unwrap_or_default(),
            bytes: Arc::new(bytes),
            manifest: checked.manifest,
        })
    }

    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Its parsed version.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// Its `manifest_hash`.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The id of the trusted key that signed it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The bytes it was verified from, to store beside the release.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The same bytes, shared (to write them from another thread).
    pub fn shared_bytes(&self) -> Arc<Vec<u8>> {
        Arc::clone(&self.bytes)
    }
}

fn check_version(
    tool_id: &str,
    version: &Version,
    policy: &TrustPolicy<'_>,
) -> Result<(), TrustError> {
    // An explicit version must be the one served, not a neighbour.
    if let Some(expected) = policy.version
        && expected != version
    {
        return Err(TrustError::WrongVersion {
            tool_id: tool_id.to_owned(),
            expected: expected.to_string(),
            found: version.to_string(),
        });
    }
    // A pre-release is never `latest`: one served where `latest` was asked
    // for is refused (a mirror cannot push a beta on the fleet).
    if policy.version.is_none() && !version.pre.is_empty() {
        return Err(TrustError::PrereleaseAsLatest {
            tool_id: tool_id.to_owned(),
            version: version.to_string(),
        });
    }
    // No rollback below the highest version accepted, unless asked for by name.
    if let Some(highest) = policy.highest_accepted {
        let explicit = policy.version.is_some();
        if version < highest && !(explicit && policy.allow_downgrade) {
            return Err(TrustError::Rollback {
                tool_id: tool_id.to_owned(),
                offered: version.to_string(),
                highest: highest.to_string(),
                explicit,
            });
        }
    }
    Ok(())
}
