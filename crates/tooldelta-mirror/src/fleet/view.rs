//! What `GET /api/v1/fleet` answers: the latest report per workstation with
//! its derived states (stale, failed, modified), filtered by tool, version
//! and state, and the rollout progress per tool and channel.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tooldelta_core::fleet::{Integrity, LastResult, ToolReport, WorkstationReport};

use super::db::Stored;

/// The fleet document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetView {
    /// One entry per workstation that matches the filters, sorted by id.
    pub workstations: Vec<WorkstationView>,
    /// Per tool and channel: how many workstations run the channel's version.
    pub rollouts: Vec<Rollout>,
    /// RFC 3339 time of this answer.
    pub generated_at: String,
    /// A report older than this many seconds is `stale`.
    pub stale_after_secs: u64,
}

/// One workstation's latest report and what it means.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkstationView {
    /// The report as sent (its `tools` narrowed by the filters).
    #[serde(flatten)]
    pub report: WorkstationReport,
    /// RFC 3339 time this mirror (or the site mirror before it) stored it.
    pub received_at: String,
    /// The report is older than `stale_after_secs`.
    pub stale: bool,
    /// The last update of some tool failed.
    pub failed: bool,
    /// The last verify of some tool found a bad file.
    pub modified: bool,
}

/// How far a channel's version has spread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// The tool.
    pub tool_id: String,
    /// The channel.
    pub channel: String,
    /// The channel document's version on this mirror, else the highest
    /// version a workstation on the channel reports.
    pub version: String,
    /// The document's rollout percentage, when this mirror holds one.
    pub rollout_percent: Option<u8>,
    /// Workstations on the channel running `version`.
    pub on_version: u64,
    /// Workstations on the channel.
    pub workstations: u64,
}

/// The filters of `GET /api/v1/fleet`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FleetQuery {
    /// Only this tool.
    pub tool: Option<String>,
    /// Only tools at this version.
    pub version: Option<String>,
    /// Only `ok`, `failed`, `modified`, `stale`, `held`, `pending` or `unverified`.
    pub state: Option<String>,
}

/// The states a query may ask for.
pub(crate) const STATES: [&str; 7] = [
    "ok",
    "failed",
    "modified",
    "stale",
    "held",
    "pending",
    "unverified",
];

/// A channel document's version and percentage, by tool and channel.
pub(crate) type ChannelTargets = BTreeMap<(String, String), (String, u8)>;

fn tool_in_state(t: &ToolReport, state: &str) -> bool {
    match state {
        "failed" => t.last_result == LastResult::Failed,
        "modified" => t.integrity == Integrity::Modified,
        "held" => t.held,
        "pending" => t.pending_version.is_some(),
        "unverified" => t.integrity == Integrity::Unknown,
        "ok" => t.last_result != LastResult::Failed && t.integrity != Integrity::Modified,
        _ => true,
    }
}

/// Builds the view; `now` and `stale_after` in seconds.
pub(crate) fn build(
    stored: Vec<Stored>,
    query: &FleetQuery,
    targets: &ChannelTargets,
    now: i64,
    stale_after: u64,
) -> FleetView {
    let all: Vec<WorkstationView> = stored
        .into_iter()
        .map(|s| annotate(s, now, stale_after))
        .collect();
    let rollouts = rollouts(&all, targets);
    let workstations = all.into_iter().filter_map(|ws| narrow(ws, query)).collect();
    FleetView {
        workstations,
        rollouts,
        generated_at: jiff::Timestamp::now().to_string(),
        stale_after_secs: stale_after,
    }
}

fn annotate(s: Stored, now: i64, stale_after: u64) -> WorkstationView {
    let reported = super::db::reported_unix(&s.report);
    let age = now.saturating_sub(reported).max(0).unsigned_abs();
    let tools = &s.report.tools;
    WorkstationView {
        failed: tools.iter().any(|t| t.last_result == LastResult::Failed),
        modified: tools.iter().any(|t| t.integrity == Integrity::Modified),
        stale: age > stale_after,
        received_at: jiff::Timestamp::from_second(s.received_unix)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        report: s.report,
    }
}

/// Applies the filters: `None` when the workstation has nothing left.
fn narrow(mut ws: WorkstationView, q: &FleetQuery) -> Option<WorkstationView> {
    if q.state.as_deref() == Some("stale") && !ws.stale {
        return None;
    }
    let state = q.state.as_deref().filter(|s| *s != "stale");
    if q.tool.is_none() && q.version.is_none() && state.is_none() {
        return Some(ws);
    }
    ws.report.tools.retain(|t| {
        q.tool.as_ref().is_none_or(|id| &t.tool_id == id)
            && q.version
                .as_ref()
                .is_none_or(|v| t.version.as_ref() == Some(v))
            && state.is_none_or(|s| tool_in_state(t, s))
    });
    (!ws.report.tools.is_empty()).then_some(ws)
}

fn rollouts(all: &[WorkstationView], targets: &ChannelTargets) -> Vec<Rollout> {
    // (tool, channel) -> versions reported, one per workstation.
    let mut seen: BTreeMap<(String, String), Vec<Option<String>>> = BTreeMap::new();
    for ws in all {
        for t in &ws.report.tools {
            let Some(channel) = &t.channel else { continue };
            seen.entry((t.tool_id.clone(), channel.clone()))
                .or_default()
                .push(t.version.clone());
        }
    }
    seen.into_iter()
        .filter_map(|(key, versions)| {
            let (version, percent) = match targets.get(&key) {
                Some((v, p)) => (v.clone(), Some(*p)),
                None => (highest(&versions)?, None),
            };
            let on = versions
                .iter()
                .filter(|v| v.as_ref() == Some(&version))
                .count();
            Some(Rollout {
                tool_id: key.0,
                channel: key.1,
                version,
                rollout_percent: percent,
                on_version: on as u64,
                workstations: versions.len() as u64,
            })
        })
        .collect()
}

fn highest(versions: &[Option<String>]) -> Option<String> {
    versions
        .iter()
        .flatten()
        .filter_map(|v| Some((tooldelta_core::manifest::parse_version(v).ok()?, v)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v.clone())
}
