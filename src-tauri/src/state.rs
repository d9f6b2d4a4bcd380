//! The app's shared state: the settings in force, the engine built from them,
//! the runs in progress, what is known about integrity, and the watcher.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use tooldelta_core::ErrorKind;
use tooldelta_core::engine::{Engine, EngineConfig};
use tooldelta_core::events::ErrorInfo;

use crate::cli::AppArgs;
use crate::dto::{AppInfo, SettingsView};
use crate::integrity::IntegrityBook;
use crate::runs::Runs;
use crate::settings::{Effective, resolve_or_flags, trusted_keys};
use crate::watcher::ReleaseWatcher;

struct Inner {
    effective: Effective,
    engine: Result<Arc<Engine>, ErrorInfo>,
}

/// Managed by Tauri; every command reads it.
pub struct AppState {
    /// The command line.
    pub args: AppArgs,
    inner: RwLock<Inner>,
    startup_error: Option<ErrorInfo>,
    /// Runs in progress.
    pub runs: Arc<Runs>,
    /// Integrity verdicts and watched changes.
    pub integrity: Arc<IntegrityBook>,
    /// The release watcher, once started.
    pub watcher: Mutex<Option<ReleaseWatcher>>,
    /// An app update found by `check_app_update`, for `install_app_update`.
    pub pending_app_update: Mutex<Option<tauri_plugin_updater::Update>>,
    /// The installed tools seen by the last listing (what the watcher covers).
    known_tools: Mutex<Vec<String>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

fn usage(message: String) -> ErrorInfo {
    ErrorInfo {
        kind: ErrorKind::Usage,
        message,
        retryable: false,
        chain: Vec::new(),
        hint: None,
    }
}

/// Builds the engine the settings describe, or says what is missing.
fn build_engine(effective: &Effective) -> Result<Arc<Engine>, ErrorInfo> {
    let root = effective.settings.root.clone().ok_or_else(|| {
        usage(format!(
            "no install root: start with --root DIR, set TOOLDELTA_ROOT, or set `root` in {}",
            effective.config_path.display()
        ))
    })?;
    let mut config = EngineConfig::new(root);
    config.mirrors.clone_from(&effective.settings.mirrors);
    config.trust = trusted_keys(&effective.settings.trust).0;
    config.keep_releases = effective.settings.keep_releases();
    config.network = effective.settings.network();
    config.max_rate = effective
        .settings
        .max_rate()
        .map_err(|e| usage(e.to_string()))?;
    if let Some(n) = effective.settings.connections {
        config.connections = n.max(1);
    }
    Engine::new(config).map(Arc::new).map_err(|e| e.info())
}

impl AppState {
    /// Resolves the settings and builds the engine; problems are kept for the UI.
    pub fn new(args: AppArgs) -> Self {
        let (effective, startup_error) = resolve_or_flags(&args);
        let engine = build_engine(&effective);
        Self {
            args,
            inner: RwLock::new(Inner { effective, engine }),
            startup_error,
            runs: Arc::default(),
            integrity: Arc::default(),
            watcher: Mutex::new(None),
            pending_app_update: Mutex::new(None),
            known_tools: Mutex::new(Vec::new()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The engine, or why there is none (no root configured, bad mirror URL).
    pub fn engine(&self) -> Result<Arc<Engine>, ErrorInfo> {
        self.read().engine.clone()
    }

    /// The settings in force.
    pub fn effective(&self) -> Effective {
        self.read().effective.clone()
    }

    /// Replaces the settings and rebuilds the engine. Runs in progress keep
    /// the engine they started with.
    pub fn apply(&self, effective: Effective) {
        let engine = build_engine(&effective);
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *inner = Inner { effective, engine };
    }

    /// The settings view.
    pub fn settings_view(&self) -> SettingsView {
        self.read().effective.view()
    }

    /// What the UI learns at start-up.
    pub fn app_info(&self, version: String) -> AppInfo {
        AppInfo {
            version,
            kiosk: self.args.kiosk,
            kiosk_page_seconds: self.args.kiosk_page_seconds,
            settings: self.settings_view(),
            startup_error: self.startup_error.clone(),
        }
    }

    /// The `current` link of a tool (CONTRACT §3).
    pub fn current_link(&self, tool_id: &str) -> Option<PathBuf> {
        let root = self.read().effective.settings.root.clone()?;
        Some(root.join("tools").join(tool_id).join("current"))
    }

    /// Points the watcher at the active releases of `tool_ids` (all installed tools).
    pub fn watch(&self, tool_ids: Vec<String>) {
        *self
            .known_tools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tool_ids;
        self.rewatch();
    }

    /// Re-reads where each known tool's `current` points (after an update,
    /// a repair or a rollback switched releases).
    pub fn rewatch(&self) {
        let tool_ids = self
            .known_tools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let releases: Vec<(String, PathBuf)> = tool_ids
            .iter()
            .filter_map(|id| Some((id.clone(), self.current_link(id)?)))
            .collect();
        let mut watcher = self
            .watcher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(watcher) = watcher.as_mut() {
            for (tool_id, why) in watcher.sync(&releases) {
                tracing::warn!(tool = %tool_id, %why, "cannot watch the active release");
            }
        }
    }
}
