//! The tooldelta desktop app: thin Tauri commands over `tooldelta-core`.
//!
//! `cli` and `settings` resolve the same configuration as the `tooldelta`
//! CLI; `dto` holds what the UI receives on top of the engine's own types
//! (their TypeScript twins are generated, see `bindings`); `watcher` flags
//! files that change inside active releases.

pub mod cli;
pub mod dto;
pub mod export;
pub mod integrity;
pub mod settings;
pub mod watcher;

use anyhow::Context as _;
use clap::Parser as _;

/// Starts the app and runs it until the last window closes.
pub fn run() -> anyhow::Result<()> {
    let args = cli::AppArgs::parse();
    init_tracing();
    let kiosk = args.kiosk;
    tauri::Builder::default()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .setup(move |app| {
            use tauri::Manager as _;
            if kiosk && let Some(window) = app.get_webview_window("main") {
                window.set_decorations(false)?;
                window.set_fullscreen(true)?;
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .context("running the tooldelta app")
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOOLDELTA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
