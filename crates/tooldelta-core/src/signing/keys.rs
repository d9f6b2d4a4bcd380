//! Ed25519 keys on disk (PEM, interchangeable with OpenSSL) and key ids.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// First 16 lowercase hex characters of SHA-256 over the raw 32-byte public key.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// The id of a public key.
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        Self(hex::encode(&digest[..8]))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key file that could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an Ed25519 key in the expected PEM form.
    #[error("key file {path}: not an Ed25519 {kind} key in PEM ({cause})")]
    Pem {
        /// The file.
        path: PathBuf,
        /// `PKCS#8 secret` or `SPKI public`.
        kind: &'static str,
        /// What the decoder said.
        cause: String,
    },
}

/// Reads a PKCS#8 PEM secret key (`openssl genpkey -algorithm ed25519`).
pub fn read_secret_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read(path)?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| pem_error(path, "PKCS#8 secret", &e))
}

/// Reads an SPKI PEM public key (`openssl pkey -pubout`).
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = read(path)?;
    VerifyingKey::from_public_key_pem(&text).map_err(|e| pem_error(path, "SPKI public", &e))
}

/// A secret key as PKCS#8 v1 PEM, the form `openssl genpkey` writes.
///
/// `SigningKey::to_pkcs8_pem` writes v2 (the public key embedded), which
/// OpenSSL 3.0 refuses to load; v1 holds the seed only.
pub fn secret_key_pem(key: &SigningKey) -> String {
    let v1 = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    v1.to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key always encodes")
        .to_string()
}

/// A public key as SPKI PEM.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF)
        .expect("an Ed25519 key always encodes")
}

/// A fresh key from the operating system's random source.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })
}

fn pem_error(path: &Path, kind: &'static str, cause: &dyn fmt::Display) -> KeyError {
    KeyError::Pem {
        path: path.to_owned(),
        kind,
        cause: cause.to_string(),
    }
}

/// The public keys a client trusts. Several may be trusted at once so that HQ
/// can rotate its signing key without a flag day.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: BTreeMap<KeyId, VerifyingKey>,
}

impl TrustStore {
    /// An empty store: every signature is then `unknown_key`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads every given SPKI PEM file.
    pub fn from_pem_files<P: AsRef<Path>>(paths: &[P]) -> Result<Self, KeyError> {
        let mut store = Self::new();
        for path in paths {
            store.add(read_public_key(path.as_ref())?);
        }
        Ok(store)
    }

    /// Trusts one more key; returns its id.
    pub fn add(&mut self, key: VerifyingKey) -> KeyId {
        let id = KeyId::of(&key);
        self.keys.insert(id.clone(), key);
        id
    }

    /// The trusted key with this id, if any.
    pub fn get(&self, id: &str) -> Option<&VerifyingKey> {
        self.keys.get(&KeyId(id.to_owned()))
    }

    /// The ids of all trusted keys, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.keys()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
