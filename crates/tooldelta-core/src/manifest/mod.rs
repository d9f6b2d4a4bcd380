//! Manifest v1 (CONTRACT §1): types, bounded parsing, rules and `manifest_hash`.
//!
//! A manifest is read from bytes in two streaming passes: `manifest_hash`
//! over the canonical form of the *received* document (duplicate keys
//! refused; see `canonical`), not over a re-serialization of our types, so
//! fields this version does not know (added by a later, compatible
//! publisher) are still covered by the hash and the signature; then the
//! typed [`Manifest`], member by member (see `de`). Neither builds a
//! generic JSON tree of the document.

mod canonical;
mod de;
mod paths;
mod rules;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use paths::{PathRule, check_path, collision_key, find_collision};
pub use rules::{RuleViolation, is_sha256_hex, is_valid_tool_id};

/// The only `manifest_version` this code understands.
pub const MANIFEST_VERSION: &str = "1.0";

/// The largest manifest accepted, in bytes. A 100 000-file tool needs about
/// 20 MB; anything past this is a hostile or broken mirror.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// The longest `release_notes` accepted, in bytes of UTF-8 (CONTRACT §5).
pub const MAX_RELEASE_NOTES_BYTES: usize = 16 * 1024;

/// The largest file size a manifest may state: canonical JSON (RFC 8785)
/// writes numbers as IEEE doubles, exact only up to 2^53.
pub const MAX_FILE_SIZE: u64 = 1 << 53;

/// A parsed manifest. Nothing here is trusted yet: the `signing` layer
/// above turns it into a `VerifiedManifest` (the one gate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// Always [`MANIFEST_VERSION`].
    pub manifest_version: String,
    /// The tool this manifest describes.
    pub tool_id: String,
    /// SemVer 2.0, a leading `v` allowed.
    pub tool_version: String,
    /// RFC 3339, written only when the publisher asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; past it the manifest is refused (freeze attack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// What the release changes, for people: plain text or simple Markdown,
    /// at most [`MAX_RELEASE_NOTES_BYTES`]. Signed like the rest; shown as
    /// inert text (never interpreted as HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
    /// Every file of the release, sorted by path in byte order.
    pub files: Vec<FileEntry>,
    /// The pack indexes of the release's small files ([`crate::packs`]):
    /// optional; a client that ignores them fetches each file by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packs: Option<Vec<PackRef>>,
    /// Lowercase hex SHA-256 of the canonical JSON without this field and `signature`.
    #[serde(default)]
    pub manifest_hash: String,
    /// The publisher's Ed25519 signature over `manifest_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// Fields from a later, compatible format version; kept so they stay signed.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One file of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// Relative POSIX path inside the release.
    pub path: String,
    /// 64 lowercase hex characters.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The file's chunk index object, for chunk-level deltas (large files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<ChunksRef>,
    /// Where HQ serves the file; a fallback after the mirror's content routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Fields from a later, compatible format version.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `files[].chunks`: names the content-addressed chunk index of a file
/// (format in `docs/manifest.md`, parsed by [`crate::chunks::ChunkIndex`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunksRef {
    /// Lowercase hex SHA-256 of the index object.
    pub sha256: String,
    /// Size of the index object in bytes.
    pub size: u64,
}

/// One entry of `packs`: names a content-addressed pack index object
/// (format in `docs/manifest.md`, parsed by [`crate::packs::PackIndex`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackRef {
    /// Lowercase hex SHA-256 of the index object.
    pub sha256: String,
    /// Size of the index object in bytes.
    pub size: u64,
}

/// The `signature` object of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Always `Ed25519`.
    pub algorithm: String,
    /// First 16 hex characters of SHA-256 over the raw public key.
    pub public_key_id: String,
    /// Standard base64 of the 64-byte signature.
    pub signature: String,
}

/// Why bytes could not be read as a manifest, or which rule it breaks.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The document is larger than [`MAX_MANIFEST_BYTES`].
    #[error("manifest is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// Bytes seen (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not JSON, or not shaped like a manifest.
    #[error("manifest is not valid JSON of the v1 shape: {0}")]
    Json(#[from] serde_json::Error),
    /// A rule of CONTRACT §1 is broken.
    #[error("manifest breaks rule {0}")]
    Rule(#[from] RuleViolation),
}

/// A manifest together with the hash computed from the bytes it came from.
#[derive(Debug, Clone)]
pub struct ParsedManifest {
    /// The typed manifest.
    pub manifest: Manifest,
    /// `manifest_hash` as computed here; compare with `manifest.manifest_hash`.
    pub computed_hash: String,
}

impl ParsedManifest {
    /// Whether the manifest's stated `manifest_hash` matches its content.
    pub fn hash_matches(&self) -> bool {
        self.manifest.manifest_hash == self.computed_hash
    }
}

impl Manifest {
    /// Parses manifest bytes with the size cap, refusing duplicate keys. Does not
    /// check the rules: call [`Manifest::check_rules`] (or verify it) for that.
    pub fn parse(bytes: &[u8]) -> Result<ParsedManifest, ManifestError> {
        let size = bytes.len() as u64;
        if size > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge {
                size,
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let computed_hash = canonical::hash_without(bytes, UNHASHED)?;
        let manifest = serde_json::from_slice(bytes)?;
        Ok(ParsedManifest {
            manifest,
            computed_hash,
        })
    }

    /// Computes `manifest_hash` for this manifest as it would be serialized.
    pub fn compute_hash(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("a manifest always serializes");
        canonical::hash_without(&bytes, UNHASHED)
            .expect("a serialized manifest always canonicalizes")
    }

    /// Deterministic, human-readable JSON: fields in a fixed order, a final newline.
    pub fn to_pretty_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest always serializes");
        text.push('\n');
        text
    }

    /// Whether `expires_at` is set and `now` is at or past it (an
    /// unparseable time is a rule violation, reported by the rules instead).
    pub fn is_expired(&self, now: jiff::Timestamp) -> bool {
        self.expires_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .is_some_and(|t| now >= t)
    }

    /// Sum of all file sizes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Checks every rule of CONTRACT §1; returns the first one broken.
    pub fn check_rules(&self) -> Result<(), RuleViolation> {
        rules::check(self, rules::Strictness::Full)
    }

    /// All rules except the file order. The seed's example manifest predates the
    /// order rule; an unsigned legacy manifest is still reported on.
    pub fn check_rules_except_order(&self) -> Result<(), RuleViolation> {
        rules::check(self, rules::Strictness::IgnoreOrder)
    }

    /// The SemVer version, without a leading `v`.
    pub fn version(&self) -> Result<semver::Version, RuleViolation> {
        parse_version(&self.tool_version)
    }

    /// Looks up a file by path (files are sorted, so this is a binary search).
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files
            .binary_search_by(|f| f.path.as_bytes().cmp(path.as_bytes()))
            .ok()
            .map(|i| &self.files[i])
    }
}

/// Parses a tool version: SemVer 2.0, a leading `v` accepted and ignored.
pub fn parse_version(text: &str) -> Result<semver::Version, RuleViolation> {
    let bare = text.strip_prefix('v').unwrap_or(text);
    semver::Version::parse(bare).map_err(|e| RuleViolation::BadToolVersion {
        value: text.to_owned(),
        cause: e.to_string(),
    })
}

/// The version `latest` names among `versions`: the highest one without a
/// SemVer pre-release tag. A pre-release (`2.0.0-beta.1`) is installed only
/// when asked for by name or by a channel, never as `latest`; a tool with
/// only pre-releases has no `latest`.
pub fn latest_release<'a, I>(versions: I) -> Option<&'a semver::Version>
where
    I: IntoIterator<Item = &'a semver::Version>,
{
    versions.into_iter().filter(|v| v.pre.is_empty()).max()
}

/// The members `manifest_hash` does not cover (it cannot cover itself).
const UNHASHED: &[&str] = &["manifest_hash", "signature"];

#[cfg(test)]
mod tests;
