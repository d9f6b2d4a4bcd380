//! The one place the process-wide rustls crypto provider is chosen.
//!
//! reqwest and axum-server are built without a default provider (no
//! aws-lc-rs, a C build): `ring` is installed here before any client or TLS
//! listener is built, by the engine, the mirror and the test kit alike.

/// Installs rustls' `ring` provider as the process default, once. Another
/// provider already installed is fine too.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
