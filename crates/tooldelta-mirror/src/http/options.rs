//! How to serve ([`ServeOptions`], [`TlsFiles`]) and why serving failed ([`ServeError`]).

use std::path::PathBuf;
use std::time::Duration;

use tooldelta_core::signing::TrustStore;

use crate::conn::ConnectionOptions;
use crate::store::StoreError;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The store folder.
    pub store: PathBuf,
    /// Base URL of an upstream mirror or static export to pull through from.
    pub upstream: Option<String>,
    /// When not empty, manifests from upstream must be signed by one of these keys.
    pub trust: TrustStore,
    /// Extra PEM CA certificates to trust for an `https://` upstream.
    pub upstream_ca: Vec<PathBuf>,
    /// Bandwidth cap of pull-through traffic from upstream.
    pub upstream_max_rate: Option<tooldelta_core::rate::RateSchedule>,
    /// Serve HTTPS with this certificate chain and key (PEM).
    pub tls: Option<TlsFiles>,
    /// How long `latest`, the catalog and tool indexes from upstream are reused.
    pub refresh_interval: Duration,
    /// Largest blob fetched from upstream when no manifest states its size.
    pub max_blob_bytes: u64,
    /// The URL clients reach this mirror at (for app-feed artifact URLs);
    /// derived from the `Host` header when absent.
    pub public_url: Option<String>,
    /// Connection limits and timeouts.
    pub connections: ConnectionOptions,
    /// The report route, the fleet view and forwarding upstream.
    pub fleet: crate::fleet::FleetOptions,
    /// Keep blobs pulled through from upstream under this many bytes,
    /// evicting the least recently served first (imported blobs never go).
    pub max_cache_bytes: Option<u64>,
    /// How long a served manifest keeps its version's blobs from eviction.
    pub cache_pin_window: Duration,
}

/// A TLS certificate chain and private key, both PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl ServeOptions {
    /// Defaults for a store: no upstream, plain HTTP.
    pub fn new(store: impl Into<PathBuf>) -> Self {
        Self {
            store: store.into(),
            upstream: None,
            trust: TrustStore::new(),
            upstream_ca: Vec::new(),
            upstream_max_rate: None,
            tls: None,
            refresh_interval: Duration::from_secs(30),
            max_blob_bytes: 1 << 40,
            public_url: None,
            connections: ConnectionOptions::default(),
            fleet: crate::fleet::FleetOptions::default(),
            max_cache_bytes: None,
            cache_pin_window: crate::cache::DEFAULT_PIN_WINDOW,
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The TLS certificate or key could not be loaded.
    #[error("TLS certificate {cert} / key {key}: {source}")]
    Tls {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An upstream CA file could not be read.
    #[error("upstream CA certificate {path}: {cause}")]
    UpstreamCa {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: String,
    },
    /// The HTTP client for upstream could not be built.
    #[error("upstream client: {0}")]
    Client(#[from] reqwest::Error),
    /// The fleet report database could not be opened.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetDbError),
    /// Accepting connections failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}
