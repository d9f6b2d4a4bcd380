//! The tooldelta desktop app: thin Tauri commands over `tooldelta-core`.
//!
//! `cli` and `settings` resolve the same configuration as the `tooldelta`
//! CLI; `dto` holds what the UI receives on top of the engine's own types
//! (their TypeScript twins are generated, see `bindings`); `watcher` flags
//! files that change inside active releases; `desktop` shows the tray icon
//! (`tray`) and OS notifications (`notices`).

pub mod agent;
mod bindings;
pub mod bridge;
pub mod cli;
pub mod commands;
pub mod desktop;
pub mod dto;
pub mod export;
pub mod integrity;
pub mod notices;
pub mod runs;
pub mod selfupdate;
pub mod settings;
pub mod state;
pub mod storage;
pub mod tray;
pub mod unattended;
pub mod watcher;

use anyhow::Context as _;
use clap::Parser as _;
use tauri::{Emitter as _, Manager as _};

use crate::dto::ToolModified;
use crate::state::AppState;
use crate::watcher::ReleaseWatcher;

/// Starts the app and runs it until the last window closes.
pub fn run() -> anyhow::Result<()> {
    let args = cli::AppArgs::parse();
    init_tracing();
    // The engine and the updater use rustls; `ring` is the one provider built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kiosk = args.kiosk;
    tauri::Builder::default()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .plugin(tauri_plugin_notification::init())
        .manage(AppState::new(args))
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::list_tools,
            commands::runs,
            agent::agent_status,
            unattended::activate_tool,
            unattended::set_policy,
            unattended::export_diagnostics,
            commands::plan_update,
            commands::start_update,
            commands::cancel_run,
            commands::verify_tool,
            commands::repair_tool,
            commands::rollback_tool,
            commands::tool_history,
            commands::export_report,
            commands::get_settings,
            commands::save_settings,
            storage::disk_usage,
            storage::remove_tool,
            storage::collect_garbage,
            selfupdate::check_app_update,
            selfupdate::install_app_update,
        ])
        .setup(move |app| {
            start_watcher(app.handle());
            if !kiosk {
                desktop::start(app.handle());
            }
            if kiosk && let Some(window) = app.get_webview_window("main") {
                window.set_decorations(false)?;
                // Without a window manager (a bare X server on a wall screen)
                // fullscreen is only a hint: cover the monitor explicitly too.
                if let Some(monitor) = window.current_monitor()? {
                    window.set_position(*monitor.position())?;
                    window.set_size(*monitor.size())?;
                }
                window.set_fullscreen(true)?;
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .context("running the tooldelta app")
}

/// Starts the release watcher; its reports become `tool-modified` events.
/// Without inotify the app still works, only without live integrity.
fn start_watcher(app: &tauri::AppHandle) {
    let handle = app.clone();
    let watcher = ReleaseWatcher::start(move |(tool_id, paths)| {
        let state = handle.state::<AppState>();
        if state.runs.is_quiet(&tool_id) {
            return; // the app's own update or repair
        }
        state.integrity.mark_modified(&tool_id, &paths);
        if let Err(err) = handle.emit("tool-modified", ToolModified { tool_id, paths }) {
            tracing::debug!(%err, "tool-modified not delivered");
        }
    });
    match watcher {
        Ok(watcher) => {
            *app.state::<AppState>()
                .watcher
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(watcher);
        }
        Err(err) => {
            tracing::warn!(%err, "file watcher unavailable: integrity is shown from verifications only");
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOOLDELTA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
