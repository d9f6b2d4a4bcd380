//! `tooldelta remove`, `gc` and `du`: disk management of a workstation.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use bytesize::ByteSize;
use tooldelta_core::disk::{DiskUsage, GcOptions, GcReport};

use crate::config::TargetArgs;
use crate::engine::{self, Needs};
use crate::{Context, output};

const LOCAL: Needs = Needs {
    mirror: false,
    trust: false,
};

/// Arguments of `remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The tool to uninstall.
    tool_id: String,
    #[command(flatten)]
    target: TargetArgs,
}

/// Arguments of `gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// Remove interrupted downloads (`.partial` files) too.
    #[arg(long)]
    partials: bool,
    /// Only partials untouched this long (`7d`, `12h`, `30m`, `90s`).
    #[arg(long, value_name = "AGE", value_parser = age, requires = "partials")]
    older_than: Option<Duration>,
    /// Drop every kept release that is not active (no rollback target remains).
    #[arg(long)]
    releases: bool,
    #[command(flatten)]
    target: TargetArgs,
}

/// Arguments of `du`.
#[derive(Debug, clap::Args)]
pub struct DuArgs {
    #[command(flatten)]
    target: TargetArgs,
}

pub fn remove(args: &RemoveArgs, ctx: &Context) -> Result<ExitCode> {
    let engine = engine::build(&args.target, ctx, LOCAL, None)?;
    let report = engine::runtime()?
        .block_on(engine.remove(&args.tool_id))
        .map_err(engine::engine_error)?;
    eprintln!(
        "{}: removed ({} releases); {}",
        report.tool_id,
        report.releases_removed.len(),
        gc_line(&report.gc)
    );
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn gc(args: &GcArgs, ctx: &Context) -> Result<ExitCode> {
    let engine = engine::build(&args.target, ctx, LOCAL, None)?;
    let opts = GcOptions {
        partials: args.partials,
        older_than: args.older_than,
        releases: args.releases,
    };
    let report = engine::runtime()?
        .block_on(engine.gc(opts))
        .map_err(engine::engine_error)?;
    for release in &report.releases_removed {
        eprintln!("dropped kept release {release}");
    }
    eprintln!("{}", gc_line(&report));
    if ctx.json {
        output::print_json(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn du(args: &DuArgs, ctx: &Context) -> Result<ExitCode> {
    let engine = engine::build(&args.target, ctx, LOCAL, None)?;
    let usage = engine.disk_usage().map_err(engine::engine_error)?;
    print_usage(&usage);
    if ctx.json {
        output::print_json(&usage)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn gc_line(r: &GcReport) -> String {
    let mut line = format!(
        "collected {} objects ({}), {} partials ({})",
        r.objects_removed,
        ByteSize(r.objects_bytes),
        r.partials_removed,
        ByteSize(r.partials_bytes)
    );
    if r.skipped_busy {
        line.push_str("; objects and partials skipped: an update is running, try again later");
    }
    line
}

fn print_usage(u: &DiskUsage) {
    eprintln!("{}: {} on disk", u.root, ByteSize(u.total_bytes));
    for t in &u.tools {
        let releases: Vec<String> = t
            .releases
            .iter()
            .map(|r| {
                let mark = if r.active { " (active)" } else { "" };
                format!("{}{mark} {}", r.version, ByteSize(r.bytes))
            })
            .collect();
        eprintln!(
            "  {}: unique {}, shared {}, kept-only {}; releases: {}",
            t.tool_id,
            ByteSize(t.unique_bytes),
            ByteSize(t.shared_bytes),
            ByteSize(t.kept_only_bytes),
            releases.join(", ")
        );
    }
    eprintln!(
        "  store: {} objects ({}), {} unreferenced; partials: {} ({})",
        u.objects,
        ByteSize(u.objects_bytes),
        ByteSize(u.unreferenced_bytes),
        u.partials,
        ByteSize(u.partial_bytes)
    );
    if let Some(free) = u.free_bytes {
        eprintln!("  free: {}", ByteSize(free));
    }
}

/// `7d`, `12h`, `30m`, `90s` or plain seconds.
fn age(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("{text:?}: expected e.g. 7d, 12h, 30m"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("{text:?}: unit must be s, m, h, d or w"),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_like_people_write_them() {
        assert_eq!(super::age("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(super::age("90").unwrap().as_secs(), 90);
        assert!(super::age("7y").is_err());
    }
}
