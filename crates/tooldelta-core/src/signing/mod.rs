//! Signatures over manifests, and the gate from parsed to trusted data.
//!
//! A manifest becomes a [`VerifiedManifest`] only through
//! [`VerifiedManifest::verify`], which checks, in this order: the size cap and
//! the JSON shape, the rules of CONTRACT §1, `manifest_hash`, the signature
//! against the trusted keys, the tool id, the version asked for, the no-rollback
//! floor and the expiry. Later stages take a `VerifiedManifest`, so unverified
//! data cannot reach them.

mod keys;
mod verified;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use crate::manifest::{Manifest, ParsedManifest, Signature};

pub use keys::{
    KeyError, KeyId, TrustStore, generate_key, public_key_pem, read_public_key, read_secret_key,
    secret_key_pem,
};
pub use verified::{CheckedManifest, TrustError, TrustPolicy, VerifiedManifest, check_manifest};

/// Domain separation: a manifest signature can never be replayed as a
/// signature over anything else.
pub const SIGNATURE_CONTEXT: &[u8] = b"tooldelta-manifest-v1:";

/// The only signature algorithm of manifest v1.
pub const ALGORITHM: &str = "Ed25519";

/// The exact bytes that are signed for a given `manifest_hash`.
pub fn signing_message(manifest_hash: &str) -> Vec<u8> {
    [SIGNATURE_CONTEXT, manifest_hash.as_bytes()].concat()
}

/// Sets `manifest_hash` and signs it.
pub fn sign(manifest: &mut Manifest, key: &SigningKey) {
    manifest.signature = None;
    manifest.manifest_hash = manifest.compute_hash();
    manifest.signature = Some(sign_hash(SIGNATURE_CONTEXT, &manifest.manifest_hash, key));
}

/// What a signature check found (CONTRACT §2 `signature.status`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    /// Signed by a trusted key over the manifest's true hash.
    Valid,
    /// Signed, but the signature or the hash does not hold.
    Invalid,
    /// No signature.
    Unsigned,
    /// Signed by a key that is not trusted here.
    UnknownKey,
}

/// The status with the key id the manifest names, as reported to users.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureCheck {
    /// The verdict.
    pub status: SignatureStatus,
    /// The key id the manifest claims, if signed.
    pub public_key_id: Option<String>,
}

/// Checks a parsed manifest's signature against the trusted keys.
pub fn check_signature(parsed: &ParsedManifest, trust: &TrustStore) -> SignatureCheck {
    check_signature_of(&parsed.manifest, &parsed.computed_hash, trust)
}

/// Checks the signature of a manifest whose content hashes to
/// `computed_hash` (a manifest already parsed once, e.g. the active one).
pub fn check_signature_of(
    manifest: &Manifest,
    computed_hash: &str,
    trust: &TrustStore,
) -> SignatureCheck {
    let Some(sig) = &manifest.signature else {
        return SignatureCheck {
            status: SignatureStatus::Unsigned,
            public_key_id: None,
        };
    };
    let mut check = check_detached(SIGNATURE_CONTEXT, computed_hash, sig, trust);
    if check.status == SignatureStatus::Valid && manifest.manifest_hash != computed_hash {
        check.status = SignatureStatus::Invalid;
    }
    check
}

/// Signs `hash` (64 hex characters) under a domain prefix: the one signing
/// step of manifests and channel documents.
pub fn sign_hash(context: &[u8], hash: &str, key: &SigningKey) -> Signature {
    let signature = key.sign(&[context, hash.as_bytes()].concat());
    Signature {
        algorithm: ALGORITHM.to_owned(),
        public_key_id: KeyId::of(&key.verifying_key()).to_string(),
        signature: BASE64.encode(signature.to_bytes()),
    }
}

/// Checks a signature over `context` followed by `hash` against the trusted
/// keys. The prefix separates domains: a manifest signature never verifies
/// as a channel signature, nor the reverse.
pub fn check_detached(
    context: &[u8],
    hash: &str,
    sig: &Signature,
    trust: &TrustStore,
) -> SignatureCheck {
    let status = match trust.get(&sig.public_key_id) {
        None => SignatureStatus::UnknownKey,
        Some(key) if signature_holds(context, hash, sig, key) => SignatureStatus::Valid,
        Some(_) => SignatureStatus::Invalid,
    };
    SignatureCheck {
        status,
        public_key_id: Some(sig.public_key_id.clone()),
    }
}

fn signature_holds(
    context: &[u8],
    hash: &str,
    sig: &Signature,
    key: &ed25519_dalek::VerifyingKey,
) -> bool {
    if sig.algorithm != ALGORITHM {
        return false;
    }
    let Ok(bytes) = BASE64.decode(&sig.signature) else {
        return false;
    };
    let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
        return false;
    };
    key.verify_strict(&[context, hash.as_bytes()].concat(), &signature)
        .is_ok()
}

#[cfg(test)]
mod tests;
