//! Pull-through from an upstream mirror (another `tooldelta-mirror`, or any
//! static export of one served by nginx, a CDN or an object store).
//!
//! A missing blob is fetched once however many clients ask at the same moment
//! ([`SingleFlight`]); its bytes go to a temp file in the store while being
//! hashed, and only a blob whose SHA-256 (and size, when a manifest states it)
//! matches is renamed into `blobs/`. Waiting clients are answered from the
//! store once that rename has happened: nothing unverified is ever sent.
//! Manifests are checked like `import` checks them (rules, hash, signature when
//! keys are trusted, tool id and version asked for) before they are stored.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tooldelta_core::api;
use tooldelta_core::manifest::MAX_MANIFEST_BYTES;
use tooldelta_core::pending::UpstreamProgress;
use tooldelta_core::signing::TrustStore;
use tooldelta_core::stream::Body;

mod blob;
mod error;
mod progress;
mod rebuild;

use blob::stream_error;
pub use error::UpstreamError;

use crate::metrics::Metrics;
use crate::singleflight::SingleFlight;
use crate::store::{self, Store, VersionSel};

/// Largest catalog or tool index accepted from upstream.
const MAX_INDEX_BYTES: u64 = 16 * 1024 * 1024;

/// An upstream body that sends no byte for this long is abandoned.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

type Shared<T> = Result<T, Arc<UpstreamError>>;

/// What a fresh upstream document said (`None`: upstream has none).
struct Remembered(Option<Bytes>);

/// The upstream side of a pull-through mirror.
#[derive(Debug)]
pub(crate) struct Upstream {
    base: String,
    client: reqwest::Client,
    store: Store,
    metrics: Arc<Metrics>,
    trust: TrustStore,
    max_blob_bytes: u64,
    refresh_interval: Duration,
    max_rate: Option<Arc<tooldelta_core::rate::RateLimiter>>,
    blobs: SingleFlight<Shared<()>>,
    /// How far each running blob fetch has come.
    progress: progress::Flights,
    manifests: SingleFlight<Shared<Option<String>>>,
    indexes: SingleFlight<Shared<Option<Bytes>>>,
    /// When each `latest` / index route was last fetched, and what it said.
    fresh: Mutex<HashMap<String, (Instant, Option<Bytes>)>>,
}

/// Settings of the upstream side.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamConfig {
    pub base: String,
    pub trust: TrustStore,
    pub max_blob_bytes: u64,
    pub refresh_interval: Duration,
    pub extra_roots: Vec<reqwest::Certificate>,
    /// One bucket for every pull-through body (`--upstream-max-rate`).
    pub max_rate: Option<Arc<tooldelta_core::rate::RateLimiter>>,
}

impl Upstream {
    pub(crate) fn new(
        config: UpstreamConfig,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Result<Self, reqwest::Error> {
        tooldelta_core::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Per read, not per response: a multi-GB blob may take long, a stall may not.
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("tooldelta-mirror/", env!("CARGO_PKG_VERSION")));
        for cert in config.extra_roots {
            builder = builder.add_root_certificate(cert);
        }
        Ok(Self {
            base: config.base.trim_end_matches('/').to_owned(),
            client: builder.build()?,
            store,
            metrics,
            trust: config.trust,
            max_blob_bytes: config.max_blob_bytes,
            refresh_interval: config.refresh_interval,
            max_rate: config.max_rate,
            blobs: SingleFlight::default(),
            progress: progress::Flights::default(),
            manifests: SingleFlight::default(),
            indexes: SingleFlight::default(),
            fresh: Mutex::default(),
        })
    }

    /// The upstream URL of a route (relative, as [`api`] builds them, or
    /// with a leading `/`).
    /// The keys upstream documents must be signed by (empty: not checked).
    pub(crate) fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// The HTTP client (its CA roots), shared by the report forwarder.
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub(crate) fn url(&self, route: &str) -> String {
        format!("{}/{}", self.base, route.trim_start_matches('/'))
    }

    /// Makes sure the blob is in the store, fetching it once if needed.
    pub(crate) async fn ensure_blob(
        self: &Arc<Self>,
        hex: &str,
        expected_size: Option<u64>,
    ) -> Shared<()> {
        let this = Arc::clone(self);
        let owned = hex.to_owned();
        let work = async move {
            // A flight that landed between the caller's look and now.
            if this.store.has_blob(&owned) {
                return Ok(());
            }
            this.download_blob(&owned, expected_size)
                .await
                .map_err(Arc::new)
        };
        self.blobs
            .run(hex, work)
            .await
            .unwrap_or_else(|| Err(Arc::new(panicked(&self.url(hex)))))
    }

    /// Fetches a manifest (`latest` or one version) into the store; returns
    /// the folder it is stored under, or `None` when upstream has none.
    pub(crate) async fn fetch_manifest(
        self: &Arc<Self>,
        tool_id: &str,
        route_version: &str,
        sel: VersionSel,
    ) -> Shared<Option<String>> {
        let key = format!("{tool_id}/{route_version}");
        let this = Arc::clone(self);
        let (id, route) = (tool_id.to_owned(), route_version.to_owned());
        let work = async move {
            this.download_manifest(&id, &route, &sel)
                .await
                .map_err(Arc::new)
        };
        self.manifests
            .run(&key, work)
            .await
            .unwrap_or_else(|| Err(Arc::new(panicked(&key))))
    }

    /// Refreshes `latest` of a tool from upstream unless done within the
    /// refresh interval.
    pub(crate) async fn refresh_latest(self: &Arc<Self>, tool_id: &str) -> Shared<()> {
        let key = format!("latest:{tool_id}");
        if self.is_fresh(&key).is_some() {
            return Ok(());
        }
        self.fetch_manifest(tool_id, "latest", VersionSel::Latest)
            .await?;
        self.mark_fresh(&key, None);
        Ok(())
    }

    /// A catalog or tool-index document from upstream (cached for the refresh
    /// interval); `None` when upstream has none.
    pub(crate) async fn index(self: &Arc<Self>, route: &str) -> Shared<Option<Bytes>> {
        if let Some(Remembered(cached)) = self.is_fresh(route) {
            return Ok(cached);
        }
        let this = Arc::clone(self);
        let owned = route.to_owned();
        let work = async move {
            let got = this.download_index(&owned).await.map_err(Arc::new)?;
            this.mark_fresh(&owned, got.clone());
            Ok(got)
        };
        self.indexes
            .run(route, work)
            .await
            .unwrap_or_else(|| Err(Arc::new(panicked(route))))
    }

    fn is_fresh(&self, key: &str) -> Option<Remembered> {
        let fresh = self
            .fresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        fresh
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.refresh_interval)
            .map(|(_, doc)| Remembered(doc.clone()))
    }

    fn mark_fresh(&self, key: &str, doc: Option<Bytes>) {
        let mut fresh = self
            .fresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: one entry per tool and index route; clear if something floods it.
        if fresh.len() > 10_000 {
            fresh.clear();
        }
        fresh.insert(key.to_owned(), (Instant::now(), doc));
    }

    async fn get(&self, url: &str) -> Result<reqwest::Response, UpstreamError> {
        self.metrics.upstream_fetches.inc();
        tracing::info!(%url, "fetching from upstream");
        let resp = self.send(url).await?;
        ok_status(url, resp)
    }

    /// One GET, whatever its status.
    async fn send(&self, url: &str) -> Result<reqwest::Response, UpstreamError> {
        self.client
            .get(url)
            .send()
            .await
            .map_err(|source| UpstreamError::Request {
                url: url.to_owned(),
                source,
            })
    }

    /// The upstream's base URL as clients may see it (no credentials).
    pub(crate) fn display_base(&self) -> String {
        tooldelta_core::pending::redact_url(&self.base)
    }

    /// How far the running fetch of blob `hex` has come, if one runs.
    pub(crate) fn blob_progress(&self, hex: &str) -> Option<UpstreamProgress> {
        self.progress.get(hex)
    }

    /// A small document, read whole through the core's size-limit adapter.
    async fn get_small(&self, url: &str, limit: u64) -> Result<Bytes, UpstreamError> {
        let resp = self.get(url).await?;
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(UpstreamError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        let mut body = Body::new(resp).limit(limit).stall_timeout(STALL_TIMEOUT);
        let mut out = Vec::new();
        loop {
            match body.next().await {
                Ok(Some(chunk)) => {
                    self.metrics.upstream_bytes.inc_by(chunk.len() as u64);
                    out.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Bytes::from(out)),
                Err(e) => return Err(stream_error(url, e)),
            }
        }
    }

    async fn download_index(&self, route: &str) -> Result<Option<Bytes>, UpstreamError> {
        let url = self.url(route);
        match self.get_small(&url, MAX_INDEX_BYTES).await {
            Ok(doc) => Ok(Some(doc)),
            // A static export served without `try_files` only has the index.json.
            Err(e) if e.is_not_found() => {
                let url = self.url(&format!("{route}/index.json"));
                match self.get_small(&url, MAX_INDEX_BYTES).await {
                    Ok(doc) => Ok(Some(doc)),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn download_manifest(
        &self,
        tool_id: &str,
        route_version: &str,
        sel: &VersionSel,
    ) -> Result<Option<String>, UpstreamError> {
        let url = self.url(&api::manifest(tool_id, route_version));
        let bytes = match self.get_small(&url, MAX_MANIFEST_BYTES).await {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let trust = self.trust.clone();
        let store = self.store.clone();
        let (id, sel, url2) = (tool_id.to_owned(), sel.clone(), url.clone());
        // Parsing and hashing a large manifest is CPU work: off the async threads.
        tokio::task::spawn_blocking(move || {
            store_manifest(&store, &trust, &id, &sel, &url2, &bytes)
        })
        .await
        .map_err(|e| UpstreamError::Store {
            path: PathBuf::from(&url),
            source: io::Error::other(e),
        })?
        .map(Some)
    }
}

/// Checks a manifest from upstream and stores it unless a manifest for the
/// same version is already stored (published versions are immutable).
fn store_manifest(
    store: &Store,
    trust: &TrustStore,
    tool_id: &str,
    sel: &VersionSel,
    url: &str,
    bytes: &[u8],
) -> Result<String, UpstreamError> {
    let (manifest, _) =
        store::check_manifest(bytes, trust).map_err(|source| UpstreamError::Manifest {
            url: url.to_owned(),
            source: Box::new(source),
        })?;
    let version = manifest.version().expect("rules checked");
    let wrong =
        manifest.tool_id != tool_id || matches!(sel, VersionSel::Exact(want) if *want != version);
    if wrong {
        return Err(UpstreamError::WrongManifest {
            url: url.to_owned(),
            found: format!("{} {}", manifest.tool_id, manifest.tool_version),
        });
    }
    let store_err = |source| UpstreamError::Store {
        path: store.root().join("tools").join(tool_id),
        source,
    };
    let existing = store
        .versions(tool_id)
        .map_err(store_err)?
        .into_iter()
        .find(|(v, _)| *v == version);
    if let Some((_, folder)) = existing {
        if store
            .read_manifest(tool_id, &folder)
            .map_err(store_err)?
            .as_deref()
            != Some(bytes)
        {
            tracing::warn!(%url, tool_id, version = %folder, "upstream serves a different manifest for a stored version; keeping the stored one");
        }
        return Ok(folder);
    }
    store
        .put_manifest(tool_id, &manifest.tool_version, bytes)
        .map_err(store_err)?;
    Ok(manifest.tool_version)
}

/// The response if its status is 200; the error it stands for otherwise.
fn ok_status(url: &str, resp: reqwest::Response) -> Result<reqwest::Response, UpstreamError> {
    match resp.status().as_u16() {
        200 => Ok(resp),
        404 | 410 => Err(UpstreamError::NotFound {
            url: url.to_owned(),
        }),
        status => Err(UpstreamError::Status {
            url: url.to_owned(),
            status,
        }),
    }
}

fn panicked(what: &str) -> UpstreamError {
    UpstreamError::Store {
        path: PathBuf::from(what),
        source: io::Error::other("the fetch task panicked"),
    }
}
