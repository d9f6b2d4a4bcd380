//! The fleet gauges of `/metrics` (`tooldelta_fleet_*`), recomputed from the
//! stored reports at each scrape, and the report route's counters.

use std::collections::BTreeMap;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::view::WorkstationView;

/// Most `{tool_id, version}` series exported: a bound on the label set
/// whatever the reports say.
const MAX_SERIES: usize = 2000;

/// `{tool_id, version}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct VersionLabels {
    pub tool_id: String,
    pub version: String,
}

/// `{tool_id}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ToolLabels {
    pub tool_id: String,
}

/// `{reason}` of a refused report.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabels {
    pub reason: &'static str,
}

/// Fleet gauges and report counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct FleetMetrics {
    workstations: Gauge,
    stale: Gauge,
    failed_any: Gauge,
    modified_any: Gauge,
    per_version: Family<VersionLabels, Gauge>,
    failed: Family<ToolLabels, Gauge>,
    modified: Family<ToolLabels, Gauge>,
    pub accepted: Counter,
    pub refused: Family<ReasonLabels, Counter>,
    pub forwarded: Counter,
    pub forward_dropped: Counter,
}

impl FleetMetrics {
    /// Registers every fleet metric.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        let g = [
            (
                "tooldelta_fleet_workstations",
                "Workstations with a stored report",
                &m.workstations,
            ),
            (
                "tooldelta_fleet_stale_workstations",
                "Workstations whose latest report is older than the stale limit",
                &m.stale,
            ),
            (
                "tooldelta_fleet_failed_workstations_any",
                "Workstations whose last update of some tool failed",
                &m.failed_any,
            ),
            (
                "tooldelta_fleet_modified_workstations_any",
                "Workstations with some tool whose last verify found a bad file",
                &m.modified_any,
            ),
        ];
        for (name, help, gauge) in g {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "tooldelta_fleet_tool_version_workstations",
            "Workstations running each version of each tool",
            m.per_version.clone(),
        );
        registry.register(
            "tooldelta_fleet_failed_workstations",
            "Workstations whose last update of the tool failed",
            m.failed.clone(),
        );
        registry.register(
            "tooldelta_fleet_modified_workstations",
            "Workstations whose last verify of the tool found a bad file",
            m.modified.clone(),
        );
        registry.register(
            "tooldelta_fleet_reports_accepted",
            "Reports stored (or queued upstream)",
            m.accepted.clone(),
        );
        registry.register(
            "tooldelta_fleet_reports_refused",
            "Reports refused, by reason",
            m.refused.clone(),
        );
        registry.register(
            "tooldelta_fleet_reports_forwarded",
            "Reports a site mirror delivered upstream",
            m.forwarded.clone(),
        );
        registry.register(
            "tooldelta_fleet_reports_forward_dropped",
            "Reports dropped because the forward queue was full",
            m.forward_dropped.clone(),
        );
        m
    }

    /// Sets every gauge from the current reports.
    pub fn refresh(&self, all: &[WorkstationView]) {
        let mut per_version: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut failed: BTreeMap<String, i64> = BTreeMap::new();
        let mut modified: BTreeMap<String, i64> = BTreeMap::new();
        for ws in all {
            for t in &ws.report.tools {
                let version = t.version.clone().unwrap_or_default();
                *per_version.entry((t.tool_id.clone(), version)).or_default() += 1;
                let f = failed.entry(t.tool_id.clone()).or_default();
                *f += i64::from(t.last_result == tooldelta_core::fleet::LastResult::Failed);
                let m = modified.entry(t.tool_id.clone()).or_default();
                *m += i64::from(t.integrity == tooldelta_core::fleet::Integrity::Modified);
            }
        }
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let count = |f: fn(&WorkstationView) -> bool| gauge(all.iter().filter(|w| f(w)).count());
        self.workstations.set(gauge(all.len()));
        self.stale.set(count(|w| w.stale));
        self.failed_any.set(count(|w| w.failed));
        self.modified_any.set(count(|w| w.modified));
        self.per_version.clear();
        for ((tool_id, version), n) in per_version.into_iter().take(MAX_SERIES) {
            self.per_version
                .get_or_create(&VersionLabels { tool_id, version })
                .set(n);
        }
        self.failed.clear();
        self.modified.clear();
        for (tool_id, n) in failed.into_iter().take(MAX_SERIES) {
            self.failed.get_or_create(&ToolLabels { tool_id }).set(n);
        }
        for (tool_id, n) in modified.into_iter().take(MAX_SERIES) {
            self.modified.get_or_create(&ToolLabels { tool_id }).set(n);
        }
    }
}
