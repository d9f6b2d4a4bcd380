//! Client connections: the accept loop, the descriptor budget, the
//! connection limits and the timeouts that keep slow, idle and stalled
//! clients from holding the server (docs/mirror.md, "Connections").
//!
//! One loop serves plain HTTP and TLS alike: accept, ask [`limits`] for a
//! slot (or answer 503 at once), wrap the socket in the [`watched`] transport
//! that enforces the timeouts, then let hyper serve HTTP/1.1 or HTTP/2 on it.

mod limits;
mod metrics;
mod nofile;
mod refuse;
mod service;
mod watched;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

pub(crate) use metrics::ConnMetrics;
pub use nofile::{NofileLimit, raise_nofile_limit};

use limits::Limits;
use watched::{Activity, Timeouts, Watched, watchdog};

/// How long requests in flight may finish once shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(30);

/// How connections are limited and timed out (the `serve` flags of the same
/// names; defaults in docs/mirror.md). `None` turns a timeout or cap off.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// A request head (the TLS handshake included, for the first request) must
    /// arrive within this time.
    pub header_timeout: Option<Duration>,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout: Option<Duration>,
    /// A client that takes none of our bytes for this long is dropped.
    pub send_timeout: Option<Duration>,
    /// Most connections served at once; `None`: what the descriptor limit
    /// allows after [`ConnectionOptions::descriptor_reserve`].
    pub max_connections: Option<usize>,
    /// Most connections from one client address.
    pub max_per_address: Option<usize>,
    /// Descriptors kept out of the connection budget for the server itself
    /// (listener, logs, open-file cache, temp files, upstream sockets).
    pub descriptor_reserve: u64,
    /// How long a connection that finds every slot taken waits for one
    /// before it is answered 503.
    pub connection_wait: Duration,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            header_timeout: Some(Duration::from_secs(20)),
            idle_timeout: Some(Duration::from_secs(60)),
            send_timeout: Some(Duration::from_secs(60)),
            max_connections: None,
            max_per_address: Some(256),
            descriptor_reserve: 256,
            connection_wait: Duration::from_secs(1),
        }
    }
}

impl ConnectionOptions {
    /// The connection limit in force: as configured, or derived from the
    /// process's soft descriptor limit now.
    pub fn connection_limit(&self) -> usize {
        self.max_connections.unwrap_or_else(|| {
            nofile::connections_for(nofile::soft_nofile_limit(), self.descriptor_reserve)
        })
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            header: self.header_timeout,
            idle: self.idle_timeout,
            send: self.send_timeout,
        }
    }
}

/// What every connection task shares.
struct Shared {
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: Arc<Limits>,
    timeouts: Timeouts,
    metrics: ConnMetrics,
    http: Builder<TokioExecutor>,
    /// Refused connections allowed to linger (see [`refuse`]).
    lingering: Arc<Semaphore>,
}

/// Accepts and serves connections until `shutdown` resolves, then stops
/// accepting and gives requests in flight [`DRAIN`] to finish.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    options: &ConnectionOptions,
    metrics: &ConnMetrics,
    shutdown: impl Future<Output = ()>,
) {
    let shared = Arc::new(shared(app, tls, options, metrics));
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                tokio::spawn(connection(
                    Arc::clone(&shared),
                    stream,
                    peer,
                    graceful.watcher(),
                ));
            }
            Err(e) => accept_failed(&e, metrics).await,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
}

fn shared(
    app: Router,
    tls: Option<TlsAcceptor>,
    options: &ConnectionOptions,
    metrics: &ConnMetrics,
) -> Shared {
    let soft = nofile::soft_nofile_limit();
    let max = options.connection_limit();
    // Waiting and lingering connections hold descriptors from the reserve,
    // an eighth of it each (a quarter goes to the open-file cache, the rest
    // to the server's own files and sockets).
    let spare = usize::try_from(options.descriptor_reserve / 8).unwrap_or(usize::MAX);
    metrics.limit.set(i64::try_from(max).unwrap_or(i64::MAX));
    metrics
        .descriptor_limit
        .set(soft.map_or(i64::MAX, |s| i64::try_from(s).unwrap_or(i64::MAX)));
    tracing::info!(
        max_connections = max,
        max_per_address = ?options.max_per_address,
        descriptor_limit = ?soft,
        header_timeout = ?options.header_timeout,
        idle_timeout = ?options.idle_timeout,
        send_timeout = ?options.send_timeout,
        "connection limits"
    );
    let mut http = Builder::new(TokioExecutor::new());
    // The transport's timeouts replace hyper's header timeout, which would
    // also close kept-alive connections after the header time.
    http.http1().header_read_timeout(None);
    Shared {
        app,
        tls,
        limits: Limits::new(
            max,
            options.max_per_address,
            spare,
            options.connection_wait,
            metrics.open.clone(),
        ),
        timeouts: options.timeouts(),
        metrics: metrics.clone(),
        http,
        lingering: Arc::new(Semaphore::new(spare)),
    }
}

/// An `accept()` failure: a client that vanished is nothing; anything else
/// (out of descriptors: the reserve was too small) is logged and the loop
/// pauses briefly instead of spinning.
async fn accept_failed(e: &std::io::Error, metrics: &ConnMetrics) {
    use std::io::ErrorKind;
    metrics.accept_errors.inc();
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; pausing 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, watcher: Watcher) {
    let slot = match shared.limits.admit(peer.ip()).await {
        Ok(slot) => slot,
        Err(refusal) => {
            shared.metrics.refused(refusal).inc();
            tracing::debug!(%peer, reason = refusal.label(), "connection refused");
            refuse::refuse(stream, refusal, shared.tls.is_none(), &shared.lingering).await;
            return;
        }
    };
    shared.metrics.accepted.inc();
    // Responses leave in full buffers; small ones must not wait for an ACK.
    let _ = stream.set_nodelay(true);
    let activity = Activity::new();
    let io = Watched::new(
        stream,
        Arc::clone(&activity),
        shared.timeouts.send,
        &shared.metrics,
    );
    let serve = async {
        match &shared.tls {
            None => serve_http(&shared, io, Arc::clone(&activity), watcher, peer).await,
            Some(acceptor) => match acceptor.accept(io).await {
                Ok(tls) => {
                    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                        activity.set_multiplexed();
                    }
                    serve_http(&shared, tls, Arc::clone(&activity), watcher, peer).await;
                }
                Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            },
        }
    };
    // Dropping the connection closes it: that is what a header or idle timeout does.
    tokio::select! {
        () = serve => {}
        kind = watchdog(&activity, shared.timeouts) => {
            shared.metrics.timeout(kind).inc();
            tracing::debug!(%peer, timeout = kind.label(), "connection closed by a timeout");
        }
    }
    drop(slot);
}

async fn serve_http<I>(
    shared: &Shared,
    io: I,
    activity: Arc<Activity>,
    watcher: Watcher,
    peer: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = shared.app.clone();
    let service = hyper::service::service_fn(move |request| {
        service::call(app.clone(), Arc::clone(&activity), request)
    });
    let connection = shared.http.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
