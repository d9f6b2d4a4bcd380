//! `tooldelta publish`: hash a tool folder and write its signed manifest.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use tooldelta_core::chunks::DEFAULT_CHUNK_THRESHOLD;
use tooldelta_core::publish::{ChunkOptions, PublishOptions, publish};
use tooldelta_core::signing::read_secret_key;

use crate::{Context, output};

/// Arguments of `publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool's folder.
    #[arg(long, value_name = "DIR")]
    tool_dir: PathBuf,
    /// Tool id (`^[a-z0-9][a-z0-9._-]{0,63}$`).
    #[arg(long, value_name = "ID")]
    tool_id: String,
    /// SemVer version.
    #[arg(long, value_name = "V")]
    version: String,
    /// Secret key (PKCS#8 PEM).
    #[arg(long, value_name = "SECRET.pem")]
    key: PathBuf,
    /// Mirror base URL; each file then gets `url = {URL}/api/v1/tools/{id}/{version}/files/{path}`.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Write the manifest here (atomically) instead of to stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Add `created_at` (RFC 3339, or `now`); omitted by default so output is reproducible.
    #[arg(long, value_name = "TIME")]
    created_at: Option<String>,
    /// Add `expires_at` (RFC 3339); clients refuse the manifest after it.
    #[arg(long, value_name = "TIME", conflicts_with = "expires_in_days")]
    expires_at: Option<String>,
    /// Add `expires_at` this many days from now.
    #[arg(long, value_name = "DAYS")]
    expires_in_days: Option<u32>,
    /// Files of at least this many bytes get a chunk index (chunk-level deltas).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_CHUNK_THRESHOLD)]
    chunk_threshold: u64,
    /// Publish no chunk indexes: clients then fetch changed files whole.
    #[arg(long)]
    no_chunks: bool,
    /// Publish no packs of small files: clients then fetch each small file
    /// by its own request.
    #[arg(long)]
    no_packs: bool,
    /// Where chunk index objects and packs are written (default: `chunks/`
    /// beside `--out`; `tooldelta-mirror import` looks there).
    #[arg(long, value_name = "DIR")]
    chunks_dir: Option<PathBuf>,
    /// Add `release_notes` from this UTF-8 file (plain text or simple
    /// Markdown, at most 16 KiB); signed with the rest of the manifest.
    #[arg(long, value_name = "FILE")]
    notes: Option<PathBuf>,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let started = Instant::now();
    let key = read_secret_key(&args.key)?;
    let now = jiff::Timestamp::now();
    let created_at = args
        .created_at
        .as_deref()
        .map(|t| if t == "now" { stamp(now) } else { t.to_owned() });
    let expires_at = match args.expires_in_days {
        Some(days) => Some(stamp(
            now.checked_add(jiff::SignedDuration::from_hours(24 * i64::from(days)))?,
        )),
        None => args.expires_at.clone(),
    };
    let release_notes = args.notes.as_deref().map(read_notes).transpose()?;
    let opts = PublishOptions {
        tool_dir: args.tool_dir.clone(),
        tool_id: args.tool_id.clone(),
        version: args.version.clone(),
        base_url: args.base_url.clone(),
        created_at,
        expires_at,
        chunks: chunk_options(args),
        release_notes,
    };
    let manifest = publish(&opts, &key)
        .with_context(|| format!("cannot publish {} {}", args.tool_id, args.version))?;
    let text = manifest.to_pretty_json();
    let summary = serde_json::json!({
        "tool_id": manifest.tool_id,
        "tool_version": manifest.tool_version,
        "file_count": manifest.files.len(),
        "total_size": manifest.total_size(),
        "manifest_hash": manifest.manifest_hash,
        "public_key_id": manifest.signature.as_ref().map(|s| s.public_key_id.clone()),
        "out": args.out,
        "duration_ms": started.elapsed().as_millis() as u64,
    });
    match &args.out {
        Some(path) => {
            output::write_atomic(path, text.as_bytes())?;
            if ctx.json {
                output::print_json(&summary)?;
            }
        }
        None => print!("{text}"),
    }
    eprintln!(
        "published {} {}: {} files, {} bytes, manifest_hash {}, key {}",
        manifest.tool_id,
        manifest.tool_version,
        manifest.files.len(),
        manifest.total_size(),
        manifest.manifest_hash,
        summary["public_key_id"].as_str().unwrap_or("-"),
    );
    Ok(ExitCode::SUCCESS)
}

/// Chunking as asked for; with indexes on, they need a folder to go to.
fn chunk_options(args: &Args) -> Option<ChunkOptions> {
    if args.no_chunks {
        return None;
    }
    let out_dir = match (&args.chunks_dir, &args.out) {
        (Some(dir), _) => dir.clone(),
        (None, Some(out)) => out
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("chunks"),
        // Writing into the working folder unasked would surprise; printing
        // the manifest to stdout keeps working, without indexes.
        (None, None) => return None,
    };
    Some(ChunkOptions {
        threshold: args.chunk_threshold.max(1),
        out_dir,
        packs: !args.no_packs,
    })
}

/// Reads a notes file, refusing it before it is read whole when it is far
/// over the limit (the manifest rules enforce the exact one).
fn read_notes(path: &std::path::Path) -> Result<String> {
    let limit = tooldelta_core::manifest::MAX_RELEASE_NOTES_BYTES;
    let what = || format!("release notes {}", path.display());
    let size = std::fs::metadata(path).with_context(what)?.len();
    if size > limit as u64 {
        anyhow::bail!(
            "release notes {}: {size} bytes, more than the {limit}-byte limit",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(what)?;
    String::from_utf8(bytes)
        .with_context(|| format!("release notes {}: not UTF-8 text", path.display()))
}

fn stamp(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Second)
        .expect("rounding to seconds cannot overflow")
        .to_string()
}
