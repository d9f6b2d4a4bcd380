//! The site-side commands: `import --from-export`, `prefetch`, and the
//! `--tool` / `--version` selection of `export`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{ArgMatches, Args};
use tooldelta_mirror::{ImportOptions, Store};

use crate::{ExportArgs, trust_store};

#[derive(Args)]
pub(crate) struct PrefetchArgs {
    /// The store folder (created if missing): a site mirror's `--store`.
    #[arg(long)]
    pub(crate) store: PathBuf,
    /// The upstream mirror or static export (base URL).
    #[arg(long)]
    pub(crate) upstream: String,
    /// The tool.
    pub(crate) tool_id: String,
    /// A version to fetch (repeat for several; default: latest).
    #[arg(long = "version")]
    pub(crate) versions: Vec<String>,
    /// Require upstream manifests to be signed by one of these keys (SPKI PEM).
    #[arg(long)]
    pub(crate) trust: Vec<PathBuf>,
    /// Extra CA certificates (PEM) to trust for an https upstream.
    #[arg(long)]
    pub(crate) upstream_ca: Vec<PathBuf>,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn import_bundle(
    store: &Store,
    bundle: &Path,
    opts: &ImportOptions,
    json: bool,
) -> Result<()> {
    if opts.trust.is_empty() {
        eprintln!(
            "warning: no --trust key: the bundle's manifests are checked (rules, hashes) but their signatures are not"
        );
    }
    let report = store
        .import_export(bundle, opts)
        .with_context(|| format!("importing the export {}", bundle.display()))?;
    for v in &report.versions {
        eprintln!(
            "imported {} {}: {} files, {} new blobs ({} bytes), manifest {:?}, signature {:?}",
            v.tool_id,
            v.tool_version,
            v.files,
            v.blobs_added,
            v.bytes_added,
            v.manifest,
            v.signature.status
        );
    }
    eprintln!(
        "{} versions and {} channel documents from {}",
        report.versions.len(),
        report.channels,
        bundle.display()
    );
    if json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

pub(crate) fn prefetch(args: &PrefetchArgs) -> Result<()> {
    let store = Store::open(&args.store)?;
    let mut upstream_ca = Vec::new();
    for path in &args.upstream_ca {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        upstream_ca.extend(
            reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("reading {}", path.display()))?,
        );
    }
    let opts = tooldelta_mirror::PrefetchOptions {
        upstream: args.upstream.clone(),
        trust: trust_store(&args.trust)?,
        upstream_ca,
        tool_id: args.tool_id.clone(),
        versions: args.versions.clone(),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime
        .block_on(tooldelta_mirror::prefetch(&store, opts))
        .with_context(|| format!("prefetching {} from {}", args.tool_id, args.upstream))?;
    eprintln!(
        "prefetched {} {}: {} blobs fetched ({} bytes), {} already stored",
        report.tool_id,
        report.versions.join(", "),
        report.blobs_fetched,
        report.bytes_fetched,
        report.blobs_present
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

/// `--tool A --version 1 --version 2 --tool B`: each version belongs to the
/// `--tool` before it (clap keeps each list apart; their indices tell the order).
pub(crate) fn selection(
    args: &ExportArgs,
    matches: Option<&ArgMatches>,
) -> Result<tooldelta_mirror::Selection> {
    let mut selection = tooldelta_mirror::Selection::all();
    let indices = |id: &str| -> Vec<usize> {
        matches
            .and_then(|m| m.indices_of(id))
            .map(Iterator::collect)
            .unwrap_or_default()
    };
    let mut flags: Vec<(usize, bool, &str)> = Vec::new();
    let (tool_at, version_at) = (indices("tools"), indices("versions"));
    for (i, tool) in args.tools.iter().enumerate() {
        flags.push((tool_at.get(i).copied().unwrap_or(0), true, tool));
    }
    for (i, version) in args.versions.iter().enumerate() {
        flags.push((
            version_at.get(i).copied().unwrap_or(usize::MAX),
            false,
            version,
        ));
    }
    flags.sort_by_key(|(at, _, _)| *at);
    for (_, is_tool, text) in flags {
        if is_tool {
            selection.tool(text);
        } else if !selection.version(text) {
            bail!("--version {text} comes before any --tool");
        }
    }
    Ok(selection)
}
