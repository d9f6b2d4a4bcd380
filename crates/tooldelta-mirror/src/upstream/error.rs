//! [`UpstreamError`]: why something could not be fetched from upstream.

use std::io;
use std::path::PathBuf;

use tooldelta_core::signing::TrustError;

use super::STALL_TIMEOUT;

/// Why something could not be fetched from upstream. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Connection refused, timeout, or the body was cut: retrying may help.
    #[error("upstream {url}: {source}")]
    Request {
        /// The URL asked.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// Upstream does not have it.
    #[error("upstream {url}: not found")]
    NotFound {
        /// The URL asked.
        url: String,
    },
    /// Upstream answered with another unexpected status.
    #[error("upstream {url}: HTTP {status}")]
    Status {
        /// The URL asked.
        url: String,
        /// The status received.
        status: u16,
    },
    /// More bytes than allowed (a hostile or broken upstream).
    #[error("upstream {url}: more than {limit} bytes")]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The content is not what its address says; it was discarded.
    #[error(
        "upstream {url}: integrity failure: expected sha256 {expected} ({expected_size} bytes), received {actual} ({actual_size} bytes); discarded"
    )]
    Integrity {
        /// The URL asked.
        url: String,
        /// The address.
        expected: String,
        /// What the bytes hash to.
        actual: String,
        /// The size a manifest states, or what was received when unknown.
        expected_size: u64,
        /// Bytes received.
        actual_size: u64,
    },
    /// No byte arrived for the stall timeout.
    #[error("upstream {url}: stalled (no byte for {} s)", STALL_TIMEOUT.as_secs())]
    Stalled {
        /// The URL asked.
        url: String,
    },
    /// A manifest that breaks the rules, or is not signed by a trusted key.
    #[error("upstream {url}: manifest refused: {source}")]
    Manifest {
        /// The URL asked.
        url: String,
        /// Why.
        #[source]
        source: Box<TrustError>,
    },
    /// A valid manifest for another tool or version than the route asked for.
    #[error("upstream {url}: served a manifest for {found} instead")]
    WrongManifest {
        /// The URL asked.
        url: String,
        /// `tool version` found.
        found: String,
    },
    /// Writing to the local store failed.
    #[error("storing {path} from upstream: {source}")]
    Store {
        /// The local file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl UpstreamError {
    /// Whether upstream simply does not have it (answered 404 to the client).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
