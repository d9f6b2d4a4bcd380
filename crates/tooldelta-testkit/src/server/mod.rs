//! A fault-injecting HTTP server on 127.0.0.1.
//!
//! It serves an [`Origin`] correctly (single ranges, 416, strong ETags,
//! `If-Range`, `If-None-Match`) and bends its answers with the [`Fault`]s set
//! through [`FaultServer::faults`], so every fault is a deviation from a correct
//! server. It runs on its own thread and runtime, so sync and async tests use
//! it alike; dropping it stops every connection and frees the port.

mod body;
mod faults;
mod handler;
mod log;
mod origin;
mod range;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use faults::{EtagChange, Fault, Faults, PathFilter, RangeMutation, Rule, When};
pub use log::{PathStats, RequestLog, RequestRecord};
pub use origin::Origin;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (in use, not local, …); another address may work.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The upstream URL could not be used.
    #[error("cannot proxy to {url}: {cause}")]
    Upstream {
        /// The base URL.
        url: String,
        /// What went wrong.
        cause: String,
    },
    /// The server thread or its runtime could not start.
    #[error("cannot start the server runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// How to start a [`FaultServer`].
#[derive(Debug, Clone)]
pub struct Builder {
    origin: Origin,
    listen: SocketAddr,
    rules: Vec<Rule>,
}

impl Builder {
    /// Listen here instead of `127.0.0.1:0`.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Start with this rule in force.
    #[must_use]
    pub fn fault(mut self, rule: impl Into<Rule>) -> Self {
        self.rules.push(rule.into());
        self
    }

    /// Binds the address and starts serving.
    pub fn start(self) -> Result<FaultServer, ServerError> {
        let faults = Faults::default();
        for rule in self.rules {
            faults.add(rule);
        }
        let log = RequestLog::default();
        let shared = Arc::new(handler::Shared {
            backend: origin::Backend::new(self.origin)?,
            faults: faults.clone(),
            log: log.clone(),
        });
        let (stop, thread, addr) = spawn_runtime(self.listen, shared)?;
        Ok(FaultServer {
            addr,
            faults,
            log,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A running fault server. Dropping it shuts it down.
#[derive(Debug)]
pub struct FaultServer {
    addr: SocketAddr,
    faults: Faults,
    log: RequestLog,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// A builder serving `origin`.
    pub fn builder(origin: Origin) -> Builder {
        Builder {
            origin,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            rules: Vec::new(),
        }
    }

    /// Serves the folder `root` (a static mirror export) on 127.0.0.1:0.
    ///
    /// # Panics
    /// When the server cannot start: the test environment is broken.
    pub fn serve_dir(root: impl Into<std::path::PathBuf>) -> Self {
        Self::builder(Origin::Dir(root.into()))
            .start()
            .expect("start the fault server")
    }

    /// Forwards to `upstream` (a base URL such as `http://127.0.0.1:8080`) on 127.0.0.1:0.
    ///
    /// # Panics
    /// When the server cannot start: the test environment is broken.
    pub fn proxy(upstream: &str) -> Self {
        Self::builder(Origin::Upstream(upstream.to_owned()))
            .start()
            .expect("start the fault server")
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: the `--mirror` URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault switches; changes apply to the next request.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// What was asked and sent so far.
    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    /// Stops serving: open connections are dropped and the port is freed.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Serves until the process is told to stop (SIGINT or SIGTERM); for the
    /// standalone binary.
    pub fn wait_for_signal(self) -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        })?;
        self.shutdown();
        Ok(())
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

type Started = (tokio::sync::oneshot::Sender<()>, JoinHandle<()>, SocketAddr);

/// Starts the server on its own thread and runtime; returns once bound.
fn spawn_runtime(listen: SocketAddr, shared: Arc<handler::Shared>) -> Result<Started, ServerError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("faultserver")
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let std_listener = std::net::TcpListener::bind(listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
    let addr = std_listener
        .local_addr()
        .map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = axum::Router::new()
        .fallback(handler::handle)
        .with_state(shared);
    let thread = std::thread::Builder::new()
        .name(format!("faultserver-{addr}"))
        .spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                // Not a graceful shutdown: a stalled body would hold it open.
                // Dropping the runtime below cancels every connection task.
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(ServerError::Runtime)?;
    Ok((stop_tx, thread, addr))
}
