//! The tray icon: the overall state at a glance (idle, N updates pending,
//! updating X %, failed) and a menu with Open, Update all and Quit.
//!
//! [`state_of`] is the pure part; [`install`] and [`show`] are the Tauri glue.
//! A desktop without a tray host (a bare X server, the tests' Xvfb) still runs
//! the app: a tray that cannot be made is a logged warning.

use std::collections::BTreeMap;

use tauri::menu::MenuBuilder;
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter as _, Manager as _};
use tooldelta_core::ErrorKind;
use tooldelta_core::events::Phase;
use tooldelta_core::live::{LiveSnapshot, LiveState};

/// The tray icon's id.
pub const TRAY_ID: &str = "tooldelta";

/// Emitted (no payload) when the tray's **Update all** is chosen: the window's
/// **Update all** runs, so there is one way to update everything.
pub const UPDATE_ALL_REQUESTED: &str = "update-all-requested";

/// The overall state, most urgent first: a running update hides a failure,
/// a failure hides pending updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayState {
    /// Nothing pending, running or failed.
    Idle,
    /// Updates the last check found, not applied yet.
    Pending(usize),
    /// A run is in progress (the first by tool id); `others` more run too.
    Updating {
        /// The tool.
        tool_id: String,
        /// Download progress, once the fetch phase knows its size.
        percent: Option<u8>,
        /// Other runs in progress.
        others: usize,
    },
    /// The last update of these tools failed (sorted).
    Failed(Vec<String>),
}

/// The state from the updates a listing found (tool → offered version) and
/// every tool's progress snapshot.
pub fn state_of(pending: &BTreeMap<String, String>, snapshots: &[LiveSnapshot]) -> TrayState {
    let mut running: Vec<&LiveSnapshot> = snapshots
        .iter()
        .filter(|s| s.state == LiveState::Running)
        .collect();
    running.sort_by(|a, b| a.tool_id.cmp(&b.tool_id));
    if let Some(first) = running.first() {
        return TrayState::Updating {
            tool_id: first.tool_id.clone(),
            percent: percent(first),
            others: running.len() - 1,
        };
    }
    let mut failed: Vec<String> = snapshots
        .iter()
        .filter(|s| is_failed_update(s))
        .map(|s| s.tool_id.clone())
        .collect();
    if !failed.is_empty() {
        failed.sort();
        return TrayState::Failed(failed);
    }
    // An update applied since the listing (by the agent, say) is no longer pending.
    let applied = |id: &str, version: &str| {
        snapshots.iter().any(|s| {
            s.tool_id == id
                && s.state == LiveState::Done
                && s.to_version.as_deref() == Some(version)
        })
    };
    match pending.iter().filter(|(id, v)| !applied(id, v)).count() {
        0 => TrayState::Idle,
        n => TrayState::Pending(n),
    }
}

fn is_failed_update(s: &LiveSnapshot) -> bool {
    s.state == LiveState::Failed
        && matches!(s.operation.as_str(), "update" | "activate" | "download")
        && s.error
            .as_ref()
            .is_some_and(|e| e.kind != ErrorKind::Cancelled)
}

fn percent(s: &LiveSnapshot) -> Option<u8> {
    if s.phase != Some(Phase::Fetch) || s.bytes_total == 0 {
        return None;
    }
    let pct = s.bytes_done.min(s.bytes_total) * 100 / s.bytes_total;
    u8::try_from(pct).ok()
}

impl TrayState {
    /// The sentence of the tooltip (and of the tests).
    pub fn label(&self) -> String {
        match self {
            Self::Idle => "tooldelta: no update pending".to_owned(),
            Self::Pending(1) => "tooldelta: 1 update pending".to_owned(),
            Self::Pending(n) => format!("tooldelta: {n} updates pending"),
            Self::Updating {
                tool_id,
                percent,
                others,
            } => {
                let pct = percent.map(|p| format!(" {p} %")).unwrap_or_default();
                let more = if *others > 0 {
                    format!(" (and {others} more)")
                } else {
                    String::new()
                };
                format!("tooldelta: updating {tool_id}{pct}{more}")
            }
            Self::Failed(tools) => format!("tooldelta: update failed: {}", tools.join(", ")),
        }
    }

    /// The short text next to the icon (Linux shows it as the indicator's
    /// label; it has no tooltips), `None` when idle.
    pub fn title(&self) -> Option<String> {
        match self {
            Self::Idle => None,
            Self::Pending(n) => Some(n.to_string()),
            Self::Updating { percent, .. } => {
                Some(percent.map_or("…".to_owned(), |p| format!("{p} %")))
            }
            Self::Failed(_) => Some("!".to_owned()),
        }
    }
}

/// Creates the tray icon with its menu. Fails where no tray can exist.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let menu = MenuBuilder::new(app)
        .text("open", "Open")
        .text("update_all", "Update all")
        .separator()
        .text("quit", "Quit")
        .build()?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .menu(&menu)
        .tooltip(TrayState::Idle.label())
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => open_window(app),
            "update_all" => {
                open_window(app);
                if let Err(err) = app.emit(UPDATE_ALL_REQUESTED, ()) {
                    tracing::warn!(%err, "update all from the tray not delivered");
                }
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Shows `state` on the tray icon, if there is one.
pub fn show(app: &AppHandle, state: &TrayState) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let result = tray
        .set_tooltip(Some(state.label()))
        .and_then(|()| tray.set_title(state.title()));
    if let Err(err) = result {
        tracing::debug!(%err, "tray state not shown");
    }
}

fn open_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        // Each step is best effort: a window manager may refuse focus.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dto::{Integrity, Savings, ToolView};
    use tooldelta_core::events::ErrorInfo;

    /// A listing's row with nothing set (for other modules' tests too).
    pub(crate) fn blank_view() -> ToolView {
        ToolView {
            tool_id: String::new(),
            installed_version: None,
            available_version: None,
            up_to_date: None,
            signature: None,
            delta: None,
            integrity: Integrity::Unknown,
            modified_paths: Vec::new(),
            last_verified_ms: None,
            releases: Vec::new(),
            updater_running: false,
            held: false,
            held_version: None,
            release_notes: None,
            savings: Savings::default(),
            run: None,
            policy: tooldelta_core::agent::Policy::default(),
            pending_version: None,
            check_error: None,
        }
    }

    fn snap(id: &str, op: &str, state: LiveState) -> LiveSnapshot {
        LiveSnapshot {
            v: 1,
            tool_id: id.into(),
            operation: op.into(),
            pid: 1,
            state,
            phase: Some(Phase::Fetch),
            from_version: None,
            to_version: Some("1.1.0".into()),
            bytes_done: 42,
            bytes_total: 100,
            bytes_per_sec: 0,
            files_done: 0,
            files_total: 0,
            started_at: String::new(),
            updated_at: String::new(),
            error: None,
            report: None,
            upstream_percent: None,
            max_rate: None,
        }
    }

    fn failed(id: &str, kind: ErrorKind) -> LiveSnapshot {
        LiveSnapshot {
            error: Some(ErrorInfo {
                kind,
                message: "x".into(),
                retryable: false,
                chain: Vec::new(),
                hint: None,
            }),
            ..snap(id, "update", LiveState::Failed)
        }
    }

    fn pending(ids: &[&str]) -> BTreeMap<String, String> {
        ids.iter()
            .map(|id| ((*id).to_owned(), "1.1.0".to_owned()))
            .collect()
    }

    #[test]
    fn idle_and_pending() {
        assert_eq!(state_of(&pending(&[]), &[]), TrayState::Idle);
        let two = state_of(&pending(&["a", "b"]), &[]);
        assert_eq!(two, TrayState::Pending(2));
        assert_eq!(two.label(), "tooldelta: 2 updates pending");
        assert_eq!(two.title().as_deref(), Some("2"));
        assert_eq!(TrayState::Idle.title(), None);
    }

    #[test]
    fn an_update_applied_since_the_listing_is_no_longer_pending() {
        let done = snap("a", "update", LiveState::Done);
        assert_eq!(
            state_of(&pending(&["a", "b"]), &[done]),
            TrayState::Pending(1)
        );
    }

    #[test]
    fn a_running_update_shows_its_percent_and_wins_over_failures_and_pending() {
        let runs = [
            failed("c", ErrorKind::Network),
            snap("b", "update", LiveState::Running),
            snap("a", "repair", LiveState::Running),
        ];
        let state = state_of(&pending(&["d"]), &runs);
        assert_eq!(
            state,
            TrayState::Updating {
                tool_id: "a".into(),
                percent: Some(42),
                others: 1
            }
        );
        assert_eq!(state.label(), "tooldelta: updating a 42 % (and 1 more)");
        let staging = LiveSnapshot {
            phase: Some(Phase::Stage),
            ..snap("a", "update", LiveState::Running)
        };
        assert_eq!(
            state_of(&pending(&[]), &[staging]).title().as_deref(),
            Some("…")
        );
    }

    #[test]
    fn a_failed_update_wins_over_pending_but_a_cancel_or_failed_repair_does_not() {
        let runs = [
            failed("b", ErrorKind::Network),
            failed("a", ErrorKind::Integrity),
        ];
        let state = state_of(&pending(&["x"]), &runs);
        assert_eq!(state, TrayState::Failed(vec!["a".into(), "b".into()]));
        assert_eq!(state.label(), "tooldelta: update failed: a, b");
        let quiet = [
            failed("a", ErrorKind::Cancelled),
            LiveSnapshot {
                operation: "repair".into(),
                ..failed("b", ErrorKind::Network)
            },
        ];
        assert_eq!(state_of(&pending(&["x"]), &quiet), TrayState::Pending(1));
    }
}
