//! A mirror in-process: [`RunningMirror`] in the caller's runtime,
//! [`MirrorThread`] on its own thread, both on `127.0.0.1:0`.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::{ServeError, ServeOptions, serve};
use crate::store::Store;

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
