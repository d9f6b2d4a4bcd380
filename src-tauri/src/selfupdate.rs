//! App self-update with tauri-plugin-updater against the mirror's app feed
//! `GET {mirror}/api/v1/app/{target}/{arch}/{current_version}` (204 when
//! current, else `{version, notes, pub_date, url, signature}`). The package is
//! minisign-signed; the key is the built-in one (`tauri.conf.json`) unless
//! `--app-update-pubkey` / `TOOLDELTA_APP_UPDATE_PUBKEY` names another.

// Tauri hands commands their arguments (and `State`) by value.
#![allow(clippy::needless_pass_by_value)]

use tauri::Url;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_updater::UpdaterExt as _;
use tooldelta_core::ErrorKind;
use tooldelta_core::events::ErrorInfo;

use crate::commands::CmdResult;
use crate::dto::{AppUpdateEvent, AppUpdateStatus, AppUpdateView};
use crate::state::AppState;

/// The feed route under a mirror base URL, with the updater's placeholders.
pub fn feed_url(mirror: &str) -> Result<Url, ErrorInfo> {
    let text = format!(
        "{}/api/v1/app/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}",
        mirror.trim_end_matches('/')
    );
    Url::parse(&text).map_err(|err| ErrorInfo {
        kind: ErrorKind::Config,
        message: format!("mirror {mirror:?} does not make a valid app feed URL: {err}"),
        retryable: false,
        chain: Vec::new(),
        hint: None,
    })
}

fn updater_error(err: &tauri_plugin_updater::Error) -> ErrorInfo {
    use tauri_plugin_updater::Error as E;
    let (kind, retryable) = match err {
        E::Reqwest(_) | E::Network(_) => (ErrorKind::Network, true),
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => (ErrorKind::Integrity, false),
        _ => (ErrorKind::AppUpdate, false),
    };
    ErrorInfo {
        kind,
        message: format!("app update: {err}"),
        retryable,
        chain: Vec::new(),
        hint: None,
    }
}

fn no_key() -> ErrorInfo {
    ErrorInfo {
        kind: ErrorKind::Config,
        message: "app update: no signing key configured (build-time `plugins.updater.pubkey`, or \
                  --app-update-pubkey / TOOLDELTA_APP_UPDATE_PUBKEY)"
            .to_owned(),
        retryable: false,
        chain: Vec::new(),
        hint: None,
    }
}

fn built_in_pubkey<R: Runtime>(app: &AppHandle<R>) -> Option<String> {
    let updater = app.config().plugins.0.get("updater")?;
    let key = updater.get("pubkey")?.as_str()?;
    (!key.is_empty()).then(|| key.to_owned())
}

fn updater<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
) -> CmdResult<tauri_plugin_updater::Updater> {
    let mirrors = state.effective().settings.mirrors;
    if mirrors.is_empty() {
        return Err(ErrorInfo {
            kind: ErrorKind::Usage,
            message: "app update: no mirror configured".to_owned(),
            retryable: false,
            chain: Vec::new(),
            hint: None,
        });
    }
    let endpoints = mirrors
        .iter()
        .map(|m| feed_url(m))
        .collect::<Result<Vec<_>, _>>()?;
    let pubkey = state
        .args
        .app_update_pubkey
        .clone()
        .or_else(|| built_in_pubkey(app))
        .ok_or_else(no_key)?;
    // The app's own update goes through the same proxy and trusts the same
    // private CA as the tools' updates (settings `proxy`, `no_proxy`, `ca_cert`).
    let network = state.effective().settings.network();
    let roots = network.check().map_err(|e| network_error(&e))?;
    app.updater_builder()
        .endpoints(endpoints)
        .and_then(|b| {
            b.pubkey(pubkey)
                .configure_client(move |client| {
                    network
                        .apply(client, &roots)
                        .expect("checked above; the same settings give the same result")
                })
                .build()
        })
        .map_err(|e| updater_error(&e))
}

fn network_error(err: &tooldelta_core::error::SetupError) -> ErrorInfo {
    ErrorInfo {
        kind: ErrorKind::Config,
        message: format!("app update: {err}"),
        retryable: false,
        chain: Vec::new(),
        hint: None,
    }
}

/// Asks the mirrors' app feed whether a newer app exists.
#[tauri::command]
pub async fn check_app_update(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<AppUpdateStatus> {
    let current_version = app.package_info().version.to_string();
    let update = updater(&app, &state)?
        .check()
        .await
        .map_err(|e| updater_error(&e))?;
    let status = match &update {
        None => AppUpdateStatus::UpToDate { current_version },
        Some(u) => AppUpdateStatus::Available {
            update: AppUpdateView {
                current_version,
                version: u.version.clone(),
                notes: u.body.clone(),
                pub_date: u.date.map(|d| d.to_string()),
            },
        },
    };
    *state
        .pending_app_update
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = update;
    Ok(status)
}

/// Downloads the update found by `check_app_update`, verifies its signature,
/// installs it and restarts the app.
#[tauri::command]
pub async fn install_app_update(
    app: AppHandle,
    state: State<'_, AppState>,
    on_event: Channel<AppUpdateEvent>,
) -> CmdResult<()> {
    let update = state
        .pending_app_update
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .ok_or_else(|| ErrorInfo {
            kind: ErrorKind::Usage,
            message: "app update: check for an update first".to_owned(),
            retryable: false,
            chain: Vec::new(),
            hint: None,
        })?;
    let mut done: u64 = 0;
    let bytes = update
        .download(
            |chunk, total| {
                done += chunk as u64;
                // The UI may be gone; the download goes on.
                let _ = on_event.send(AppUpdateEvent::Progress {
                    bytes_done: done,
                    bytes_total: total,
                });
            },
            || {},
        )
        .await
        .map_err(|e| updater_error(&e))?;
    // Installing restarts the app: never in the middle of a tool update.
    crate::agent::wait_for_tool_updates(&state).await;
    let _ = on_event.send(AppUpdateEvent::Installing);
    update.install(bytes).map_err(|e| updater_error(&e))?;
    crate::agent::wait_for_tool_updates(&state).await;
    app.restart();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_url_keeps_the_updater_placeholders_under_the_mirror() {
        let url = feed_url("http://127.0.0.1:8080/").unwrap();
        let text = url.to_string();
        assert!(
            text.starts_with("http://127.0.0.1:8080/api/v1/app/"),
            "{text}"
        );
        // Url encodes the braces in the path; the updater replaces both spellings.
        assert!(
            text.contains("%7B%7Btarget%7D%7D") || text.contains("{{target}}"),
            "{text}"
        );
        assert!(feed_url("not a url").is_err());
    }
}
