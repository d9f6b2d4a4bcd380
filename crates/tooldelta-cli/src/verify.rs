//! `tooldelta verify ID`: re-hash the active release; exit 1 if any file is bad.

use std::process::ExitCode;

use anyhow::Result;
use tooldelta_core::events::NullReporter;
use tooldelta_core::report::{FileStatus, VerifyReport};

use crate::config::TargetArgs;
use crate::engine::{self, Needs};
use crate::{Context, output};

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tool to check.
    tool_id: String,
    /// Check the kept releases too (what `rollback` would switch to).
    #[arg(long)]
    all_releases: bool,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let needs = Needs {
        mirror: false,
        trust: false,
    };
    let engine = engine::build(&args.target, ctx, needs, None)?;
    let rt = engine::runtime()?;
    let report = rt
        .block_on(engine.verify(&args.tool_id, &NullReporter))
        .map_err(engine::engine_error)?;
    print_human(&report);
    let kept = if args.all_releases {
        rt.block_on(engine.verify_kept(&args.tool_id))
            .map_err(engine::engine_error)?
    } else {
        Vec::new()
    };
    for release in &kept {
        print_human(release);
    }
    let ok = report.ok && kept.iter().all(|r| r.ok);
    if ctx.json {
        if args.all_releases {
            // CONTRACT §2's fields for the active release, plus the kept ones.
            let mut value = serde_json::to_value(&report)?;
            value["ok"] = ok.into();
            value["releases"] = serde_json::to_value(&kept)?;
            output::print_json(&value)?;
        } else {
            output::print_json(&report)?;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per bad file, then a verdict, on stderr.
pub fn print_human(report: &VerifyReport) {
    for f in report.files.iter().filter(|f| f.status != FileStatus::Ok) {
        let status = match f.status {
            FileStatus::Modified => "modified",
            FileStatus::Missing => "missing",
            FileStatus::Extra => "extra",
            FileStatus::Ok => "ok",
        };
        eprintln!(
            "  {status:<8} {}  expected {} ({} bytes), found {} ({} bytes)",
            f.path,
            f.expected_sha256.as_deref().unwrap_or("-"),
            f.expected_size
                .map_or_else(|| "-".into(), |s| s.to_string()),
            f.actual_sha256.as_deref().unwrap_or("-"),
            f.actual_size.map_or_else(|| "-".into(), |s| s.to_string()),
        );
    }
    let bad = report
        .files
        .iter()
        .filter(|f| f.status != FileStatus::Ok)
        .count();
    if report.ok {
        eprintln!(
            "{} {}: all {} files ok",
            report.tool_id,
            report.version,
            report.files.len()
        );
    } else {
        eprintln!(
            "{} {}: {bad} file(s) bad (run `tooldelta repair {}`)",
            report.tool_id, report.version, report.tool_id
        );
    }
}
