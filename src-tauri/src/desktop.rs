//! Desktop integration: OS notifications and the tray icon, both fed by the
//! same two sources: the listings (updates available) and the progress
//! snapshots every run publishes (`tools/ID/progress.json`), whichever
//! process runs it. A thread reads the snapshots once a second, so a run of
//! the agent is noticed even while no window polls.
//!
//! Not in kiosk mode: a wall screen has no one to click a tray or read a
//! notification, and its view already shows everything.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tauri::{AppHandle, Manager as _};
use tauri_plugin_notification::NotificationExt as _;
use tooldelta_core::live::LiveSnapshot;

use crate::dto::ToolView;
use crate::notices::{Notice, Notices};
use crate::state::AppState;
use crate::tray::{self, TrayState};

/// How often the snapshots are read.
const POLL: Duration = Duration::from_secs(1);

/// Managed by Tauri outside kiosk mode.
#[derive(Debug)]
pub struct Desktop {
    notices: Mutex<Notices>,
    /// Tool → version offered, from the last listing.
    pending: Mutex<BTreeMap<String, String>>,
    /// Outcomes published before this (Unix ms) were there before the app.
    started_ms: i64,
    tray: Mutex<Option<TrayState>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data: a panic elsewhere leaves nothing half-changed that matters.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Desktop {
    fn new() -> Self {
        Self {
            notices: Mutex::default(),
            pending: Mutex::default(),
            started_ms: jiff::Timestamp::now().as_millisecond(),
            tray: Mutex::new(None),
        }
    }
}

/// Creates the tray (a warning where none can exist), manages [`Desktop`]
/// and starts the snapshot reader.
pub fn start(app: &AppHandle) {
    // The indicator library is loaded at run time and panics when it is
    // missing: that, too, leaves the app running without a tray.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tray::install(app))) {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(%err, "no tray icon (no tray host on this desktop?); the app runs without one");
        }
        Err(_) => tracing::warn!("no tray icon: libayatana-appindicator3 could not be loaded"),
    }
    app.manage(Desktop::new());
    let handle = app.clone();
    let spawned = std::thread::Builder::new()
        .name("tooldelta-desktop".to_owned())
        .spawn(move || {
            loop {
                poll(&handle);
                std::thread::sleep(POLL);
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "no notifications of other processes' runs: cannot start a thread");
    }
}

/// A listing came in: its pending updates feed the tray and, once each,
/// an "update available" notification.
pub fn listed(app: &AppHandle, tools: &[ToolView]) {
    let Some(desktop) = app.try_state::<Desktop>() else {
        return; // kiosk mode
    };
    *lock(&desktop.pending) = tools
        .iter()
        .filter(|t| t.up_to_date == Some(false) && !t.held)
        .filter_map(|t| Some((t.tool_id.clone(), t.available_version.clone()?)))
        .collect();
    let fresh = lock(&desktop.notices).admit(crate::notices::from_listing(tools));
    send(app, &fresh);
}

fn poll(app: &AppHandle) {
    let Some(desktop) = app.try_state::<Desktop>() else {
        return;
    };
    let snapshots = snapshots(&app.state::<AppState>());
    let fresh =
        lock(&desktop.notices).admit(crate::notices::from_live(&snapshots, desktop.started_ms));
    send(app, &fresh);
    let state = tray::state_of(&lock(&desktop.pending), &snapshots);
    let mut shown = lock(&desktop.tray);
    if shown.as_ref() != Some(&state) {
        tray::show(app, &state);
        *shown = Some(state);
    }
}

/// Every tool's progress snapshot (none without an engine).
fn snapshots(state: &AppState) -> Vec<LiveSnapshot> {
    let Ok(engine) = state.engine() else {
        return Vec::new();
    };
    let Ok(ids) = engine.tool_ids() else {
        return Vec::new();
    };
    ids.iter().filter_map(|id| engine.live(id)).collect()
}

/// Shows each notice, unless the user turned notifications off. A desktop
/// without a notification server loses them; the app goes on.
fn send(app: &AppHandle, notices: &[Notice]) {
    if notices.is_empty() || !enabled(&app.state::<AppState>()) {
        return;
    }
    for n in notices {
        tracing::info!(tool = %n.tool_id, outcome = ?n.outcome, "notification: {}", n.title);
        let shown = app
            .notification()
            .builder()
            .title(&n.title)
            .body(&n.body)
            .show();
        if let Err(err) = shown {
            tracing::warn!(%err, tool = %n.tool_id, "notification not shown");
        }
    }
}

/// The `notifications` setting (on unless set to false).
fn enabled(state: &AppState) -> bool {
    state.effective().settings.notifications != Some(false)
}
