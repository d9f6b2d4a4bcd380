//! `prefetch`: pre-warms a pull-through site mirror before a rollout. The
//! versions' manifests and every blob they need (content and chunk indexes)
//! are pulled from upstream exactly as a client's request would pull them
//! (same checks, same single verified rename into `blobs/`), so the site
//! serves them later even with its upstream gone.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tooldelta_core::manifest::Manifest;
use tooldelta_core::signing::TrustStore;

use crate::metrics::Metrics;
use crate::store::{Store, VersionSel};
use crate::upstream::{Upstream, UpstreamConfig, UpstreamError};

/// What to prefetch.
#[derive(Debug, Clone)]
pub struct PrefetchOptions {
    /// The upstream mirror or export (base URL).
    pub upstream: String,
    /// Keys upstream manifests must be signed by (empty: not checked).
    pub trust: TrustStore,
    /// Extra CA certificates for an https upstream.
    pub upstream_ca: Vec<reqwest::Certificate>,
    /// The tool.
    pub tool_id: String,
    /// The versions (`latest` when empty).
    pub versions: Vec<String>,
}

/// What a prefetch did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrefetchReport {
    /// The tool.
    pub tool_id: String,
    /// The versions now stored, as published.
    pub versions: Vec<String>,
    /// Blobs fetched from upstream.
    pub blobs_fetched: usize,
    /// Blobs the store already held.
    pub blobs_present: usize,
    /// Bytes of the blobs fetched.
    pub bytes_fetched: u64,
}

/// Why a prefetch failed; what was fetched before stays (it is verified).
#[derive(Debug, thiserror::Error)]
pub enum PrefetchError {
    /// Upstream has no such tool or version.
    #[error("upstream {upstream} has no {tool_id} {version}")]
    NotUpstream {
        /// The upstream.
        upstream: String,
        /// The tool.
        tool_id: String,
        /// The version asked for.
        version: String,
    },
    /// A version text that is neither `latest` nor SemVer.
    #[error("{0:?} is not a version (SemVer, or latest)")]
    BadVersion(String),
    /// Fetching or checking something from upstream failed.
    #[error(transparent)]
    Upstream(#[from] Arc<UpstreamError>),
    /// The HTTP client could not be built.
    #[error("upstream client: {0}")]
    Client(#[from] reqwest::Error),
    /// The store could not be read.
    #[error("store {path}: {source}")]
    Store {
        /// The store folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Pulls the manifests and blobs of `opts.versions` of `opts.tool_id` into `store`.
pub async fn prefetch(
    store: &Store,
    opts: PrefetchOptions,
) -> Result<PrefetchReport, PrefetchError> {
    let config = UpstreamConfig {
        base: opts.upstream.clone(),
        trust: opts.trust,
        max_blob_bytes: 1 << 40,
        refresh_interval: Duration::ZERO,
        extra_roots: opts.upstream_ca,
        // A prefetch runs before a rollout, at the operator's request: not capped.
        max_rate: None,
    };
    let up = Arc::new(Upstream::new(
        config,
        store.clone(),
        Arc::new(Metrics::new()),
    )?);
    let mut report = PrefetchReport {
        tool_id: opts.tool_id.clone(),
        ..PrefetchReport::default()
    };
    let routes = if opts.versions.is_empty() {
        vec!["latest".to_owned()]
    } else {
        opts.versions
    };
    for route in routes {
        let sel =
            VersionSel::parse(&route).ok_or_else(|| PrefetchError::BadVersion(route.clone()))?;
        let folder = up
            .fetch_manifest(&opts.tool_id, &route, sel)
            .await?
            .ok_or_else(|| PrefetchError::NotUpstream {
                upstream: up.display_base(),
                tool_id: opts.tool_id.clone(),
                version: route.clone(),
            })?;
        let manifest = stored_manifest(store, &opts.tool_id, &folder)?;
        fetch_blobs(&up, store, &manifest, &mut report).await?;
        report.versions.push(folder);
    }
    Ok(report)
}

/// Every blob a manifest needs (files and their chunk indexes), each once.
async fn fetch_blobs(
    up: &Arc<Upstream>,
    store: &Store,
    manifest: &Manifest,
    report: &mut PrefetchReport,
) -> Result<(), PrefetchError> {
    let mut needed = BTreeMap::new();
    for file in &manifest.files {
        needed.insert(file.sha256.clone(), file.size);
        if let Some(chunks) = &file.chunks {
            needed.insert(chunks.sha256.clone(), chunks.size);
        }
    }
    for (hex, size) in needed {
        if store.has_blob(&hex) {
            report.blobs_present += 1;
            continue;
        }
        up.ensure_blob(&hex, Some(size)).await?;
        report.blobs_fetched += 1;
        report.bytes_fetched += size;
    }
    Ok(())
}

fn stored_manifest(store: &Store, tool_id: &str, folder: &str) -> Result<Manifest, PrefetchError> {
    let io_err = |source| PrefetchError::Store {
        path: store.root().to_owned(),
        source,
    };
    let bytes = store
        .read_manifest(tool_id, folder)
        .map_err(io_err)?
        .ok_or_else(|| io_err(std::io::Error::other("the manifest just stored vanished")))?;
    // Checked by the upstream gate before it was stored.
    let parsed =
        Manifest::parse(&bytes).map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
    Ok(parsed.manifest)
}
