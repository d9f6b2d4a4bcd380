//! `tooldelta-mirror`: the HQ / site mirror server (CONTRACT §4).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use tooldelta_core::rate::RateSchedule;
use tooldelta_core::signing::TrustStore;
use tooldelta_mirror::app::AppReleaseInput;
use tooldelta_mirror::{ConnectionOptions, ImportOptions, ServeOptions, Store, TlsFiles};

mod site_commands;
use site_commands::{import_bundle, prefetch, selection};

#[derive(Parser)]
#[command(
    name = "tooldelta-mirror",
    version,
    about = "Serve tooldelta manifests and content-addressed blobs"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a published tool folder against its manifest and add it to the store.
    Import(ImportArgs),
    /// Serve the store over HTTP(S).
    Serve(ServeArgs),
    /// Write the read routes as a static tree (blobs hardlinked) for nginx or a CDN.
    Export(ExportArgs),
    /// Add a desktop-app release to the self-update feed.
    ImportApp(ImportAppArgs),
    /// Add a signed channel document (`tooldelta channel set`); an older one is refused.
    ImportChannel(ImportChannelArgs),
    /// Pull a tool's versions (manifests and every blob) from an upstream into the store.
    Prefetch(site_commands::PrefetchArgs),
}

#[derive(Args)]
struct ImportChannelArgs {
    /// The store folder (created if missing).
    #[arg(long)]
    store: PathBuf,
    /// The signed channel document.
    #[arg(long)]
    channel: PathBuf,
    /// Require a valid signature by one of these public keys (SPKI PEM).
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ImportArgs {
    /// The store folder (created if missing).
    #[arg(long)]
    store: PathBuf,
    /// The signed manifest.
    #[arg(long, required_unless_present = "from_export", requires = "tool_dir")]
    manifest: Option<PathBuf>,
    /// The tool folder the manifest describes.
    #[arg(long, requires = "manifest")]
    tool_dir: Option<PathBuf>,
    /// Instead: every version of an export tree (`export [--tool ID]`), each
    /// manifest and blob checked as above.
    #[arg(long, conflicts_with_all = ["manifest", "tool_dir", "replace"])]
    from_export: Option<PathBuf>,
    /// Require a valid signature by one of these public keys (SPKI PEM).
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// Overwrite a different manifest already stored for this version.
    #[arg(long)]
    replace: bool,
    /// Where `tooldelta publish` wrote the chunk index objects (default:
    /// `chunks/` beside the manifest; an index not found is rebuilt from its file).
    #[arg(long)]
    chunks_dir: Option<PathBuf>,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ServeArgs {
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

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The store folder.
    #[arg(long)]
    store: PathBuf,
    /// The output folder (same filesystem as the store).
    #[arg(long)]
    out: PathBuf,
    /// Export only this tool (repeat for several); `--version` after it
    /// narrows it to those versions.
    #[arg(long = "tool")]
    pub(crate) tools: Vec<String>,
    /// A version of the `--tool` before it (repeat for several).
    #[arg(long = "version", requires = "tools")]
    pub(crate) versions: Vec<String>,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ImportAppArgs {
    /// The store folder (created if missing).
    #[arg(long)]
    store: PathBuf,
    /// Platform as tauri-plugin-updater names it: linux, windows, darwin.
    #[arg(long)]
    target: String,
    /// Architecture as the plugin names it: x86_64, aarch64, …
    #[arg(long)]
    arch: String,
    /// SemVer of the release.
    #[arg(long)]
    version: String,
    /// The minisign signature file of the artifact (`*.sig`).
    #[arg(long)]
    signature: PathBuf,
    /// The artifact (AppImage, .deb, .msi, …), stored as a blob of this mirror …
    #[arg(long, conflicts_with = "url", required_unless_present = "url")]
    artifact: Option<PathBuf>,
    /// … or the URL it is downloaded from.
    #[arg(long)]
    url: Option<String>,
    /// Release notes.
    #[arg(long, default_value = "")]
    notes: String,
    /// Publication time, RFC 3339 (default: now).
    #[arg(long)]
    pub_date: Option<String>,
}

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_logs(&cli.log_format);
    let result = match cli.command {
        Command::Export(args) => export(&args, matches.subcommand_matches("export")),
        command => run(command),
    };
    if let Err(e) = result {
        eprintln!("tooldelta-mirror: error: {e:#}");
        std::process::exit(1);
    }
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Import(args) => import(&args),
        Command::Serve(args) => serve(args),
        Command::Export(args) => export(&args, None),
        Command::ImportApp(args) => import_app(&args),
        Command::ImportChannel(args) => import_channel(&args),
        Command::Prefetch(args) => prefetch(&args),
    }
}

fn trust_store(paths: &[PathBuf]) -> Result<TrustStore> {
    TrustStore::from_pem_files(paths).context("reading trusted keys")
}

fn import_channel(args: &ImportChannelArgs) -> Result<()> {
    let store = Store::open(&args.store)?;
    let bytes = std::fs::read(&args.channel)
        .with_context(|| format!("reading {}", args.channel.display()))?;
    let report = store
        .import_channel(&bytes, &trust_store(&args.trust)?)
        .with_context(|| format!("importing {}", args.channel.display()))?;
    eprintln!(
        "channel {} of {}: {} (sequence {}), {}, signature {:?}",
        report.channel,
        report.tool_id,
        report.version,
        report.sequence,
        report.outcome,
        report.signature.status
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

fn import(args: &ImportArgs) -> Result<()> {
    let store = Store::open(&args.store)?;
    let opts = ImportOptions {
        trust: trust_store(&args.trust)?,
        replace: args.replace,
        chunks_dir: args.chunks_dir.clone(),
    };
    if let Some(bundle) = &args.from_export {
        return import_bundle(&store, bundle, &opts, args.json);
    }
    let (Some(manifest), Some(tool_dir)) = (&args.manifest, &args.tool_dir) else {
        bail!("import needs --manifest FILE --tool-dir DIR, or --from-export DIR");
    };
    let report = store
        .import_file(manifest, tool_dir, &opts)
        .with_context(|| format!("importing {}", manifest.display()))?;
    eprintln!(
        "imported {} {}: {} files, {} new blobs ({} bytes), {} already stored, manifest {:?}, signature {:?}",
        report.tool_id,
        report.tool_version,
        report.files,
        report.blobs_added,
        report.bytes_added,
        report.blobs_present,
        report.manifest,
        report.signature.status
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

fn export(args: &ExportArgs, matches: Option<&ArgMatches>) -> Result<()> {
    let store = open_existing(&args.store)?;
    let selection = selection(args, matches)?;
    let report = tooldelta_mirror::export_selected(&store, &args.out, &selection)?;
    eprintln!(
        "exported {} tools, {} versions, {} blobs, {} file links into {}",
        report.tools,
        report.versions,
        report.blobs,
        report.file_links,
        args.out.display()
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

fn import_app(args: &ImportAppArgs) -> Result<()> {
    let store = Store::open(&args.store)?;
    let signature = std::fs::read_to_string(&args.signature)
        .with_context(|| format!("reading signature {}", args.signature.display()))?;
    let release = store.import_app(&AppReleaseInput {
        target: args.target.clone(),
        arch: args.arch.clone(),
        version: args.version.clone(),
        notes: args.notes.clone(),
        pub_date: args.pub_date.clone(),
        signature,
        url: args.url.clone(),
        artifact: args.artifact.clone(),
    })?;
    eprintln!(
        "app release {} for {}/{} added",
        release.version, args.target, args.arch
    );
    Ok(())
}

fn open_existing(path: &Path) -> Result<Store> {
    if !path.join("blobs").is_dir() {
        bail!(
            "{} is not a mirror store (no blobs/ folder)",
            path.display()
        );
    }
    Ok(Store::open(path)?)
}

fn serve(args: ServeArgs) -> Result<()> {
    let mut options = ServeOptions::new(args.store);
    options.upstream = args.upstream;
    options.trust = trust_store(&args.trust)?;
    options.upstream_ca = args.upstream_ca;
    options.upstream_max_rate = args.upstream_max_rate;
    options.refresh_interval = Duration::from_secs(args.refresh_secs);
    options.max_blob_bytes = args.max_blob_bytes;
    options.public_url = args.public_url;
    options.connections = args.connections.options();
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
