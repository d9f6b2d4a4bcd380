//! Minisign keys and (legacy, non-prehashed) signatures made with
//! ed25519-dalek, in the text formats tauri-plugin-updater reads: the public
//! key and the signature are base64 of the minisign files.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey};

pub struct Key {
    key: SigningKey,
    id: [u8; 8],
}

impl Key {
    pub fn generate() -> Key {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        let mut id = [0u8; 8];
        id.copy_from_slice(&key.verifying_key().to_bytes()[..8]);
        Key { key, id }
    }

    /// What `plugins.updater.pubkey` / `TOOLDELTA_APP_UPDATE_PUBKEY` takes.
    pub fn public_b64(&self) -> String {
        let mut bin = b"Ed".to_vec();
        bin.extend_from_slice(&self.id);
        bin.extend_from_slice(&self.key.verifying_key().to_bytes());
        let text = format!(
            "untrusted comment: minisign public key {}\n{}\n",
            hex::encode_upper(self.id),
            B64.encode(bin)
        );
        B64.encode(text)
    }

    /// The content of a `.sig` file as `tauri signer sign` writes it.
    pub fn sign_b64(&self, data: &[u8], version: &str) -> String {
        let sig = self.key.sign(data).to_bytes();
        let mut bin = b"Ed".to_vec();
        bin.extend_from_slice(&self.id);
        bin.extend_from_slice(&sig);
        let trusted = format!("timestamp:0\tfile:tooldelta-app\tversion:{version}");
        let mut global = sig.to_vec();
        global.extend_from_slice(trusted.as_bytes());
        let global_sig = self.key.sign(&global).to_bytes();
        let text = format!(
            "untrusted comment: signature from tooldelta test key\n{}\ntrusted comment: {trusted}\n{}\n",
            B64.encode(bin),
            B64.encode(global_sig)
        );
        B64.encode(text)
    }
}
