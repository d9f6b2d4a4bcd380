//! The handlers of CONTRACT §4.
//!
//! No handler builds a filesystem path from request text: tool ids, versions
//! and hex are validated first, and a `files/{path}` request is looked up in
//! the manifest, then served by content from `blobs/`. A path that is not in
//! the manifest (`..`, `%2e%2e`, `%2f`, absolute) is simply not found.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tooldelta_core::api;
use tooldelta_core::explain::explain;
use tooldelta_core::manifest::{is_sha256_hex, is_valid_tool_id};
use tooldelta_core::pending::{self, UpstreamProgress};

use super::manifests::CachedManifest;
use super::respond::{self, ApiError, Content, IMMUTABLE, REVALIDATE};
use super::{AppState, missing};
use crate::store::{Store, ToolIndex, VersionSel};
use crate::upstream::Upstream;

type Handled = Result<Response, ApiError>;

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    super::fleet::refresh_gauges(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

pub(crate) async fn catalog(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
) -> Handled {
    let store = state.store.clone();
    let mut local = blocking(move || store.catalog()).await?;
    if let Some(up) = &state.upstream {
        match up.index(api::TOOLS).await {
            Ok(Some(doc)) => {
                let remote: Vec<ToolIndex> = parse_index(&doc)?;
                local = merge_catalogs(local, remote);
            }
            Ok(None) => {}
            Err(e) if local.is_empty() => return Err(ApiError::bad_gateway(explain(&e).line)),
            Err(e) => {
                tracing::warn!(error = %explain(&e), "upstream catalog unavailable; serving the local one");
            }
        }
    }
    Ok(respond::json(&method, &headers, &local, &state.metrics))
}

pub(crate) async fn tool(
    State(state): State<Arc<AppState>>,
    Path(tool_id): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Handled {
    if !is_valid_tool_id(&tool_id) {
        return Err(missing::tool(&state.store, &tool_id).await);
    }
    let store = state.store.clone();
    let id = tool_id.clone();
    let mut index = blocking(move || store.tool_index(&id)).await?;
    if let Some(up) = &state.upstream {
        match up.index(&api::tool(&tool_id)).await {
            Ok(Some(doc)) => {
                let remote: ToolIndex = parse_index(&doc)?;
                let merged = merge_catalogs(index.into_iter().collect(), vec![remote]);
                index = merged.into_iter().find(|t| t.tool_id == tool_id);
            }
            Ok(None) => {}
            Err(e) if index.is_none() => return Err(ApiError::bad_gateway(explain(&e).line)),
            Err(e) => {
                tracing::warn!(error = %explain(&e), "upstream tool index unavailable; serving the local one");
            }
        }
    }
    let Some(index) = index else {
        return Err(missing::tool(&state.store, &tool_id).await);
    };
    Ok(respond::json(&method, &headers, &index, &state.metrics))
}

pub(crate) async fn manifest(
    State(state): State<Arc<AppState>>,
    Path((tool_id, version)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Handled {
    let (cached, _) = resolve_manifest(&state, &tool_id, &version).await?;
    Ok(respond::document(
        &method,
        &headers,
        cached.bytes.clone(),
        REVALIDATE,
        &state.metrics,
    ))
}

pub(crate) async fn file(
    State(state): State<Arc<AppState>>,
    Path((tool_id, version, path)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Handled {
    let (cached, sel) = resolve_manifest(&state, &tool_id, &version).await?;
    let Some(entry) = cached.manifest.file(&path) else {
        return Err(ApiError::not_found(format!(
            "{tool_id} {version}: no file {path:?} in the manifest"
        )));
    };
    // Under `latest` the same URL changes content with each release.
    let cache_control = match sel {
        VersionSel::Latest => REVALIDATE,
        VersionSel::Exact(_) => IMMUTABLE,
    };
    let (hex, size) = (entry.sha256.clone(), entry.size);
    serve_blob(&state, &hex, Some(size), &method, &headers, cache_control).await
}

pub(crate) async fn blob(
    State(state): State<Arc<AppState>>,
    Path(hex): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Handled {
    if !is_sha256_hex(&hex) {
        return Err(ApiError::not_found(format!(
            "{hex:?} is not a lowercase hex SHA-256"
        )));
    }
    serve_blob(&state, &hex, None, &method, &headers, IMMUTABLE).await
}

/// Opens a stored blob, pulling it from upstream first when it is missing.
async fn open_blob(
    state: &AppState,
    hex: &str,
    expected_size: Option<u64>,
) -> Result<(std::fs::File, u64), ApiError> {
    let open = |store: Store, hex: String| blocking(move || store.open_blob(&hex));
    let mut opened = open(state.store.clone(), hex.to_owned()).await?;
    if opened.is_some() {
        state.metrics.cache_hits.inc();
    } else {
        state.metrics.cache_misses.inc();
        let Some(up) = &state.upstream else {
            return Err(missing::blob(hex));
        };
        // Verified bytes only ever leave under the blob's ETag: a blob that
        // does not arrive within the hold is answered "still fetching" (503
        // with its progress); the fetch itself goes on for everyone.
        match tokio::time::timeout(pending::HOLD, up.ensure_blob(hex, expected_size)).await {
            Ok(fetched) => fetched.map_err(|e| {
                upstream_error(&e).with_header(pending::UPSTREAM_HEADER, up.display_base())
            })?,
            Err(_) => return Err(still_fetching(up, hex, expected_size)),
        }
        opened = open(state.store.clone(), hex.to_owned()).await?;
        // Opened first: an eviction below never cuts this response short.
        if let (Some(cache), Some((_, size))) = (&state.cache, &opened) {
            account_pulled(state, cache, hex, *size).await;
        }
    }
    opened.ok_or_else(|| ApiError::internal(format!("blob {hex} vanished from the store")))
}

/// Marks a pulled blob and keeps the cache under its limit.
async fn account_pulled(
    state: &AppState,
    cache: &Arc<crate::cache::CacheLimit>,
    hex: &str,
    size: u64,
) {
    let (cache, hex) = (Arc::clone(cache), hex.to_owned());
    let evicted = tokio::task::spawn_blocking(move || {
        cache.pulled(&hex, size);
        (cache.enforce(), cache.pulled_bytes())
    })
    .await;
    if let Ok((evicted, pulled)) = evicted {
        for blob in &evicted.blobs {
            state.open_blobs.forget(blob);
        }
        state
            .metrics
            .cache_evictions
            .inc_by(evicted.blobs.len() as u64);
        state
            .metrics
            .cache_pulled_bytes
            .set(i64::try_from(pulled).unwrap_or(i64::MAX));
    }
}

async fn serve_blob(
    state: &AppState,
    hex: &str,
    expected_size: Option<u64>,
    method: &Method,
    headers: &HeaderMap,
    cache_control: &'static str,
) -> Handled {
    let (file, size) = if let Some(hit) = state.open_blobs.get(hex) {
        state.metrics.cache_hits.inc();
        hit
    } else {
        let (file, size) = open_blob(state, hex, expected_size).await?;
        let file = Arc::new(file);
        state.open_blobs.put(hex, &file, size);
        (file, size)
    };
    if let Some(cache) = &state.cache {
        cache.touch(hex);
    }
    let content = Content {
        file,
        size,
        sha256: hex.to_owned(),
        cache_control,
    };
    Ok(respond::content(method, headers, content, &state.metrics))
}

/// Finds the manifest a route names, pulling it through from upstream when
/// configured: `latest` is refreshed at most once per refresh interval; a
/// missing explicit version is fetched on demand.
async fn resolve_manifest(
    state: &AppState,
    tool_id: &str,
    version: &str,
) -> Result<(Arc<CachedManifest>, VersionSel), ApiError> {
    let vanished = || ApiError::not_found(format!("no manifest for {tool_id} {version}"));
    let Some(sel) = VersionSel::parse(version).filter(|_| is_valid_tool_id(tool_id)) else {
        return Err(missing::manifest(&state.store, tool_id, version).await);
    };
    let mut refresh_failure = None;
    if let (VersionSel::Latest, Some(up)) = (&sel, &state.upstream)
        && let Err(e) = up.refresh_latest(tool_id).await
        && !e.is_not_found()
    {
        tracing::warn!(error = %explain(&e), tool_id, "cannot refresh latest from upstream; serving the stored one");
        refresh_failure = Some(e);
    }
    let store = state.store.clone();
    let (id, wanted) = (tool_id.to_owned(), sel.clone());
    let mut folder = blocking(move || store.resolve(&id, &wanted)).await?;
    if matches!(sel, VersionSel::Exact(_)) {
        if folder.is_some() {
            state.metrics.cache_hits.inc();
        } else {
            state.metrics.cache_misses.inc();
            if let Some(up) = &state.upstream {
                folder = up
                    .fetch_manifest(tool_id, version, sel.clone())
                    .await
                    .map_err(|e| upstream_error(&e))?;
            }
        }
    }
    let Some(folder) = folder else {
        return Err(match refresh_failure {
            Some(e) => upstream_error(&e),
            None => missing::manifest(&state.store, tool_id, version).await,
        });
    };
    let (store, cache) = (state.store.clone(), Arc::clone(&state.manifests));
    let id = tool_id.to_owned();
    let pinned = folder.clone();
    let cached = blocking(move || cache.load(&store, &id, &folder))
        .await?
        .ok_or_else(vanished)?;
    if let Some(limit) = &state.cache {
        // A client that has the manifest will ask for these next.
        let mut blobs: Vec<String> = cached
            .manifest
            .files
            .iter()
            .flat_map(|f| {
                std::iter::once(f.sha256.clone()).chain(f.chunks.as_ref().map(|c| c.sha256.clone()))
            })
            .collect();
        let packs = cached.manifest.packs.clone().unwrap_or_default();
        let store = state.store.clone();
        blobs.extend(blocking(move || Ok(store.pack_blobs(&packs))).await?);
        limit.pin(tool_id, &pinned, blobs);
    }
    Ok((cached, sel))
}

/// The 503 for a blob still arriving from upstream: `Retry-After` and how
/// far the fetch has come (CONTRACT-facing: docs/mirror.md).
fn still_fetching(up: &Upstream, hex: &str, expected_size: Option<u64>) -> ApiError {
    let progress = up.blob_progress(hex).unwrap_or(UpstreamProgress {
        received: 0,
        total: expected_size,
    });
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!(
            "blob {hex} is still being fetched from upstream and verified ({} bytes so far); ask again",
            progress.received
        ),
        headers: Vec::new(),
    }
    .with_header("retry-after", pending::RETRY_AFTER_SECS.to_string())
    .with_header(pending::PROGRESS_HEADER, progress.header_value())
    .with_header(pending::UPSTREAM_HEADER, up.display_base())
}

fn upstream_error(e: &crate::upstream::UpstreamError) -> ApiError {
    if e.is_not_found() {
        ApiError::not_found(e.to_string())
    } else {
        let explained = explain(e);
        tracing::warn!(error = %explained, "upstream failure");
        ApiError::bad_gateway(explained.line)
    }
}

fn parse_index<T: serde::de::DeserializeOwned>(doc: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(doc).map_err(|e| ApiError {
        status: StatusCode::BAD_GATEWAY,
        message: format!("upstream index is not the expected JSON: {e}"),
        headers: Vec::new(),
    })
}

/// Union of two catalogs: versions deduplicated by SemVer (the local spelling
/// wins), `latest` recomputed as the highest that is not a pre-release.
pub(crate) fn merge_catalogs(local: Vec<ToolIndex>, remote: Vec<ToolIndex>) -> Vec<ToolIndex> {
    let mut tools: BTreeMap<String, BTreeMap<semver::Version, String>> = BTreeMap::new();
    for index in remote.into_iter().chain(local) {
        if !is_valid_tool_id(&index.tool_id) {
            continue;
        }
        let versions = tools.entry(index.tool_id).or_default();
        for v in index.versions {
            if let Some(VersionSel::Exact(parsed)) = VersionSel::parse(&v) {
                // Local entries come last and overwrite the remote spelling.
                versions.insert(parsed, v);
            }
        }
    }
    tools
        .into_iter()
        .filter(|(_, versions)| !versions.is_empty())
        .map(|(tool_id, versions)| ToolIndex {
            tool_id,
            latest: crate::store::latest_of(versions.clone()),
            versions: versions.into_values().collect(),
        })
        .collect()
}
