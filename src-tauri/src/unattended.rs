//! The app's side of unattended operation: switch to a downloaded version
//! (**Activate**), change a tool's agent policy, and **Export diagnostics**
//! for technicians (logs, status, settings with secrets removed).

// Tauri hands commands their arguments (and `State`) by value.
#![allow(clippy::needless_pass_by_value)]

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tooldelta_core::ErrorKind;
use tooldelta_core::agent::Policy;
use tooldelta_core::config::Settings;
use tooldelta_core::engine::Engine;
use tooldelta_core::events::{ErrorInfo, Event};
use tooldelta_core::layout::Layout;
use tooldelta_core::report::UpdateReport;

use crate::bridge::ChannelReporter;
use crate::commands::{CmdResult, record_update, run_tool};
use crate::dto::{ExportedFile, Operation};
use crate::settings::Effective;
use crate::state::AppState;

/// Bytes of each log file the diagnostics keep (the newest part).
const LOG_TAIL: usize = 256 * 1024;

/// Switches `tool_id` to its downloaded version, with no network.
#[tauri::command]
pub async fn activate_tool(
    app: AppHandle,
    state: State<'_, AppState>,
    tool_id: String,
    on_event: Channel<Event>,
) -> CmdResult<UpdateReport> {
    let op = |engine: Arc<Engine>, id: String, reporter: ChannelReporter, cancel| async move {
        engine.activate(&id, &reporter, &cancel).await
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

/// Sets the agent's policy for `tool_id` in the settings file (the agent
/// reads it again at its next cycle).
#[tauri::command]
pub fn set_policy(
    state: State<'_, AppState>,
    tool_id: String,
    policy: Policy,
) -> CmdResult<Policy> {
    if !tooldelta_core::manifest::is_valid_tool_id(&tool_id) {
        return Err(error(
            ErrorKind::Usage,
            format!("{tool_id:?} is not a valid tool id"),
        ));
    }
    let effective = state.effective();
    let path = &effective.config_path;
    let mut file = if path.exists() {
        Settings::load(path).map_err(|e| error(ErrorKind::Config, e.to_string()))?
    } else {
        Settings::default()
    };
    file.tools.entry(tool_id.clone()).or_default().policy = Some(policy);
    // Commit point: the file is replaced atomically.
    file.save(path)
        .map_err(|e| error(ErrorKind::Config, e.to_string()))?;
    let mut settings = effective.settings.clone();
    settings.tools.entry(tool_id).or_default().policy = Some(policy);
    state.apply(Effective {
        settings,
        ..effective
    });
    Ok(policy)
}

/// Writes `tooldelta-diagnostics-<time>.json` to the downloads folder: the
/// settings (secrets removed), every tool's status, the agent's status, the
/// live snapshots and the newest part of the agent's logs.
#[tauri::command]
pub async fn export_diagnostics(state: State<'_, AppState>) -> CmdResult<ExportedFile> {
    let engine = state.engine()?;
    let effective = state.effective();
    let status = engine.status().await.map_err(|e| e.info())?;
    let layout = Layout::new(engine.root());
    let live: Vec<_> = status
        .iter()
        .filter_map(|t| engine.live(&t.tool_id))
        .collect();
    let logs = layout.logs_dir();
    let report = json!({
        "created_at": jiff::Timestamp::now().to_string(),
        "app_version": env!("CARGO_PKG_VERSION"),
        "config_path": effective.config_path,
        "settings": redacted(&effective.settings),
        "status": status,
        "agent": tooldelta_core::agent::read_status(&layout),
        "live": live,
        "logs": {
            "agent.log": tail(&logs.join("agent.log")),
            "agent.log.1": tail(&logs.join("agent.log.1")),
        },
    });
    write_json(&crate::export::export_dir(), &report)
}

fn write_json(dir: &Path, report: &serde_json::Value) -> CmdResult<ExportedFile> {
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    let path = dir.join(format!("tooldelta-diagnostics-{stamp}.json"));
    let bytes = serde_json::to_vec_pretty(report).expect("JSON values always serialize");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, bytes))
        .map_err(|e| {
            error(
                ErrorKind::Io,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    Ok(ExportedFile {
        path: path.display().to_string(),
    })
}

/// The settings as JSON with every credential removed: a URL's user and
/// password, and any key whose name says token, password or secret.
pub fn redacted(settings: &Settings) -> serde_json::Value {
    let mut value = serde_json::to_value(settings).expect("settings always serialize");
    scrub(&mut value);
    value
}

fn scrub(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let k = key.to_ascii_lowercase();
                if ["token", "password", "secret"]
                    .iter()
                    .any(|s| k.contains(s))
                {
                    *v = json!("(removed)");
                } else {
                    scrub(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::String(s) => {
            if let Ok(mut url) = url_of(s)
                && (!url.username().is_empty() || url.password().is_some())
            {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                *s = url.to_string();
            }
        }
        _ => {}
    }
}

fn url_of(s: &str) -> Result<tauri::Url, ()> {
    if !s.contains("://") {
        return Err(());
    }
    tauri::Url::parse(s).map_err(|_| ())
}

/// The last [`LOG_TAIL`] bytes of a log file (`None` when it does not exist).
fn tail(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let start = bytes.len().saturating_sub(LOG_TAIL);
    Some(String::from_utf8_lossy(&bytes[start..]).into_owned())
}

fn error(kind: ErrorKind, message: String) -> ErrorInfo {
    ErrorInfo {
        kind,
        message,
        retryable: false,
        chain: Vec::new(),
        hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_keep_the_settings_but_not_their_secrets() {
        let settings = Settings {
            mirrors: vec!["http://alice:hunter2@mirror.lan:8080".into()],
            window: Some("daily 02:00-04:00".into()),
            ..Settings::default()
        };
        let text = redacted(&settings).to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("alice"),
            "{text}"
        );
        assert!(
            text.contains("mirror.lan:8080") && text.contains("daily 02:00-04:00"),
            "{text}"
        );
        let mut with_token = json!({"report_token": "abc", "nested": [{"password": "p"}]});
        scrub(&mut with_token);
        assert_eq!(
            with_token,
            json!({"report_token": "(removed)", "nested": [{"password": "(removed)"}]})
        );
    }

    #[test]
    fn the_log_tail_is_the_newest_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.log");
        let mut text = "x".repeat(LOG_TAIL);
        text.push_str("newest line\n");
        std::fs::write(&path, &text).unwrap();
        let t = tail(&path).unwrap();
        assert_eq!(t.len(), LOG_TAIL);
        assert!(t.ends_with("newest line\n"));
        assert!(tail(&dir.path().join("missing")).is_none());
    }
}
