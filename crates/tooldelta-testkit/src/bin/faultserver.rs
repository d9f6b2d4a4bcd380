//! `tooldelta-faultserver`: the testkit's fault-injecting HTTP server as a
//! standalone process, for shell scripts and benchmarks. TEST TOOL ONLY.
//!
//! Prints `listening on http://ADDR` on stdout once bound, then serves until
//! SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use tooldelta_testkit::{Fault, FaultServer, Origin, Rule};

/// Serve a static mirror folder (or proxy a mirror) with injected faults.
#[derive(Debug, Parser)]
#[command(name = "tooldelta-faultserver", version)]
struct Args {
    /// Folder to serve (the layout `tooldelta-mirror export` writes).
    #[arg(long, conflicts_with = "upstream")]
    root: Option<PathBuf>,
    /// Base URL to forward to instead of a folder.
    #[arg(long)]
    upstream: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Apply the faults below only to paths starting with this prefix.
    #[arg(long)]
    only_prefix: Option<String>,
    /// Apply the faults below only to the first N matching requests.
    #[arg(long)]
    first: Option<u64>,
    /// Limit the body rate to this many bytes per second (shared by all responses).
    #[arg(long)]
    throttle: Option<u64>,
    /// Limit each response's body to this many bytes per second on its own
    /// (a per-connection cap, as on a WAN link or CDN).
    #[arg(long)]
    throttle_per_connection: Option<u64>,
    /// Answer 200 with the whole body to ranged requests.
    #[arg(long)]
    ignore_range: bool,
    /// Abort the connection after N body bytes.
    #[arg(long)]
    cut_after: Option<u64>,
    /// Flip the byte at this file offset.
    #[arg(long)]
    corrupt_at: Option<u64>,
    /// Send N bytes past the end of the file.
    #[arg(long)]
    extra_bytes: Option<u64>,
    /// Answer --fail-status on every Nth request.
    #[arg(long)]
    fail_every: Option<u64>,
    /// Status for --fail-every.
    #[arg(long, default_value_t = 503)]
    fail_status: u16,
    /// Stall after N body bytes (for --stall-ms).
    #[arg(long, requires = "stall_ms")]
    stall_after: Option<u64>,
    /// How long a stall lasts, in milliseconds.
    #[arg(long)]
    stall_ms: Option<u64>,
    /// Answer 416 to every ranged request.
    #[arg(long)]
    range_416: bool,
}

impl Args {
    fn origin(&self) -> anyhow::Result<Origin> {
        match (&self.root, &self.upstream) {
            (Some(root), None) => Ok(Origin::Dir(root.clone())),
            (None, Some(url)) => Ok(Origin::Upstream(url.clone())),
            _ => bail!("give exactly one of --root DIR or --upstream URL"),
        }
    }

    fn faults(&self) -> Vec<Fault> {
        let mut out = Vec::new();
        out.extend(self.throttle.map(Fault::Throttle));
        out.extend(
            self.throttle_per_connection
                .map(Fault::ThrottlePerConnection),
        );
        out.extend(self.ignore_range.then_some(Fault::IgnoreRange));
        out.extend(self.cut_after.map(Fault::CutAfter));
        out.extend(self.corrupt_at.map(Fault::CorruptByte));
        out.extend(self.extra_bytes.map(Fault::ExtraBytes));
        out.extend(self.range_416.then_some(Fault::RangeNotSatisfiable));
        if let (Some(bytes), Some(ms)) = (self.stall_after, self.stall_ms) {
            out.push(Fault::StallAfter {
                bytes,
                duration: Duration::from_millis(ms),
            });
        }
        out
    }

    fn rules(&self) -> Vec<Rule> {
        let scope = |mut rule: Rule| {
            if let Some(p) = &self.only_prefix {
                rule = rule.path_prefix(p.clone());
            }
            if let Some(n) = self.first {
                rule = rule.first(n);
            }
            rule
        };
        let mut rules: Vec<Rule> = self
            .faults()
            .into_iter()
            .map(Rule::new)
            .map(scope)
            .collect();
        if let Some(n) = self.fail_every {
            let mut rule = Rule::new(Fault::ErrorStatus(self.fail_status)).every_nth(n);
            if let Some(p) = &self.only_prefix {
                rule = rule.path_prefix(p.clone());
            }
            rules.push(rule);
        }
        rules
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut builder = FaultServer::builder(args.origin()?).listen(args.listen);
    for rule in args.rules() {
        builder = builder.fault(rule);
    }
    let server = builder.start().context("start the fault server")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", server.url())?;
    out.flush()?;
    drop(out);
    server.wait_for_signal().context("wait for a stop signal")?;
    Ok(())
}
