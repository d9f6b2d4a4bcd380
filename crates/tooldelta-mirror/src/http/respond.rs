//! Building responses: content (files and blobs) with Range and conditional
//! requests, JSON documents, and errors.

use std::fs::File;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::body::FileBody;
use super::conditional::{Decision, decide};
use crate::metrics::Metrics;

/// Content addressed by its SHA-256: never changes under its URL.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Documents that change (`latest`, catalog): revalidate every time (cheap with the ETag).
pub(crate) const REVALIDATE: &str = "no-cache";

/// A stored file ready to be answered with.
pub(crate) struct Content {
    /// Shared with the open-blob cache ([`super::open_cache`]).
    pub file: Arc<File>,
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    pub cache_control: &'static str,
}

/// The answer for a file or blob route: 200, 206, 304, 412 or 416.
pub(crate) fn content(
    method: &Method,
    headers: &HeaderMap,
    content: Content,
    metrics: &Metrics,
) -> Response {
    let etag = format!("\"{}\"", content.sha256);
    let size = content.size;
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, content.cache_control);
    let (status, range) = match decide(method, headers, &etag, size) {
        Decision::NotModified => return empty(builder.status(StatusCode::NOT_MODIFIED)),
        Decision::PreconditionFailed => {
            return empty(builder.status(StatusCode::PRECONDITION_FAILED));
        }
        Decision::Unsatisfiable => {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes */{size}"));
            return empty(builder.status(StatusCode::RANGE_NOT_SATISFIABLE));
        }
        Decision::Full => (StatusCode::OK, 0..size),
        Decision::Partial(r) => {
            let (start, end) = (*r.start(), *r.end());
            builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            (StatusCode::PARTIAL_CONTENT, start..end + 1)
        }
    };
    let builder = builder
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, range.end - range.start);
    let body = if method == Method::HEAD || range.is_empty() {
        Body::empty()
    } else {
        let stream = FileBody::new(
            content.file,
            range.start,
            range.end,
            metrics.bytes_served.clone(),
        );
        Body::from_stream(stream)
    };
    builder.body(body).expect("valid response parts")
}

/// A JSON (or other small) document with a strong ETag over its bytes.
pub(crate) fn document(
    method: &Method,
    headers: &HeaderMap,
    bytes: Bytes,
    cache_control: &'static str,
    metrics: &Metrics,
) -> Response {
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&bytes)));
    let builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, cache_control);
    match decide(method, headers, &etag, bytes.len() as u64) {
        Decision::NotModified => return empty(builder.status(StatusCode::NOT_MODIFIED)),
        Decision::PreconditionFailed => {
            return empty(builder.status(StatusCode::PRECONDITION_FAILED));
        }
        _ => {}
    }
    let builder = builder
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, bytes.len());
    if method == Method::HEAD {
        return builder.body(Body::empty()).expect("valid response parts");
    }
    metrics.bytes_served.inc_by(bytes.len() as u64);
    builder
        .body(Body::from(bytes))
        .expect("valid response parts")
}

/// Serializes `value` as a JSON document (the same bytes `export` writes).
pub(crate) fn json<T: serde::Serialize>(
    method: &Method,
    headers: &HeaderMap,
    value: &T,
    metrics: &Metrics,
) -> Response {
    let bytes = crate::store::to_json_bytes(value);
    document(method, headers, Bytes::from(bytes), REVALIDATE, metrics)
}

fn empty(builder: axum::http::response::Builder) -> Response {
    builder
        .header(header::CONTENT_LENGTH, HeaderValue::from_static("0"))
        .body(Body::empty())
        .expect("valid response parts")
}

/// An error answer: a status and a one-line JSON `{"error": …}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Extra headers (`Retry-After`, the upstream progress of a blob that is
    /// still arriving).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: what.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn bad_request(what: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: what.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn bad_gateway(what: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            message: what.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: what.to_string(),
            headers: Vec::new(),
        }
    }
}

impl ApiError {
    /// The same answer with one more header.
    #[must_use]
    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut response = (
            self.status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}
