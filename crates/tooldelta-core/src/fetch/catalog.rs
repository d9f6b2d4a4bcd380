//! What a mirror has, asked when it answered 404 for a manifest: its index
//! of the tool (`GET /api/v1/tools/{id}`), else its catalog (`GET
//! /api/v1/tools`). Both routes exist on the mirror and in a static export,
//! so the error can say `no version 9.9.9 of z-image-turbo; the mirror has
//! 0.5.1, 0.5.2` whatever serves the mirror's URL.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::Fetcher;
use crate::error::UpdateError;

/// Indexes are small; a larger answer is not an index.
const MAX_INDEX_BYTES: usize = 4 << 20;
/// A lookup for a better message must not hold up the failure for long.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// `{tool_id, versions, latest}` as the mirror serves it.
#[derive(Debug, Deserialize)]
struct ToolIndex {
    tool_id: String,
    #[serde(default)]
    versions: Vec<String>,
}

impl Fetcher {
    /// After a 404 for `tool_id`'s manifest from `mirror`: the error that
    /// says what the mirror has instead, or `None` when the mirror's indexes
    /// say nothing useful (then the 404 itself is reported).
    pub(crate) async fn not_found(
        &self,
        mirror: &Url,
        tool_id: &str,
        version: Option<&str>,
    ) -> Option<UpdateError> {
        let tool = crate::api::tool(tool_id);
        if let Some(index) = self.index::<ToolIndex>(mirror, &tool).await {
            let version = version.filter(|v| !index.versions.iter().any(|have| have == v))?;
            return Some(UpdateError::UnknownVersion {
                tool_id: tool_id.to_owned(),
                version: version.to_owned(),
                mirror: mirror.to_string(),
                versions: index.versions,
            });
        }
        let catalog = self
            .index::<Vec<ToolIndex>>(mirror, crate::api::TOOLS)
            .await?;
        if catalog.iter().any(|t| t.tool_id == tool_id) {
            return None;
        }
        Some(UpdateError::UnknownTool {
            tool_id: tool_id.to_owned(),
            mirror: mirror.to_string(),
            tools: catalog.into_iter().map(|t| t.tool_id).collect(),
        })
    }

    /// GETs and parses a small JSON index; `None` on any failure.
    async fn index<T: serde::de::DeserializeOwned>(&self, mirror: &Url, rel: &str) -> Option<T> {
        let url = mirror.join(rel).ok()?;
        let fetch = async {
            let mut resp = self
                .get(url.as_str(), None, None, super::Use::Shared)
                .await
                .ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = resp.chunk().await.ok()? {
                if bytes.len() + chunk.len() > MAX_INDEX_BYTES {
                    return None;
                }
                bytes.extend_from_slice(&chunk);
            }
            serde_json::from_slice(&bytes).ok()
        };
        tokio::time::timeout(LOOKUP_TIMEOUT, fetch).await.ok()?
    }
}
