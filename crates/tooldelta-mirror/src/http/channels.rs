//! `GET /api/v1/tools/{id}/channels/{channel}.json`: the signed channel
//! document, as imported (or pulled through from upstream, where the newest
//! `sequence` wins, so an upstream cannot roll the stored channel back).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use bytes::Bytes;
use tooldelta_core::api;
use tooldelta_core::channel::is_valid_channel;
use tooldelta_core::manifest::is_valid_tool_id;

use super::AppState;
use super::respond::{self, ApiError, REVALIDATE};
use super::routes::blocking;
use crate::store::ChannelImportError;

pub(crate) async fn channel(
    State(state): State<Arc<AppState>>,
    Path((tool_id, file)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found(format!("no channel {file:?} for tool {tool_id:?}"));
    let channel = file.strip_suffix(".json").ok_or_else(missing)?.to_owned();
    if !is_valid_tool_id(&tool_id) || !is_valid_channel(&channel) {
        return Err(missing());
    }
    if let Some(up) = &state.upstream {
        match up.index(&api::channel(&tool_id, &channel)).await {
            Ok(Some(doc)) => {
                let (store, trust) = (state.store.clone(), up.trust().clone());
                let imported =
                    tokio::task::spawn_blocking(move || store.import_channel(&doc, &trust))
                        .await
                        .map_err(ApiError::internal)?;
                if let Err(e) = imported
                    && !matches!(e, ChannelImportError::NotNewer { .. })
                {
                    tracing::warn!(error = %e, "upstream channel refused; serving the stored one");
                }
            }
            Ok(None) => {}
            Err(e) => {
                let why = "upstream channel unavailable; serving the stored one";
                tracing::warn!(error = %e, why);
            }
        }
    }
    let (store, id, name) = (state.store.clone(), tool_id.clone(), channel.clone());
    let bytes = blocking(move || store.read_channel(&id, &name))
        .await?
        .ok_or_else(missing)?;
    Ok(respond::document(
        &method,
        &headers,
        Bytes::from(bytes),
        REVALIDATE,
        &state.metrics,
    ))
}
