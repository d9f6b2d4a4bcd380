//! Which OS notifications the app shows: updates available (from a listing),
//! applied or failed (from the progress snapshots every run publishes, this
//! app's and other processes' such as the agent's). Pure decisions, no Tauri:
//! `desktop` sends what [`Notices`] lets through.

use std::collections::BTreeSet;

use tooldelta_core::ErrorKind;
use tooldelta_core::live::{LiveSnapshot, LiveState};

use crate::dto::ToolView;

/// What happened to a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// The mirror offers a newer version.
    Available,
    /// A new version became active.
    Applied,
    /// An update stopped with an error (`current` unchanged).
    Failed,
}

/// One notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The tool.
    pub tool_id: String,
    /// The version concerned (`""` when a failure came before the plan).
    pub version: String,
    /// What happened.
    pub outcome: Outcome,
    /// The notification's title.
    pub title: String,
    /// Its text.
    pub body: String,
}

/// Remembers what was shown, so each tool, version and outcome is announced
/// once per app session however often a listing or a poll sees it again.
#[derive(Debug, Default)]
pub struct Notices {
    shown: BTreeSet<(String, String, Outcome)>,
}

impl Notices {
    /// The notices of `candidates` not shown before; marks them shown.
    pub fn admit(&mut self, candidates: Vec<Notice>) -> Vec<Notice> {
        candidates
            .into_iter()
            .filter(|n| {
                self.shown
                    .insert((n.tool_id.clone(), n.version.clone(), n.outcome))
            })
            .collect()
    }
}

/// "Update available" for every tool a listing found behind its mirror
/// (held tools are left alone on purpose: nobody is to update them).
pub fn from_listing(tools: &[ToolView]) -> Vec<Notice> {
    tools
        .iter()
        .filter(|t| t.up_to_date == Some(false) && !t.held && t.installed_version.is_some())
        .filter_map(|t| {
            let version = t.available_version.clone()?;
            Some(Notice {
                title: format!("Update available: {}", t.tool_id),
                body: format!(
                    "{} {} → {version}",
                    t.tool_id,
                    t.installed_version.as_deref().unwrap_or("?")
                ),
                tool_id: t.tool_id.clone(),
                version,
                outcome: Outcome::Available,
            })
        })
        .collect()
}

/// "Updated" or "Update failed" for every finished update, download or
/// activation published at or after `since_ms` (Unix ms: older outcomes were
/// there before the app started). A cancelled run is the user's own doing,
/// and a finished download is not yet an applied update: neither is shown.
pub fn from_live(snapshots: &[LiveSnapshot], since_ms: i64) -> Vec<Notice> {
    snapshots
        .iter()
        .filter(|s| updated_ms(s).is_some_and(|t| t >= since_ms))
        .filter_map(notice_of)
        .collect()
}

fn notice_of(s: &LiveSnapshot) -> Option<Notice> {
    let version = s.to_version.clone().unwrap_or_default();
    let by = by_whom(s);
    match (s.state, s.operation.as_str()) {
        (LiveState::Done, "update" | "activate") => Some(Notice {
            title: format!("Updated: {}", s.tool_id),
            body: format!("{} is now at {version}{by}", s.tool_id),
            tool_id: s.tool_id.clone(),
            version,
            outcome: Outcome::Applied,
        }),
        (LiveState::Failed, "update" | "activate" | "download") => {
            let error = s.error.as_ref()?;
            if error.kind == ErrorKind::Cancelled {
                return None;
            }
            Some(Notice {
                title: format!("Update failed: {}", s.tool_id),
                body: format!("{}{by}: {}", s.tool_id, error.message),
                tool_id: s.tool_id.clone(),
                version,
                outcome: Outcome::Failed,
            })
        }
        _ => None,
    }
}

fn by_whom(s: &LiveSnapshot) -> String {
    if s.pid == std::process::id() {
        String::new()
    } else {
        format!(" (run by process {})", s.pid)
    }
}

/// When the snapshot was written, Unix ms.
pub fn updated_ms(s: &LiveSnapshot) -> Option<i64> {
    s.updated_at
        .parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_millisecond)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tooldelta_core::events::ErrorInfo;

    pub(crate) fn snap(op: &str, state: LiveState, to: &str, at: &str) -> LiveSnapshot {
        LiveSnapshot {
            v: 1,
            tool_id: "t".into(),
            operation: op.into(),
            pid: std::process::id() + 1,
            state,
            phase: None,
            from_version: Some("1.0.0".into()),
            to_version: Some(to.into()),
            bytes_done: 0,
            bytes_total: 0,
            bytes_per_sec: 0,
            files_done: 0,
            files_total: 0,
            started_at: at.into(),
            updated_at: at.into(),
            error: None,
            report: None,
            upstream_percent: None,
            max_rate: None,
        }
    }

    fn failed(kind: ErrorKind, at: &str) -> LiveSnapshot {
        LiveSnapshot {
            error: Some(ErrorInfo {
                kind,
                message: "mirror unreachable".into(),
                retryable: true,
                chain: Vec::new(),
                hint: None,
            }),
            ..snap("update", LiveState::Failed, "1.1.0", at)
        }
    }

    const START: &str = "2026-12-02T02:00:00Z";
    const LATER: &str = "2026-12-02T02:00:05Z";

    fn since() -> i64 {
        START.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn the_agents_applied_and_failed_updates_are_announced_with_its_pid() {
        let applied = snap("update", LiveState::Done, "1.1.0", LATER);
        let n = from_live(std::slice::from_ref(&applied), since());
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].outcome, Outcome::Applied);
        assert_eq!(n[0].title, "Updated: t");
        assert!(n[0].body.contains("1.1.0") && n[0].body.contains(&applied.pid.to_string()));
        let n = from_live(&[failed(ErrorKind::Network, LATER)], since());
        assert_eq!(n[0].outcome, Outcome::Failed);
        assert!(n[0].body.contains("mirror unreachable"), "{}", n[0].body);
    }

    #[test]
    fn cancels_downloads_runs_in_progress_and_outcomes_from_before_the_start_are_silent() {
        let before = "2026-12-02T01:59:59Z";
        let silent = [
            failed(ErrorKind::Cancelled, LATER),
            snap("download", LiveState::Done, "1.1.0", LATER),
            snap("update", LiveState::Running, "1.1.0", LATER),
            snap("update", LiveState::Interrupted, "1.1.0", LATER),
            snap("repair", LiveState::Done, "1.0.0", LATER),
            snap("update", LiveState::Done, "1.1.0", before),
        ];
        assert_eq!(from_live(&silent, since()), []);
        // A failed download is a failed update as far as the user can tell.
        let download = LiveSnapshot {
            operation: "download".into(),
            ..failed(ErrorKind::Network, LATER)
        };
        assert_eq!(from_live(&[download], since()).len(), 1);
    }

    #[test]
    fn each_tool_version_and_outcome_is_shown_once() {
        let mut book = Notices::default();
        let applied = snap("update", LiveState::Done, "1.1.0", LATER);
        assert_eq!(
            book.admit(from_live(std::slice::from_ref(&applied), since()))
                .len(),
            1
        );
        // The same snapshot on the next poll, and again: nothing new.
        assert_eq!(
            book.admit(from_live(std::slice::from_ref(&applied), since())),
            []
        );
        // Another outcome or another version is news.
        assert_eq!(
            book.admit(from_live(&[failed(ErrorKind::Network, LATER)], since()))
                .len(),
            1
        );
        let next = snap("update", LiveState::Done, "1.2.0", LATER);
        assert_eq!(book.admit(from_live(&[next], since())).len(), 1);
    }

    #[test]
    fn a_listing_announces_pending_updates_but_not_held_or_current_tools() {
        let view = |id: &str, up_to_date: Option<bool>, held: bool| ToolView {
            tool_id: id.into(),
            installed_version: Some("1.0.0".into()),
            available_version: Some("1.1.0".into()),
            up_to_date,
            held,
            ..crate::tray::tests::blank_view()
        };
        let tools = [
            view("pending", Some(false), false),
            view("held", Some(false), true),
            view("current", Some(true), false),
            view("unknown", None, false),
        ];
        let n = from_listing(&tools);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].tool_id.as_str(), n[0].version.as_str(), n[0].outcome),
            ("pending", "1.1.0", Outcome::Available)
        );
        assert_eq!(n[0].body, "pending 1.0.0 → 1.1.0");
    }
}
