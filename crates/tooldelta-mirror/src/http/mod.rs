//! The HTTP server: routes of CONTRACT §4, metrics and logs around them, plain
//! HTTP or TLS (rustls with ring).

mod body;
mod conditional;
mod manifests;
mod open_cache;
mod respond;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tooldelta_core::signing::TrustStore;

use crate::app::is_platform_name;
use crate::metrics::{Metrics, RouteLabels, StatusLabels};
use crate::store::{Store, StoreError};
use crate::upstream::{Upstream, UpstreamConfig};
use manifests::ManifestCache;
use respond::ApiError;

/// Longest request path accepted (tool ids, versions and manifest paths are
/// all far shorter); longer ones get 414.
const MAX_PATH_LEN: usize = 8 * 1024;

/// Temp files older than this are leftovers of an interrupted run.
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);

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
    /// Serve HTTPS with this certificate chain and key (PEM).
    pub tls: Option<TlsFiles>,
    /// How long `latest`, the catalog and tool indexes from upstream are reused.
    pub refresh_interval: Duration,
    /// Largest blob fetched from upstream when no manifest states its size.
    pub max_blob_bytes: u64,
    /// The URL clients reach this mirror at (for app-feed artifact URLs);
    /// derived from the `Host` header when absent.
    pub public_url: Option<String>,
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
            tls: None,
            refresh_interval: Duration::from_secs(30),
            max_blob_bytes: 1 << 40,
            public_url: None,
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
    /// Accepting connections failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

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
            };
            let upstream = Upstream::new(config, store.clone(), Arc::clone(&metrics))?;
            Some(Arc::new(upstream))
        }
    };
    Ok(AppState {
        store,
        metrics,
        upstream,
        manifests: Arc::default(),
        open_blobs: open_cache::OpenBlobs::default(),
        public_url: options.public_url.clone(),
        scheme: if options.tls.is_some() {
            "https"
        } else {
            "http"
        },
    })
}

/// The router with every route, metrics and logs.
fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .route("/api/v1/tools", get(routes::catalog))
        .route("/api/v1/tools/{tool_id}", get(routes::tool))
        .route(
            "/api/v1/tools/{tool_id}/{version}/manifest.json",
            get(routes::manifest),
        )
        .route(
            "/api/v1/tools/{tool_id}/{version}/files/{*path}",
            get(routes::file),
        )
        .route("/api/v1/blobs/sha256/{hex}", get(routes::blob))
        .route(
            "/api/v1/app/{target}/{arch}/{current_version}",
            get(app_feed),
        )
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), track))
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
    let app = router(state);
    let addr = listener.local_addr()?;
    let Some(tls) = &options.tls else {
        tracing::info!(%addr, store = %options.store.display(), upstream = ?options.upstream, "serving HTTP");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
        return Ok(());
    };
    crate::install_crypto_provider();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .map_err(|source| ServeError::Tls {
            cert: tls.cert.clone(),
            key: tls.key.clone(),
            source,
        })?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    tracing::info!(%addr, store = %options.store.display(), upstream = ?options.upstream, "serving HTTPS");
    axum_server::from_tcp_rustls(listener.into_std()?, config)?
        .handle(handle)
        .serve(app.into_make_service())
        .await?;
    Ok(())
}

/// Counts, times and logs every request; refuses over-long paths.
async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let route = route_label(&path);
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    state
        .metrics
        .requests
        .get_or_create(&RouteLabels {
            route: route.to_owned(),
            method: method.to_owned(),
        })
        .inc();
    let start = Instant::now();
    let response = if path.len() > MAX_PATH_LEN {
        ApiError {
            status: StatusCode::URI_TOO_LONG,
            message: format!("request path longer than {MAX_PATH_LEN} bytes"),
        }
        .into_response()
    } else {
        next.run(req).await
    };
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .duration
        .get_or_create(&StatusLabels {
            route: route.to_owned(),
            status,
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        method,
        path = %truncate(&path, 256),
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The route template of a path: a bounded label set for metrics.
fn route_label(path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["healthz"] => "/healthz",
        ["metrics"] => "/metrics",
        ["api", "v1", "tools"] => "/api/v1/tools",
        ["api", "v1", "tools", _] => "/api/v1/tools/{tool_id}",
        ["api", "v1", "tools", _, _, "manifest.json"] => {
            "/api/v1/tools/{tool_id}/{version}/manifest.json"
        }
        ["api", "v1", "tools", _, _, "files", _, ..] => {
            "/api/v1/tools/{tool_id}/{version}/files/{path}"
        }
        ["api", "v1", "blobs", "sha256", _] => "/api/v1/blobs/sha256/{hex}",
        ["api", "v1", "app", _, _, _] => "/api/v1/app/{target}/{arch}/{current_version}",
        _ => "other",
    }
}

/// `GET /api/v1/app/{target}/{arch}/{current_version}` for tauri-plugin-updater.
async fn app_feed(
    State(state): State<Arc<AppState>>,
    Path((target, arch, current)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !is_platform_name(&target) || !is_platform_name(&arch) {
        return Err(ApiError::not_found(format!(
            "no app platform {target:?}/{arch:?}"
        )));
    }
    let current = tooldelta_core::manifest::parse_version(&current)
        .map_err(|e| ApiError::bad_request(format!("current_version: {e}")))?;
    let store = state.store.clone();
    let (t, a) = (target.clone(), arch.clone());
    let release = routes::blocking(move || store.app_update(&t, &a, &current)).await?;
    let Some(release) = release else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let base = state.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("{}://{host}", state.scheme)
    });
    Ok(respond::json(
        &method,
        &headers,
        &release.to_updater(&base),
        &state.metrics,
    ))
}

/// A mirror serving on `127.0.0.1:0` in the current tokio runtime, for tests
/// and tools that need one in-process. Stops when [`RunningMirror::stop`] is
/// awaited or when dropped.
#[derive(Debug)]
pub struct RunningMirror {
    addr: SocketAddr,
    tls: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

impl RunningMirror {
    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(options: ServeOptions) -> Result<Self, ServeError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // Fail here, not in the task, when the store cannot be opened.
        Store::open(&options.store)?;
        let tls = options.tls.is_some();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve(listener, options, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            tls,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (or `https://localhost:PORT` with TLS).
    pub fn url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Stops accepting, waits for requests in flight, returns the outcome.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| ServeError::Io(std::io::Error::other(e)))?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningMirror {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A mirror on its own thread and runtime, for synchronous tests: serves on
/// `127.0.0.1:0` until dropped.
#[derive(Debug)]
pub struct MirrorThread {
    url: String,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MirrorThread {
    /// Starts the mirror and returns once it accepts connections.
    pub fn start(options: ServeOptions) -> Result<Self, ServeError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(ServeError::Io(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                match RunningMirror::start(options).await {
                    Ok(mirror) => {
                        let _ = ready_tx.send(Ok((mirror.url(), mirror.addr())));
                        let _ = stopped.await;
                        if let Err(e) = mirror.stop().await {
                            tracing::error!(error = %e, "mirror stopped with an error");
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        });
        let (url, addr) = ready_rx
            .recv()
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))??;
        Ok(Self {
            url,
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MirrorThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
