//! The HTTP server: routes of CONTRACT §4, metrics and logs around them, plain
//! HTTP or TLS (rustls with ring).

mod body;
mod channels;
mod conditional;
mod feed;
mod fleet;
mod manifests;
mod missing;
mod open_cache;
mod options;
mod respond;
mod routes;
mod running;
mod track;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tooldelta_core::api::template;

use crate::metrics::Metrics;
use crate::store::Store;
use crate::upstream::{Upstream, UpstreamConfig};
use manifests::ManifestCache;
pub use options::{ServeError, ServeOptions, TlsFiles};
pub use running::{MirrorThread, RunningMirror};

/// Temp files older than this are leftovers of an interrupted run.
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);

/// Shared by every handler.
#[derive(Debug)]
pub(crate) struct AppState {
    store: Store,
    metrics: Arc<Metrics>,
    upstream: Option<Arc<Upstream>>,
    manifests: Arc<ManifestCache>,
    /// Blobs opened in the last seconds (their content never changes).
    open_blobs: open_cache::OpenBlobs,
    public_url: Option<String>,
    scheme: &'static str,
    /// The size limit of a pull-through cache, when set.
    cache: Option<Arc<crate::cache::CacheLimit>>,
    /// Fleet reports (never read by the serving routes).
    fleet: Arc<crate::fleet::FleetState>,
}

fn upstream_roots(options: &ServeOptions) -> Result<Vec<reqwest::Certificate>, ServeError> {
    let mut roots = Vec::new();
    for path in &options.upstream_ca {
        let ca_error = |cause: String| ServeError::UpstreamCa {
            path: path.clone(),
            cause,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
        roots.extend(certs);
    }
    Ok(roots)
}

fn build_state(options: &ServeOptions) -> Result<AppState, ServeError> {
    let store = Store::open(&options.store)?;
    match store.clean_temp(STALE_TEMP) {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "removed stale temp files from the store"),
        Err(e) => tracing::warn!(error = %e, "cannot clean the store's temp folder"),
    }
    let metrics = Arc::new(Metrics::new());
    let upstream = match &options.upstream {
        None => None,
        Some(base) => {
            let config = UpstreamConfig {
                base: base.clone(),
                trust: options.trust.clone(),
                max_blob_bytes: options.max_blob_bytes,
                refresh_interval: options.refresh_interval,
                extra_roots: upstream_roots(options)?,
                max_rate: options
                    .upstream_max_rate
                    .as_ref()
                    .filter(|r| !r.is_unlimited())
                    .map(|r| Arc::new(tooldelta_core::rate::RateLimiter::new(r.clone()))),
            };
            let upstream = Upstream::new(config, store.clone(), Arc::clone(&metrics))?;
            Some(Arc::new(upstream))
        }
    };
    let fleet = fleet_state(options, &store, upstream.as_deref(), &metrics)?;
    let cache = match options.max_cache_bytes {
        Some(limit) => Some(Arc::new(
            crate::cache::CacheLimit::open(store.clone(), limit, options.cache_pin_window)
                .map_err(ServeError::Io)?,
        )),
        None => None,
    };
    Ok(AppState {
        cache,
        fleet,
        store,
        metrics,
        upstream,
        manifests: Arc::default(),
        // A quarter of the reserve: cached open files must not eat the
        // connections' share of descriptors.
        open_blobs: open_cache::OpenBlobs::with_capacity(
            usize::try_from(options.connections.descriptor_reserve / 4).unwrap_or(usize::MAX),
        ),
        public_url: options.public_url.clone(),
        scheme: if options.tls.is_some() {
            "https"
        } else {
            "http"
        },
    })
}

/// The report database, limits and (with an http upstream) the forwarder.
/// Needs a tokio runtime (the forwarder is a task).
fn fleet_state(
    options: &ServeOptions,
    store: &Store,
    upstream: Option<&Upstream>,
    metrics: &Metrics,
) -> Result<Arc<crate::fleet::FleetState>, ServeError> {
    use crate::fleet::forward::{ForwardTarget, Forwarder};
    let f = &options.fleet;
    let db = crate::fleet::db::FleetDb::open(store.root())?;
    let forward = upstream
        .filter(|up| up.url("").starts_with("http"))
        .map(|up| {
            let target = ForwardTarget {
                client: up.client().clone(),
                url: up.url(tooldelta_core::api::REPORTS),
                token: f.upstream_token.clone(),
                interval: f.forward_interval,
            };
            Forwarder::start(target, metrics.fleet.clone())
        });
    Ok(Arc::new(crate::fleet::FleetState {
        db: Arc::new(db),
        limit: crate::fleet::limit::RateLimit::new(f.burst, f.interval),
        token: f.report_token.clone(),
        stale_after_secs: f.stale_after.as_secs(),
        forward,
        metrics: metrics.fleet.clone(),
    }))
}

/// The router with every route, metrics and logs.
fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(template::HEALTHZ, get(routes::healthz))
        .route(template::METRICS, get(routes::metrics))
        .route(template::TOOLS, get(routes::catalog))
        .route(template::TOOL, get(routes::tool))
        .route(template::MANIFEST, get(routes::manifest))
        .route(template::CHANNEL, get(channels::channel))
        .route(template::FILE, get(routes::file))
        .route(template::BLOB, get(routes::blob))
        .route(template::APP_FEED, get(feed::app_feed))
        .route(template::REPORTS, post(fleet::post_reports))
        .route(template::FLEET, get(fleet::get_fleet))
        .route(template::FLEET_PAGE, get(fleet::page))
        .route(template::FLEET_SCRIPT, get(fleet::script))
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            track::track,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets requests
/// in flight finish.
pub async fn serve(
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let state = Arc::new(build_state(&options)?);
    let metrics = state.metrics.connections.clone();
    let app = router(state);
    let addr = listener.local_addr()?;
    let tls = match &options.tls {
        Some(tls) => Some(tls_acceptor(tls).await?),
        None => None,
    };
    let scheme = if tls.is_some() { "HTTPS" } else { "HTTP" };
    tracing::info!(%addr, store = %options.store.display(), upstream = ?options.upstream, "serving {scheme}");
    crate::conn::serve_connections(listener, app, tls, &options.connections, &metrics, shutdown)
        .await;
    Ok(())
}

/// The rustls acceptor of a certificate chain and key (ALPN `h2`, `http/1.1`).
async fn tls_acceptor(tls: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    tooldelta_core::tls::install_crypto_provider();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .map_err(|source| ServeError::Tls {
            cert: tls.cert.clone(),
            key: tls.key.clone(),
            source,
        })?;
    Ok(tokio_rustls::TlsAcceptor::from(config.get_inner()))
}
