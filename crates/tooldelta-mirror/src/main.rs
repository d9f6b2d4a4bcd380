//! `tooldelta-mirror`: the HQ / site mirror server (CONTRACT §4).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use tooldelta_core::signing::TrustStore;
use tooldelta_mirror::app::AppReleaseInput;
use tooldelta_mirror::{ImportOptions, Store};

mod serve_cmd;
use serve_cmd::{ServeArgs, serve};

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
    Serve(Box<ServeArgs>),
    /// Write the read routes as a static tree (blobs hardlinked) for nginx or a CDN.
    Export(ExportArgs),
    /// Add a desktop-app release to the self-update feed.
    ImportApp(ImportAppArgs),
    /// Add a signed channel document (`tooldelta channel set`); an older one is refused.
    ImportChannel(ImportChannelArgs),
    /// Pull a tool's versions (manifests and every blob) from an upstream into the store.
    Prefetch(site_commands::PrefetchArgs),
    /// Remove a version's manifest from the store (its blobs go at the next `gc`).
    Remove(RemoveArgs),
    /// Remove blobs no stored manifest or app release references.
    Gc(GcArgs),
}

#[derive(Args)]
struct RemoveArgs {
    /// The store folder.
    #[arg(long)]
    store: PathBuf,
    /// The tool.
    #[arg(long)]
    tool: String,
    /// The version to remove.
    #[arg(long)]
    version: String,
    /// Remove it even if a stored channel document still offers it.
    #[arg(long)]
    force: bool,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct GcArgs {
    /// The store folder.
    #[arg(long)]
    store: PathBuf,
    /// Leave unreferenced blobs younger than this many seconds (an import
    /// running beside gc writes its blobs before its manifest).
    #[arg(long, default_value_t = tooldelta_mirror::store::GC_GRACE.as_secs())]
    grace_secs: u64,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
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
        Command::Serve(args) => serve(*args),
        Command::Export(args) => export(&args, None),
        Command::ImportApp(args) => import_app(&args),
        Command::ImportChannel(args) => import_channel(&args),
        Command::Prefetch(args) => prefetch(&args),
        Command::Remove(args) => remove(&args),
        Command::Gc(args) => gc(&args),
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

fn remove(args: &RemoveArgs) -> Result<()> {
    let store = open_existing(&args.store)?;
    let report = store.remove_version(&args.tool, &args.version, args.force)?;
    eprintln!(
        "removed {} {} (run `tooldelta-mirror gc` to free its blobs)",
        report.tool_id, report.version
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

fn gc(args: &GcArgs) -> Result<()> {
    let store = open_existing(&args.store)?;
    let report = store
        .gc(Duration::from_secs(args.grace_secs))
        .with_context(|| format!("collecting {}", args.store.display()))?;
    eprintln!(
        "removed {} blobs ({} bytes); kept {} referenced, {} unreferenced but younger than {} s",
        report.blobs_removed,
        report.bytes_removed,
        report.blobs_kept,
        report.blobs_young,
        args.grace_secs
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
