//! Fleet reports on the mirror: the latest report per workstation in SQLite
//! ([`db`]), a per-workstation rate limit ([`limit`]), the fleet view with
//! its filters and rollout progress ([`view`]), the `tooldelta_fleet_*`
//! gauges ([`gauges`]) and forwarding to an upstream mirror ([`forward`]).
//!
//! Reports are telemetry, never trust: nothing here is read by the routes
//! that serve manifests, channels or blobs.

pub(crate) mod db;
pub(crate) mod forward;
pub(crate) mod gauges;
pub(crate) mod limit;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

pub use db::FleetDbError;
pub use view::{FleetQuery, FleetView, Rollout, WorkstationView};

/// How the report route behaves.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Bearer token the report route requires (`--report-token`).
    pub report_token: Option<String>,
    /// Reports one workstation may send at once …
    pub burst: u32,
    /// … then one per this interval (zero: no limit).
    pub interval: Duration,
    /// A report older than this is `stale`.
    pub stale_after: Duration,
    /// How long reports gather before a site forwards them upstream.
    pub forward_interval: Duration,
    /// Bearer token for the upstream's report route.
    pub upstream_token: Option<String>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            report_token: None,
            burst: 5,
            interval: Duration::from_secs(10),
            stale_after: Duration::from_secs(24 * 3600),
            forward_interval: Duration::from_secs(5),
            upstream_token: None,
        }
    }
}

/// What the fleet routes share.
#[derive(Debug)]
pub(crate) struct FleetState {
    pub db: Arc<db::FleetDb>,
    pub limit: limit::RateLimit,
    pub token: Option<String>,
    pub stale_after_secs: u64,
    pub forward: Option<Arc<forward::Forwarder>>,
    pub metrics: gauges::FleetMetrics,
}

impl FleetState {
    /// Every stored report, annotated (blocking).
    pub fn views(&self, now: i64) -> Result<Vec<WorkstationView>, FleetDbError> {
        let all = self.db.all()?;
        let query = FleetQuery::default();
        let v = view::build(
            all,
            &query,
            &view::ChannelTargets::new(),
            now,
            self.stale_after_secs,
        );
        Ok(v.workstations)
    }
}

/// Compares a presented token with the configured one in constant time.
pub(crate) fn token_matches(expected: &str, presented: &str) -> bool {
    let (a, b) = (expected.as_bytes(), presented.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
