//! 404 answers that say what is missing and what the mirror has instead, so
//! a mistyped tool id or version is fixed from the message alone.

use tooldelta_core::explain::{missing_tool, missing_version};

use super::respond::ApiError;
use super::routes::blocking;
use crate::store::Store;

/// The 404 for a manifest route: `no version V of T; the mirror has …`, or
/// `no tool "T"; the mirror has …` (this store's catalog).
pub(crate) async fn manifest(store: &Store, tool_id: &str, version: &str) -> ApiError {
    let store = store.clone();
    let (id, v) = (tool_id.to_owned(), version.to_owned());
    let message = blocking(move || {
        if let Some(index) = store.tool_index(&id)? {
            return Ok(missing_version(&id, &v, &index.versions));
        }
        let tools: Vec<String> = store.catalog()?.into_iter().map(|t| t.tool_id).collect();
        Ok(missing_tool(&id, &tools))
    })
    .await;
    match message {
        Ok(message) => ApiError::not_found(message),
        Err(e) => e,
    }
}

/// The 404 for a tool's index route.
pub(crate) async fn tool(store: &Store, tool_id: &str) -> ApiError {
    let store = store.clone();
    let id = tool_id.to_owned();
    let message = blocking(move || {
        let tools: Vec<String> = store.catalog()?.into_iter().map(|t| t.tool_id).collect();
        Ok(missing_tool(&id, &tools))
    })
    .await;
    match message {
        Ok(message) => ApiError::not_found(message),
        Err(e) => e,
    }
}

/// The 404 for content this mirror does not hold.
pub(crate) fn blob(hex: &str) -> ApiError {
    ApiError::not_found(format!(
        "no content with sha256 {hex} on this mirror (no manifest it stores lists it)"
    ))
}
