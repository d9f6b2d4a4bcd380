//! HTTP transport: the manifest with a size cap, and content into the local
//! store through `.partial` files that resume with `Range` + `If-Range`.
//!
//! Sources of one file, in order: for each mirror its blob route, then its
//! `files/{path}` route; last, the manifest's own `url`. A source that answers
//! 404 or another client error, or serves bad bytes, is dropped for this file;
//! one that breaks off is resumed at once while it makes progress; connection
//! errors, 5xx and stalls move on to the next source, and whole rounds over
//! the remaining sources are repeated with backoff (`backon`). A site mirror
//! that answers it is still pulling the content from its upstream
//! ([`crate::pending`]) is asked again while that pull advances
//! (`fetch::pending`): a cold site is progress, not a stall.
//!
//! The fetcher has its own [`FetchConfig`]: it knows nothing of the engine
//! above it.

mod attempt;
mod catalog;
mod channel;
mod client;
mod file;
mod manifest;
mod object;
pub(crate) mod pending;
pub(crate) use object::lock_object;
mod ranged;
pub mod resume;
pub mod segments;
pub use ranged::{ByteRange, Ranged};

use std::ops::AddAssign;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::Url;

use crate::api;
use crate::diff::PlannedFile;
use crate::error::{FetchError, SetupError};
use crate::explain::Cause;
use crate::rate::{RateLimiter, RateSchedule};

pub use client::NetworkConfig;
pub(crate) use client::Use;

/// Objects at least this large are fetched over several connections at once.
pub const DEFAULT_SEGMENT_THRESHOLD: u64 = 64 << 20;
/// Connections of one segmented download unless configured.
pub const DEFAULT_CONNECTIONS: usize = 4;

/// What the fetcher needs to know.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Mirror base URLs (e.g. `http://mirror:8080`), tried in order.
    pub mirrors: Vec<String>,
    /// A download that receives no byte for this long is abandoned (and retried).
    pub stall_timeout: Duration,
    /// Time allowed to connect and receive response headers.
    pub connect_timeout: Duration,
    /// Retries of a transient failure (per file, per source), with backoff.
    pub retries: u32,
    /// Proxy and private CA.
    pub network: NetworkConfig,
    /// Bandwidth cap of every download (`max_rate`); `None`: unlimited.
    pub max_rate: Option<RateSchedule>,
    /// Connections of one large object's download (`connections`; 1: one stream).
    pub connections: usize,
    /// Objects at least this large are downloaded in segments.
    pub segment_threshold: u64,
}

impl FetchConfig {
    /// Defaults for `mirrors`: 30 s stall timeout, 15 s to connect, 5
    /// retries, no cap, [`DEFAULT_CONNECTIONS`] connections from
    /// [`DEFAULT_SEGMENT_THRESHOLD`] bytes.
    pub fn new(mirrors: Vec<String>) -> Self {
        Self {
            mirrors,
            stall_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(15),
            retries: 5,
            network: NetworkConfig::default(),
            max_rate: None,
            connections: DEFAULT_CONNECTIONS,
            segment_threshold: DEFAULT_SEGMENT_THRESHOLD,
        }
    }
}

/// The HTTP side of the engine.
#[derive(Debug, Clone)]
pub struct Fetcher {
    clients: Arc<client::Clients>,
    mirrors: Vec<Url>,
    stall_timeout: Duration,
    retries: u32,
    rate: Option<Arc<RateLimiter>>,
    connections: usize,
    segment_threshold: u64,
}

/// A manifest as fetched: the bytes (at most
/// [`MAX_MANIFEST_BYTES`](crate::manifest::MAX_MANIFEST_BYTES)) and where from.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The raw bytes (not yet verified).
    pub bytes: Vec<u8>,
    /// The URL they came from; relative file URLs resolve against it.
    pub url: Url,
}

/// One content to bring into the store.
#[derive(Debug, Clone)]
pub struct ObjectJob<'a> {
    /// The tool (for messages and events).
    pub tool_id: &'a str,
    /// The file (its first path if several list the content).
    pub file: &'a PlannedFile,
    /// URLs to try, in order.
    pub sources: Vec<String>,
    /// Whether the object gets its own fsync or waits for the run's sync.
    pub durability: crate::fs::Durability,
}

/// What fetching cost: of one object, or summed over a fetch phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Payload bytes received in this run.
    pub downloaded: u64,
    /// Bytes of a partial from an earlier run that were kept.
    pub resumed: u64,
    /// Bytes copied from chunks already on disk (chunk-level delta).
    pub from_local_chunks: u64,
}

impl AddAssign for Fetched {
    fn add_assign(&mut self, other: Self) {
        self.downloaded += other.downloaded;
        self.resumed += other.resumed;
        self.from_local_chunks += other.from_local_chunks;
    }
}

impl Fetcher {
    /// Builds the HTTP client for a configuration.
    pub fn new(config: &FetchConfig) -> Result<Self, SetupError> {
        crate::tls::install_crypto_provider();
        let clients = client::Clients::new(config.connect_timeout, config.network.clone())?;
        let mirrors = config
            .mirrors
            .iter()
            .map(String::as_str)
            .map(parse_mirror)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            clients: Arc::new(clients),
            mirrors,
            stall_timeout: config.stall_timeout,
            retries: config.retries,
            rate: config
                .max_rate
                .as_ref()
                .filter(|s| !s.is_unlimited())
                .map(RateLimiter::shared),
            connections: config.connections.max(1),
            segment_threshold: config.segment_threshold,
        })
    }

    /// The HTTP client for `url`, with the engine's proxy and CA settings:
    /// for requests that are not downloads (a fleet report's POST).
    pub(crate) fn client_for(&self, url: &str) -> Result<&reqwest::Client, String> {
        self.clients.for_url(url, Use::Shared)
    }

    /// Sends a GET of `url` — `http`, `https` or `file` (an export tree) —
    /// with an optional `Range` and `If-Range`: the one way every download
    /// of the engine asks a source for bytes. Not timed: callers bound it.
    pub(crate) async fn get(
        &self,
        url: &str,
        range: Option<&str>,
        if_range: Option<&str>,
        use_: Use,
    ) -> Result<reqwest::Response, FetchError> {
        let connect = |source: Cause| FetchError::Connect {
            url: url.to_owned(),
            source,
        };
        if url.starts_with("file:") {
            return file::get(url, range)
                .await
                .map_err(|e| connect(Cause::new(e)));
        }
        let client = self
            .clients
            .for_url(url, use_)
            .map_err(|cause| connect(Cause::msg(cause)))?;
        let mut req = client.get(url);
        if let Some(range) = range {
            req = req.header(reqwest::header::RANGE, range);
        }
        if let Some(etag) = if_range {
            req = req.header(reqwest::header::IF_RANGE, etag);
        }
        req.send().await.map_err(|e| connect(Cause::new(e)))
    }

    /// The process's bandwidth cap, if any (shared by every body read).
    pub(crate) fn rate(&self) -> Option<Arc<RateLimiter>> {
        self.rate.clone()
    }

    /// The cap in force now, bytes per second (`None`: unlimited).
    pub fn rate_now(&self) -> Option<u64> {
        self.rate.as_ref().and_then(|r| r.current())
    }

    /// Connections of one segmented download, and the size from which an
    /// object is segmented.
    pub(crate) fn segmenting(&self) -> (usize, u64) {
        (self.connections, self.segment_threshold)
    }

    /// How long a request may go without a byte.
    pub(crate) fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// The blob route of content `hex` on every mirror, in order.
    pub(crate) fn blob_urls(&self, hex: &str) -> Vec<String> {
        self.mirrors
            .iter()
            .map(|m| {
                m.join(&format!("api/v1/blobs/sha256/{hex}"))
                    .expect("a relative path joins")
                    .to_string()
            })
            .collect()
    }

    /// The first mirror's answer for blob `hex`, at most `limit` bytes (its
    /// hash is not checked here: the caller does); `None` when no mirror has it.
    pub(crate) async fn blob_capped(&self, hex: &str, limit: u64) -> Option<Vec<u8>> {
        for url in self.blob_urls(hex) {
            let url = Url::parse(&url).expect("built from a parsed mirror URL");
            if let Ok(bytes) = self.get_capped(&url, limit).await {
                return Some(bytes);
            }
        }
        None
    }

    /// Whether any mirror is configured.
    pub fn has_mirrors(&self) -> bool {
        !self.mirrors.is_empty()
    }

    /// The URLs to try for a file of `tool_id` at `version`, in order.
    pub fn sources(
        &self,
        tool_id: &str,
        version: &str,
        file: &PlannedFile,
        manifest_url: Option<&Url>,
    ) -> Vec<String> {
        let mut out = Vec::with_capacity(self.mirrors.len() * 2 + 1);
        for mirror in &self.mirrors {
            let blob = api::blob(&file.sha256);
            let by_path = api::file(tool_id, version, &file.path);
            for rel in [blob, by_path] {
                out.push(
                    mirror
                        .join(&rel)
                        .expect("a relative path joins")
                        .to_string(),
                );
            }
        }
        let fallback = file.url.as_deref().and_then(|u| match manifest_url {
            Some(base) => base.join(u).ok(),
            None => Url::parse(u).ok(),
        });
        if let Some(url) = fallback.filter(|u| matches!(u.scheme(), "http" | "https")) {
            let url = url.to_string();
            if !out.contains(&url) {
                out.push(url);
            }
        }
        out
    }

    /// Delays between rounds over the sources: the one retry schedule of
    /// manifests and objects alike.
    fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(self.retries as usize)
            .with_jitter()
            .build()
    }
}

/// A mirror base URL, with a trailing slash so relative joins keep its path.
fn parse_mirror(text: &str) -> Result<Url, SetupError> {
    let with_slash = if text.ends_with('/') {
        text.to_owned()
    } else {
        format!("{text}/")
    };
    let url = Url::parse(&with_slash).map_err(|source| SetupError::MirrorUrl {
        url: text.to_owned(),
        source,
    })?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return Err(SetupError::MirrorScheme {
            url: text.to_owned(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(mirrors: &[&str]) -> Fetcher {
        Fetcher::new(&FetchConfig::new(
            mirrors.iter().map(|m| (*m).to_owned()).collect(),
        ))
        .unwrap()
    }

    #[test]
    fn sources_are_blob_then_path_per_mirror_then_the_manifest_url() {
        let f = fetcher(&["http://a:1", "http://b:2/base/"]);
        let file = PlannedFile {
            path: "models/m 1.gguf".into(),
            sha256: "ab".repeat(32),
            size: 1,
            url: Some("../files/x".into()),
            chunks: None,
        };
        let manifest_url = Url::parse("http://hq/api/v1/tools/t/1.0.0/manifest.json").unwrap();
        let got = f.sources("t", "1.0.0", &file, Some(&manifest_url));
        let blob = "ab".repeat(32);
        assert_eq!(
            got,
            [
                format!("http://a:1/api/v1/blobs/sha256/{blob}"),
                "http://a:1/api/v1/tools/t/1.0.0/files/models/m%201.gguf".to_owned(),
                format!("http://b:2/base/api/v1/blobs/sha256/{blob}"),
                "http://b:2/base/api/v1/tools/t/1.0.0/files/models/m%201.gguf".to_owned(),
                "http://hq/api/v1/tools/t/files/x".to_owned(),
            ]
        );
    }
}
