//! The fleet routes: `POST /api/v1/reports` (one report, or a batch from a
//! site mirror), `GET /api/v1/fleet` and the `/fleet` page.
//!
//! A report is refused whole and early: a wrong token (401) before the body
//! is read, a body over the limit (413) while it is read, JSON that is not a
//! report (400), a broken rule (422), a workstation over its rate (429).

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tooldelta_core::fleet::{MAX_BATCH, MAX_REPORT_BYTES, ReportBatch, WorkstationReport, check};

use super::AppState;
use super::respond::{self, ApiError};
use super::routes::blocking;
use crate::fleet::view::{self, ChannelTargets, FleetQuery, STATES};
use crate::fleet::{FleetState, token_matches};

/// Largest batch body (a site forwarding [`MAX_BATCH`] reports).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

const PAGE: &str = include_str!("fleet_page/fleet.html");
const SCRIPT: &str = include_str!("fleet_page/fleet.js");

fn fleet(state: &AppState) -> &Arc<FleetState> {
    &state.fleet
}

fn refuse(state: &AppState, status: StatusCode, reason: &'static str, message: String) -> ApiError {
    fleet(state)
        .metrics
        .refused
        .get_or_create(&crate::fleet::gauges::ReasonLabels { reason })
        .inc();
    ApiError {
        status,
        message,
        headers: Vec::new(),
    }
}

pub(crate) async fn post_reports(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let f = fleet(&state);
    if let Some(expected) = &f.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !token_matches(expected, presented) {
            let err = refuse(
                &state,
                StatusCode::UNAUTHORIZED,
                "token",
                "report: missing or wrong bearer token".into(),
            );
            let mut response = err.into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
            return Ok(response);
        }
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BATCH_BYTES).await else {
        return Err(refuse(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "size",
            format!("report: body over {MAX_BATCH_BYTES} bytes (or cut off)"),
        ));
    };
    let reports = parse(&state, &bytes)?;
    let batch = reports.len() > 1 || is_batch(&bytes);
    let mut accepted = 0u64;
    let mut refused = Vec::new();
    for report in reports {
        match admit(&state, &report) {
            Ok(()) => {
                store(&state, report).await?;
                accepted += 1;
            }
            Err(e) if !batch => return Err(e),
            Err(e) => {
                refused.push(json!({"workstation_id": report.workstation_id, "error": e.message}));
            }
        }
    }
    let body = json!({"accepted": accepted, "refused": refused});
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

fn is_batch(bytes: &Bytes) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
            .is_ok_and(|m| m.contains_key("reports"))
}

/// One report, or a batch (`{"reports": [...]}`) from a site mirror.
fn parse(state: &AppState, bytes: &Bytes) -> Result<Vec<WorkstationReport>, ApiError> {
    let bad = |e: serde_json::Error| {
        refuse(
            state,
            StatusCode::BAD_REQUEST,
            "json",
            format!("report is not valid report JSON: {e}"),
        )
    };
    if is_batch(bytes) {
        let batch: ReportBatch = serde_json::from_slice(bytes).map_err(bad)?;
        if batch.reports.len() > MAX_BATCH {
            return Err(refuse(
                state,
                StatusCode::PAYLOAD_TOO_LARGE,
                "size",
                format!("report batch: more than {MAX_BATCH} reports"),
            ));
        }
        return Ok(batch.reports);
    }
    if bytes.len() > MAX_REPORT_BYTES {
        return Err(refuse(
            state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "size",
            format!(
                "report: {} bytes, over the {MAX_REPORT_BYTES}-byte limit",
                bytes.len()
            ),
        ));
    }
    Ok(vec![serde_json::from_slice(bytes).map_err(bad)?])
}

/// The rules and the rate limit.
fn admit(state: &AppState, report: &WorkstationReport) -> Result<(), ApiError> {
    check(report).map_err(|e| {
        refuse(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule",
            e.to_string(),
        )
    })?;
    if !fleet(state)
        .limit
        .allow(&report.workstation_id, Instant::now())
    {
        return Err(refuse(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            "rate",
            format!(
                "report of {:?}: too many reports; send fewer",
                report.workstation_id
            ),
        ));
    }
    Ok(())
}

async fn store(state: &AppState, report: WorkstationReport) -> Result<(), ApiError> {
    let f = Arc::clone(fleet(state));
    let now = jiff::Timestamp::now().as_second();
    let db = Arc::clone(&f.db);
    let copy = report.clone();
    let stored = tokio::task::spawn_blocking(move || db.upsert(&copy, now))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    f.metrics.accepted.inc();
    if stored
        && let Some(fwd) = &f.forward
        && !fwd.enqueue(report)
    {
        f.metrics.forward_dropped.inc();
    }
    Ok(())
}

pub(crate) async fn get_fleet(
    State(state): State<Arc<AppState>>,
    Query(query): Query<FleetQuery>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(s) = &query.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "state {s:?}: expected one of {}",
            STATES.join(", ")
        )));
    }
    let f = Arc::clone(fleet(&state));
    let store = state.store.clone();
    let view = blocking(move || {
        let all = f.db.all().map_err(std::io::Error::other)?;
        let mut targets = ChannelTargets::new();
        for s in &all {
            for t in &s.report.tools {
                let Some(channel) = &t.channel else { continue };
                let key = (t.tool_id.clone(), channel.clone());
                if targets.contains_key(&key) {
                    continue;
                }
                if let Some(doc) = store.read_channel(&t.tool_id, channel)?
                    && let Ok(doc) =
                        serde_json::from_slice::<tooldelta_core::channel::ChannelDocument>(&doc)
                {
                    targets.insert(key, (doc.version, doc.rollout_percent));
                }
            }
        }
        let now = jiff::Timestamp::now().as_second();
        Ok(view::build(all, &query, &targets, now, f.stale_after_secs))
    })
    .await?;
    Ok(respond::json(&method, &headers, &view, &state.metrics))
}

/// Recomputes the fleet gauges before a scrape.
pub(crate) async fn refresh_gauges(state: &AppState) {
    let f = Arc::clone(fleet(state));
    let now = jiff::Timestamp::now().as_second();
    match tokio::task::spawn_blocking(move || f.views(now).map(|v| f.metrics.refresh(&v))).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "fleet gauges not refreshed"),
        Err(e) => tracing::warn!(error = %e, "fleet gauges not refreshed"),
    }
}

pub(crate) async fn page() -> Response {
    asset(PAGE, "text/html; charset=utf-8")
}

pub(crate) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// A page asset. The CSP keeps report text inert even if the page had a
/// bug: no inline script, nothing loaded from elsewhere.
fn asset(text: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'",
            ),
        ],
        text,
    )
        .into_response()
}
