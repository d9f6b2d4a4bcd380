//! `tooldelta-mirror serve`: its flags and the server's start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tooldelta_core::rate::RateSchedule;

use anyhow::{Context, Result};
use clap::Args;
use tooldelta_mirror::{ConnectionOptions, ServeOptions, TlsFiles};

use crate::trust_store;

#[derive(Args)]
pub struct ServeArgs {
    /// The store folder (created if missing).
    #[arg(long)]
    store: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Pull missing manifests and blobs from this mirror or static export.
    #[arg(long)]
    upstream: Option<String>,
    /// Require manifests from upstream to be signed by one of these keys.
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// Extra CA certificates (PEM) to trust for an https upstream.
    #[arg(long)]
    upstream_ca: Vec<PathBuf>,
    /// Bandwidth cap of pull-through traffic from upstream: `20MiB`, or a
    /// schedule such as `09:00-18:00=10MiB,unlimited` (docs/network.md).
    #[arg(long, value_name = "RATE", value_parser = rate)]
    upstream_max_rate: Option<RateSchedule>,
    /// Seconds `latest`, the catalog and tool indexes from upstream are reused.
    #[arg(long, default_value_t = 30)]
    refresh_secs: u64,
    /// Largest blob fetched from upstream when no manifest states its size.
    #[arg(long, default_value_t = 1 << 40)]
    max_blob_bytes: u64,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The URL clients reach this mirror at (app-feed artifact URLs).
    #[arg(long)]
    public_url: Option<String>,
    #[command(flatten)]
    connections: ConnectionArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Keep blobs pulled through from upstream under N bytes: the least
    /// recently served go first; imported blobs and those of a version being
    /// served stay.
    #[arg(long, value_name = "N")]
    max_cache_bytes: Option<u64>,
    /// Seconds a served manifest keeps its version's blobs from eviction.
    #[arg(long, default_value_t = 600)]
    cache_pin_secs: u64,
}

/// Fleet reports (docs/fleet.md).
#[derive(Args)]
struct FleetArgs {
    /// Require this bearer token on `POST /api/v1/reports`.
    #[arg(long, value_name = "T")]
    report_token: Option<String>,
    /// Reports one workstation may send at once before the rate limit applies.
    #[arg(long, default_value_t = 5)]
    report_burst: u32,
    /// Then one report per this many seconds per workstation (0: no limit).
    #[arg(long, default_value = "10", value_parser = seconds)]
    report_interval_secs: Seconds,
    /// A workstation whose latest report is older than this is stale.
    #[arg(long, default_value_t = 86_400)]
    stale_after_secs: u64,
    /// Seconds reports gather before a site forwards them to --upstream.
    #[arg(long, default_value = "5", value_parser = seconds)]
    report_forward_secs: Seconds,
    /// Bearer token for the upstream's report route.
    #[arg(long, value_name = "T")]
    upstream_report_token: Option<String>,
}

impl FleetArgs {
    fn options(&self) -> tooldelta_mirror::fleet::FleetOptions {
        tooldelta_mirror::fleet::FleetOptions {
            report_token: self.report_token.clone(),
            burst: self.report_burst,
            interval: self.report_interval_secs.0.unwrap_or_default(),
            stale_after: Duration::from_secs(self.stale_after_secs),
            forward_interval: self
                .report_forward_secs
                .0
                .unwrap_or(Duration::from_millis(100)),
            upstream_token: self.upstream_report_token.clone(),
        }
    }
}

/// Connection limits and timeouts (docs/mirror.md, "Connections").
#[derive(Args)]
struct ConnectionArgs {
    /// Seconds a request head may take to arrive, TLS handshake included (0: no limit).
    #[arg(long, default_value = "20", value_parser = seconds)]
    header_timeout_secs: Seconds,
    /// Seconds a kept-alive connection may wait for its next request (0: no limit).
    #[arg(long, default_value = "60", value_parser = seconds)]
    idle_timeout_secs: Seconds,
    /// Seconds a client may take none of a response before it is dropped (0: no limit).
    #[arg(long, default_value = "60", value_parser = seconds)]
    send_timeout_secs: Seconds,
    /// Most connections served at once [default: (soft descriptor limit - reserve) / 2].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Most connections from one client address (0: no cap).
    #[arg(long, default_value_t = 256)]
    max_connections_per_address: usize,
    /// Descriptors kept for the server itself, outside the connection budget.
    #[arg(long, default_value_t = 256)]
    fd_reserve: u64,
    /// Seconds a connection waits for a free slot before it is answered 503.
    #[arg(long, default_value = "1", value_parser = seconds)]
    connection_wait_secs: Seconds,
}

impl ConnectionArgs {
    fn options(&self) -> ConnectionOptions {
        ConnectionOptions {
            header_timeout: self.header_timeout_secs.0,
            idle_timeout: self.idle_timeout_secs.0,
            send_timeout: self.send_timeout_secs.0,
            max_connections: self.max_connections,
            max_per_address: (self.max_connections_per_address > 0)
                .then_some(self.max_connections_per_address),
            descriptor_reserve: self.fd_reserve,
            connection_wait: self.connection_wait_secs.0.unwrap_or_default(),
        }
    }
}

/// A number of seconds on the command line; 0 (`None`) turns a limit off.
#[derive(Debug, Clone, Copy)]
struct Seconds(Option<Duration>);

/// Seconds, fractions allowed.
fn seconds(text: &str) -> Result<Seconds, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
    let duration =
        Duration::try_from_secs_f64(secs).map_err(|e| format!("{text:?} seconds: {e}"))?;
    Ok(Seconds((!duration.is_zero()).then_some(duration)))
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let mut options = ServeOptions::new(args.store);
    options.upstream = args.upstream;
    options.trust = trust_store(&args.trust)?;
    options.upstream_ca = args.upstream_ca;
    options.upstream_max_rate = args.upstream_max_rate;
    options.refresh_interval = Duration::from_secs(args.refresh_secs);
    options.max_blob_bytes = args.max_blob_bytes;
    options.public_url = args.public_url;
    options.connections = args.connections.options();
    options.fleet = args.fleet.options();
    options.max_cache_bytes = args.max_cache_bytes;
    options.cache_pin_window = Duration::from_secs(args.cache_pin_secs);
    raise_descriptor_limit();
    options.tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        tooldelta_mirror::serve(listener, options, shutdown_signal()).await?;
        Ok(())
    })
}

/// Raises the soft descriptor limit to the hard one (systemd gives services
/// 1024) and logs both.
fn raise_descriptor_limit() {
    let show = |n: Option<u64>| n.map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
    let (limit, error) = tooldelta_mirror::raise_nofile_limit();
    let (before, soft, hard) = (show(limit.soft_before), show(limit.soft), show(limit.hard));
    match error {
        None => {
            tracing::info!(
                "descriptor limit (RLIMIT_NOFILE): soft {before} -> {soft}, hard {hard}"
            );
        }
        Some(e) => tracing::warn!(
            "descriptor limit (RLIMIT_NOFILE): soft {before} kept (hard {hard}): {e}"
        ),
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = ctrl_c.await;
        return;
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

fn rate(text: &str) -> Result<RateSchedule, String> {
    RateSchedule::parse(text).map_err(|e| e.to_string())
}
