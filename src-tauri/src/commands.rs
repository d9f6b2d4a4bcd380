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
use tooldelta_core::events::{ErrorInfo, Event};
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
pub(crate) async fn detached<T, F, Fut>(make: F) -> CmdResult<T>
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

/// One long operation on a tool, run the same way for every kind (update,
/// activate, repair, rollback): registered in `runs` (one per tool, so it
/// can be cancelled and seen by views that join late), its events to the
/// window's channel, the engine on a blocking thread. `record` notes what the
/// run changed before the watcher is pointed at the new release and the run
/// ends, so the switch is not seen as a change on disk; `tools-changed` last.
pub(crate) async fn run_tool<T, F, Fut>(
    app: &AppHandle,
    state: &AppState,
    tool_id: &str,
    operation: Operation,
    on_event: Channel<Event>,
    op: F,
    record: impl FnOnce(&AppState, &Result<T, UpdateError>),
) -> CmdResult<T>
where
    F: FnOnce(Arc<Engine>, String, ChannelReporter, CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, UpdateError>>,
    T: Send + 'static,
{
    let engine = state.engine()?;
    let guard = state.runs.start(tool_id, operation)?;
    let reporter = ChannelReporter::new(on_event, Arc::clone(&state.runs), tool_id);
    let (cancel, id) = (guard.cancel.clone(), tool_id.to_owned());
    let result = detached(move || op(engine, id, reporter, cancel)).await?;
    record(state, &result);
    state.rewatch();
    drop(guard);
    notify_changed(app);
    result.map_err(|e| info(&e))
}

/// The UI's start-up information.
#[tauri::command]
pub fn app_info(app: AppHandle, state: State<'_, AppState>) -> AppInfo {
    state.app_info(app.package_info().version.to_string())
}

/// Every installed tool with what the mirror offers and what an update would
/// cost: one manifest fetch per tool ([`Engine::overview`]).
#[tauri::command]
pub async fn list_tools(app: AppHandle, state: State<'_, AppState>) -> CmdResult<Vec<ToolView>> {
    let engine = state.engine()?;
    let overview = engine.overview().await.map_err(|e| info(&e))?;
    let views: Vec<ToolView> = overview
        .into_iter()
        .map(|tool| tool_view(&engine, &state, tool))
        .collect();
    // `make bench` (bench/app.py) times the start of the app to this line.
    tracing::info!(tools = views.len(), "listed");
    crate::desktop::listed(&app, &views);
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
        run: state
            .runs
            .snapshot(&status.tool_id)
            .or_else(|| crate::agent::external_run(engine, &status.tool_id)),
        policy: crate::agent::policy_of(&state.effective().settings, &status.tool_id),
        pending_version: status.pending.as_ref().map(|p| p.version.clone()),
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
    crate::agent::all_runs(&state)
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
    let op = |engine: Arc<Engine>, id: String, reporter: ChannelReporter, cancel| async move {
        engine
            .update(&id, &UpdateOptions::default(), &reporter, &cancel)
            .await
    };
    run_tool(
        &app,
        &state,
        &tool_id,
        Operation::Update,
        on_event,
        op,
        record_update,
    )
    .await
}

/// Notes the version an update or activation made active as verified.
pub(crate) fn record_update(state: &AppState, result: &Result<UpdateReport, UpdateError>) {
    if let Ok(report) = result {
        state
            .integrity
            .record_update(&report.tool_id, &report.to_version);
    }
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
    let op = |engine: Arc<Engine>, id: String, reporter: ChannelReporter, cancel| async move {
        engine.repair(&id, &reporter, &cancel).await
    };
    let record = |state: &AppState, result: &Result<RepairReport, UpdateError>| {
        if let Ok(report) = result {
            state.integrity.record_verify(&report.verify);
        }
    };
    run_tool(
        &app,
        &state,
        &tool_id,
        Operation::Repair,
        on_event,
        op,
        record,
    )
    .await
}

/// Makes the previous release of `tool_id` active again (verified, and
/// healed if need be, on the way), streaming events on `on_event`.
#[tauri::command]
pub async fn rollback_tool(
    app: AppHandle,
    state: State<'_, AppState>,
    tool_id: String,
    on_event: Channel<Event>,
) -> CmdResult<RollbackReport> {
    let op = |engine: Arc<Engine>, id: String, reporter: ChannelReporter, cancel| async move {
        engine.rollback(&id, &reporter, &cancel).await
    };
    let id = tool_id.clone();
    // Another release is active, whatever the outcome: what was known is stale.
    let record = move |state: &AppState, _: &Result<RollbackReport, UpdateError>| {
        state.integrity.forget(&id);
    };
    run_tool(
        &app,
        &state,
        &tool_id,
        Operation::Rollback,
        on_event,
        op,
        record,
    )
    .await
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
