//! `tooldelta inspect`: a manifest's rules, hash and signature, without trusting it.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;
use tooldelta_core::manifest::{MAX_MANIFEST_BYTES, Manifest, ParsedManifest, RuleViolation};
use tooldelta_core::signing::{SignatureCheck, SignatureStatus, TrustStore, check_signature};

use crate::{Context, output};

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest file.
    manifest: PathBuf,
    /// Trusted public key (SPKI PEM); repeat to trust several. Without one,
    /// a signed manifest is reported as `unknown_key`.
    #[arg(long = "trust", value_name = "PUB.pem")]
    trust: Vec<PathBuf>,
}

/// What `inspect --json` prints (CONTRACT §2, plus a few extra fields).
#[derive(Debug, Serialize)]
struct InspectReport<'a> {
    tool_id: &'a str,
    tool_version: &'a str,
    file_count: usize,
    total_size: u64,
    manifest_hash: &'a str,
    computed_manifest_hash: &'a str,
    manifest_hash_valid: bool,
    signature: SignatureCheck,
    created_at: Option<&'a str>,
    expires_at: Option<&'a str>,
    expired: bool,
    warnings: Vec<String>,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let bytes = read_bounded(&args.manifest)?;
    let parsed = Manifest::parse(&bytes)
        .with_context(|| format!("cannot read manifest {}", args.manifest.display()))?;
    let signed = parsed.manifest.signature.is_some();
    let mut warnings = Vec::new();
    if let Err(rule) = check_rules(&parsed, signed, &mut warnings) {
        return refuse(args, ctx, &rule);
    }
    let trust = TrustStore::from_pem_files(&args.trust)?;
    let m = &parsed.manifest;
    let report = InspectReport {
        tool_id: &m.tool_id,
        tool_version: &m.tool_version,
        file_count: m.files.len(),
        total_size: m.total_size(),
        manifest_hash: &m.manifest_hash,
        computed_manifest_hash: &parsed.computed_hash,
        manifest_hash_valid: parsed.hash_matches(),
        signature: check_signature(&parsed, &trust),
        created_at: m.created_at.as_deref(),
        expires_at: m.expires_at.as_deref(),
        expired: is_expired(m),
        warnings,
    };
    if ctx.json {
        output::print_json(&report)?;
    } else {
        print_human(&report);
    }
    // A signature that does not hold is a failure; unsigned or unknown-key
    // manifests are reported, not refused: inspect only diagnoses.
    Ok(if report.signature.status == SignatureStatus::Invalid {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Every rule of CONTRACT §1. The one exception: the file order of an
/// *unsigned* manifest is a warning, because the seed's example manifest
/// predates the order rule and must still be reported on. A signed manifest
/// gets no such leniency, and nothing unsigned is ever installed.
fn check_rules(
    parsed: &ParsedManifest,
    signed: bool,
    warnings: &mut Vec<String>,
) -> Result<(), RuleViolation> {
    let m = &parsed.manifest;
    match m.check_rules() {
        Err(rule @ RuleViolation::Unsorted { .. }) if !signed => {
            m.check_rules_except_order()?;
            warnings.push(format!("{rule} (tolerated in an unsigned manifest)"));
        }
        other => other?,
    }
    if !parsed.hash_matches() {
        warnings.push(format!(
            "manifest_hash {} does not match the content ({})",
            m.manifest_hash, parsed.computed_hash
        ));
    }
    Ok(())
}

fn refuse(args: &Args, ctx: &Context, rule: &RuleViolation) -> Result<ExitCode> {
    let message = format!("manifest {} is refused: {rule}", args.manifest.display());
    eprintln!("tooldelta: error: {message}");
    if ctx.json {
        output::print_json(
            &serde_json::json!({ "error": { "rule": rule.name(), "message": message } }),
        )?;
    }
    Ok(ExitCode::FAILURE)
}

fn read_bounded(path: &PathBuf) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open manifest {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read manifest {}", path.display()))?;
    Ok(bytes)
}

fn is_expired(m: &Manifest) -> bool {
    m.is_expired(jiff::Timestamp::now())
}

fn print_human(r: &InspectReport<'_>) {
    let key = r.signature.public_key_id.as_deref().unwrap_or("-");
    let status = serde_json::to_value(r.signature.status).expect("a status serializes");
    eprintln!("tool       {} {}", r.tool_id, r.tool_version);
    eprintln!("files      {} ({} bytes)", r.file_count, r.total_size);
    eprintln!(
        "hash       {} ({})",
        r.manifest_hash,
        if r.manifest_hash_valid {
            "valid"
        } else {
            "DOES NOT MATCH"
        }
    );
    eprintln!("signature  {} (key {key})", status.as_str().unwrap_or("?"));
    if let Some(t) = r.expires_at {
        eprintln!(
            "expires    {t}{}",
            if r.expired { " (EXPIRED)" } else { "" }
        );
    }
    for w in &r.warnings {
        eprintln!("warning    {w}");
    }
}
