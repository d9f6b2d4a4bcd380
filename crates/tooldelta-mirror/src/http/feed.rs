//! The desktop app's update feed (tauri-plugin-updater).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::respond::{self, ApiError};
use super::{AppState, routes};
use crate::app::is_platform_name;

/// `GET /api/v1/app/{target}/{arch}/{current_version}` for tauri-plugin-updater.
pub(super) async fn app_feed(
    State(state): State<Arc<AppState>>,
    Path((target, arch, current)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !is_platform_name(&target) || !is_platform_name(&arch) {
        return Err(ApiError::not_found(format!(
            "no app platform {target:?}/{arch:?}"
        )));
    }
    let current = tooldelta_core::manifest::parse_version(&current)
        .map_err(|e| ApiError::bad_request(format!("current_version: {e}")))?;
    let store = state.store.clone();
    let (t, a) = (target.clone(), arch.clone());
    let release = routes::blocking(move || store.app_update(&t, &a, &current)).await?;
    let Some(release) = release else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let base = state.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("{}://{host}", state.scheme)
    });
    Ok(respond::json(
        &method,
        &headers,
        &release.to_updater(&base),
        &state.metrics,
    ))
}
