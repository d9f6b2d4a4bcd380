//! The middleware around every route: counts, times and logs each request
//! and refuses over-long paths.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use tooldelta_core::api;

use super::AppState;
use super::respond::ApiError;
use crate::metrics::{RouteLabels, StatusLabels};

/// Longest request path accepted (tool ids, versions and manifest paths are
/// all far shorter); longer ones get 414.
const MAX_PATH_LEN: usize = 8 * 1024;

/// Counts, times and logs every request; refuses over-long paths.
pub(super) async fn track(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let route = api::route_label(&path);
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    state
        .metrics
        .requests
        .get_or_create(&RouteLabels {
            route: route.to_owned(),
            method: method.to_owned(),
        })
        .inc();
    let start = Instant::now();
    let response = if path.len() > MAX_PATH_LEN {
        ApiError {
            status: StatusCode::URI_TOO_LONG,
            message: format!("request path longer than {MAX_PATH_LEN} bytes"),
            headers: Vec::new(),
        }
        .into_response()
    } else {
        next.run(req).await
    };
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .duration
        .get_or_create(&StatusLabels {
            route: route.to_owned(),
            status,
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        method,
        path = %truncate(&path, 256),
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
