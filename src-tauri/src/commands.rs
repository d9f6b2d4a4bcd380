//! The Tauri commands: thin adapters over `tooldelta_core::engine::Engine`.
//! Every error reaches the UI as `{kind, message, retryable}` (`ErrorInfo`);
//! progress flows through a `Channel<Event>`, whose failures never stop work.

// Tauri hands commands their arguments (and `State`) by value.
#![allow(clippy::needless_pass_by_value)]

use std::future::Future;
use std::sync::Arc;

use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter as _, State};
use tooldelta_core::ErrorKind;
use tooldelta_core::engine::{
    CancellationToken, Engine, HistoryEntry, RepairReport, RollbackReport, ToolOverview,
    UpdateCheck, UpdateOptions,
};
use tooldelta_core::error::UpdateError;
use tooldelta_core::events::{ErrorInfo, Event, NullReporter};
use tooldelta_core::report::{UpdateReport, VerifyReport};
use tooldelta_core::signing::{SignatureCheck, TrustError};

use crate::bridge::ChannelReporter;
use crate::dto::{
    AppInfo, ExportedFile, Operation, RunSnapshot, Savings, SettingsInput, SettingsView, ToolView,
};
use crate::state::AppState;

/// Commands answer with this error shape.
pub type CmdResult<T> = Result<T, ErrorInfo>;

/// Emitted (no payload) after an operation changed what is installed.
pub const TOOLS_CHANGED: &str = "tools-changed";

fn info(err: &UpdateError) -> ErrorInfo {
    err.info()
}

/// Runs an engine operation to completion on a blocking thread of the
/// runtime. Some engine futures are not provably `Send` for every lifetime
/// (rustc #102211), which a Tauri command future must be; `block_on` there
/// needs no `Send`. A panic in the engine becomes an error, not a dead app.
async fn detached<T, F, Fut>(make: F) -> CmdResult<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(make()))
        .await
        .map_err(|err| ErrorInfo {
            kind: ErrorKind::Internal,
            message: format!("the operation stopped unexpectedly: {err}"),
            retryable: false,
            chain: Vec::new(),
            hint: None,
        })
}

/// The UI's start-up information.
#[tauri::command]
pub fn app_info(app: AppHandle, state: State<'_, AppState>) -> AppInfo {
    state.app_info(app.package_info().version.to_string())
}

/// Every installed tool with what the mirror offers and what an update would
/// cost: one manifest fetch per tool ([`Engine::overview`]).
#[tauri::command]
pub async fn list_tools(state: State<'_, AppState>) -> CmdResult<Vec<ToolView>> {
    let engine = state.engine()?;
    let overview = engine.overview().await.map_err(|e| info(&e))?;
    let views: Vec<ToolView> = overview
        .into_iter()
        .map(|tool| tool_view(&engine, &state, tool))
        .collect();
    // `make bench` (bench/app.py) times the start of the app to this line.
    tracing::info!(tools = views.len(), "listed");
    state.watch(
        views
            .iter()
            .filter(|v| v.installed_version.is_some())
            .map(|v| v.tool_id.clone())
            .collect(),
    );
    Ok(views)
}

fn tool_view(engine: &Engine, state: &AppState, tool: ToolOverview) -> ToolView {
    let ToolOverview { status, check } = tool;
    let known = state
        .integrity
        .known(&status.tool_id, status.version.as_deref());
    let mut view = ToolView {
        tool_id: status.tool_id.clone(),
        installed_version: status.version.clone(),
        available_version: status.available_version.clone(),
        up_to_date: status.update_available.map(|a| !a),
        signature: None,
        delta: None,
        integrity: known.integrity,
        modified_paths: known.paths,
        last_verified_ms: known.last_verified_ms,
        releases: status.releases.clone(),
        updater_running: status.updater_running,
        held: false,
        held_version: None,
        release_notes: None,
        savings: savings(engine, &status.tool_id),
        run: state.runs.snapshot(&status.tool_id),
        check_error: status.check_error.clone(),
    };
    match check {
        Some(Ok(check)) => apply_check(&mut view, check),
        Some(Err(err)) => {
            view.signature = signature_of_refusal(&err);
            view.check_error = Some(err.info());
        }
        None => {}
    }
    view
}

/// Sums the transfer figures of the tool's recorded updates. An unreadable
/// history costs the figures, never the listing.
fn savings(engine: &Engine, tool_id: &str) -> Savings {
    match engine.history(tool_id) {
        Ok(history) => Savings::from_history(&history),
        Err(err) => {
            tracing::warn!(%err, "{tool_id}: history unreadable; savings not shown");
            Savings::default()
        }
    }
}

fn apply_check(view: &mut ToolView, check: UpdateCheck) {
    view.available_version = Some(check.available_version);
    view.up_to_date = Some(check.up_to_date);
    view.signature = Some(check.signature);
    view.check_error = None;
    view.held = check.hold.is_some();
    view.held_version = check.hold.and_then(|h| h.version);
    view.release_notes = check.release_notes;
    if !check.up_to_date {
        view.delta = Some(check.delta);
    }
}

/// A manifest refused for its signature still tells the badge what it found.
fn signature_of_refusal(err: &UpdateError) -> Option<SignatureCheck> {
    let UpdateError::Trust(trust) = err else {
        return None;
    };
    match trust.as_ref() {
        TrustError::Signature {
            status,
            public_key_id,
            ..
        } => Some(SignatureCheck {
            status: *status,
            public_key_id: public_key_id.clone(),
        }),
        _ => None,
    }
}

/// The runs in progress in this app (the kiosk polls this between listings).
#[tauri::command]
pub fn runs(state: State<'_, AppState>) -> Vec<RunSnapshot> {
    state.runs.all()
}

/// What updating `tool_id` would do, without doing it.
#[tauri::command]
pub async fn plan_update(state: State<'_, AppState>, tool_id: String) -> CmdResult<UpdateCheck> {
    let engine = state.engine()?;
    engine
        .check(&tool_id, &UpdateOptions::default())
        .await
        .map_err(|e| info(&e))
}

/// Updates `tool_id` to the mirror's latest, streaming events on `on_event`.
#[tauri::command]
pub async fn start_update(
    app: AppHandle,
    state: State<'_, AppState>,
    tool_id: String,
    on_event: Channel<Event>,
) -> CmdResult<UpdateReport> {
    let engine = state.engine()?;
    let guard = state.runs.start(&tool_id, Operation::Update)?;
    let (runs, cancel, id) = (
        Arc::clone(&state.runs),
        guard.cancel.clone(),
        tool_id.clone(),
    );
    let result = detached(move || async move {
        let reporter = ChannelReporter::new(on_event, runs, &id);
        engine
            .update(&id, &UpdateOptions::default(), &reporter, &cancel)
            .await
    })
    .await?;
    if let Ok(report) = &result {
        state.integrity.record_update(&tool_id, &report.to_version);
    }
    // Watch the new release before the run ends, so the switch is not a "change".
    state.rewatch();
    drop(guard);
    notify_changed(&app);
    result.map_err(|e| info(&e))
}

/// Cancels the run on `tool_id`; false when none runs in this app.
#[tauri::command]
pub fn cancel_run(state: State<'_, AppState>, tool_id: String) -> bool {
    state.runs.cancel(&tool_id)
}

/// Re-hashes the active release of `tool_id` against its manifest.
#[tauri::command]
pub async fn verify_tool(
    state: State<'_, AppState>,
    tool_id: String,
    on_event: Channel<Event>,
) -> CmdResult<VerifyReport> {
    let engine = state.engine()?;
    let guard = state.runs.start(&tool_id, Operation::Verify)?;
    let reporter = ChannelReporter::new(on_event, Arc::clone(&state.runs), &tool_id);
    let result = engine.verify(&tool_id, &reporter).await;
    drop(guard);
    let report = result.map_err(|e| info(&e))?;
    state.integrity.record_verify(&report);
    Ok(report)
}

/// Brings the active release of `tool_id` back to exactly its manifest.
#[tauri::command]
pub async fn repair_tool(
    app: AppHandle,
    state: State<'_, AppState>,
    tool_id: String,
    on_event: Channel<Event>,
) -> CmdResult<RepairReport> {
    let engine = state.engine()?;
    let guard = state.runs.start(&tool_id, Operation::Repair)?;
    let (runs, cancel, id) = (
        Arc::clone(&state.runs),
        guard.cancel.clone(),
        tool_id.clone(),
    );
    let result = detached(move || async move {
        let reporter = ChannelReporter::new(on_event, runs, &id);
        engine.repair(&id, &reporter, &cancel).await
    })
    .await?;
    if let Ok(report) = &result {
        state.integrity.record_verify(&report.verify);
    }
    state.rewatch();
    drop(guard);
    notify_changed(&app);
    result.map_err(|e| info(&e))
}

/// Makes the previous release of `tool_id` active again.
#[tauri::command]
pub async fn rollback_tool(
    app: AppHandle,
    state: State<'_, AppState>,
    tool_id: String,
) -> CmdResult<RollbackReport> {
    let engine = state.engine()?;
    let guard = state.runs.start(&tool_id, Operation::Update)?;
    let cancel = CancellationToken::new();
    let result = engine.rollback(&tool_id, &NullReporter, &cancel).await;
    state.integrity.forget(&tool_id);
    state.rewatch();
    drop(guard);
    notify_changed(&app);
    result.map_err(|e| info(&e))
}

/// The activations of `tool_id`, oldest first.
#[tauri::command]
pub fn tool_history(state: State<'_, AppState>, tool_id: String) -> CmdResult<Vec<HistoryEntry>> {
    let engine = state.engine()?;
    engine.history(&tool_id).map_err(|e| info(&e))
}

/// Writes a verify report as JSON next to the user's downloads.
#[tauri::command]
pub fn export_report(tool_id: String, report: VerifyReport) -> CmdResult<ExportedFile> {
    crate::export::write_report(&tool_id, &report)
}

/// The settings in force.
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> SettingsView {
    state.settings_view()
}

/// Saves the editable settings to the shared file and applies them now.
#[tauri::command]
pub fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    input: SettingsInput,
) -> CmdResult<SettingsView> {
    let effective = state.effective().save(&input)?;
    state.apply(effective);
    notify_changed(&app);
    Ok(state.settings_view())
}

pub(crate) fn notify_changed(app: &AppHandle) {
    // Other windows refresh on it; none listening is fine.
    if let Err(err) = app.emit(TOOLS_CHANGED, ()) {
        tracing::debug!(%err, "tools-changed not delivered");
    }
}
