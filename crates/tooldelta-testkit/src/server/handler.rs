//! One request: pick the faults that fire, ask the origin for a correct
//! answer, then bend it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::body::shape;
use super::faults::{Active, BodyPlan, Faults, RangeMutation};
use super::log::{Entry, NewEntry, RequestLog};
use super::origin::{Backend, OriginRequest, OriginResponse};
use super::range::none_match;

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) backend: Backend,
    pub(crate) faults: Faults,
    pub(crate) log: RequestLog,
}

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let mut oreq = origin_request(&req);
    let active = shared.faults.activate(&oreq.path, oreq.range.is_some());
    let entry = shared.log.push(NewEntry {
        method: oreq.method.to_string(),
        path: oreq.path.clone(),
        range: oreq.range.clone(),
        if_range: oreq.if_range.clone(),
        faults: active.names.clone(),
    });
    if let Some(delay) = active.delay {
        tokio::time::sleep(delay).await;
    }
    let resp = answer(&shared, &mut oreq, &active).await;
    let is_head = oreq.method == axum::http::Method::HEAD;
    finish(resp, active, is_head, entry)
}

fn origin_request(req: &Request) -> OriginRequest {
    let text = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    OriginRequest {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        path_and_query: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned()),
        range: text(header::RANGE),
        if_range: text(header::IF_RANGE),
        if_none_match: text(header::IF_NONE_MATCH),
    }
}

/// The origin's answer under the faults that change *what* is answered.
async fn answer(shared: &Shared, oreq: &mut OriginRequest, active: &Active) -> OriginResponse {
    if let Some(status) = active.error_status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return OriginResponse::text(status, &format!("fault: injected {status}\n"));
    }
    if active.range_416 {
        return not_satisfiable(shared.backend.size(&oreq.path).await);
    }
    if active.ignore_range {
        oreq.range = None;
        oreq.if_range = None;
    }
    if let Some(etag) = &active.etag {
        // The file "changed": conditions are judged against the new tag, and
        // the origin (which knows only the real one) must not judge them.
        if oreq
            .if_none_match
            .take()
            .is_some_and(|h| none_match(&h, etag))
        {
            let mut resp = OriginResponse::empty(StatusCode::NOT_MODIFIED);
            resp.headers.insert(header::ETAG, value(etag));
            return resp;
        }
        if let Some(if_range) = oreq.if_range.take()
            && if_range.trim() != etag
        {
            oreq.range = None;
        }
    }
    let mut resp = shared.backend.serve(oreq).await;
    if let Some(etag) = &active.etag
        && resp.headers.contains_key(header::ETAG)
    {
        resp.headers.insert(header::ETAG, value(etag));
    }
    resp
}

fn not_satisfiable(size: Option<u64>) -> OriginResponse {
    let mut resp = OriginResponse::empty(StatusCode::RANGE_NOT_SATISFIABLE);
    let total = size.map_or_else(|| "*".to_owned(), |s| s.to_string());
    resp.headers
        .insert(header::CONTENT_RANGE, value(&format!("bytes */{total}")));
    resp.headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    resp.total = size;
    resp
}

/// Applies header and body faults and builds the response.
fn finish(mut resp: OriginResponse, active: Active, is_head: bool, entry: Arc<Entry>) -> Response {
    let partial = resp.status == StatusCode::PARTIAL_CONTENT;
    if partial && let Some(m) = active.content_range {
        mutate_content_range(&mut resp.headers, m);
    }
    // Body faults bend file bodies only: not errors, 304s or 416s.
    let serves_file = partial || resp.status == StatusCode::OK;
    let plan = if serves_file {
        active.body
    } else {
        BodyPlan::default()
    };
    if plan.endless {
        resp.headers.remove(header::CONTENT_LENGTH);
    } else if plan.extra > 0
        && let Some(len) = content_length(&resp.headers)
        && len > 0
    {
        resp.headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len + plan.extra));
    }
    entry.set_status(resp.status.as_u16());
    // HEAD keeps the bent headers but has no body to bend.
    let plan = if is_head { BodyPlan::default() } else { plan };
    let body = shape(resp.body, resp.body_offset, plan, entry);
    let mut out = Response::new(Body::from_stream(body));
    *out.status_mut() = resp.status;
    *out.headers_mut() = resp.headers;
    out
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Rewrites `Content-Range: bytes a-b/size` the way `m` says.
fn mutate_content_range(headers: &mut HeaderMap, m: RangeMutation) {
    let parsed = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range);
    let Some((start, end, total)) = parsed else {
        return;
    };
    let text = match m {
        RangeMutation::StartOffByOne => format!("bytes {}-{end}/{total}", start + 1),
        RangeMutation::StartAtZero => format!("bytes 0-{}/{total}", end - start),
        RangeMutation::WrongTotal => format!("bytes {start}-{end}/{}", total + 1),
        RangeMutation::UnknownTotal => format!("bytes {start}-{end}/*"),
        RangeMutation::Garbage => "bytes garbage".to_owned(),
        RangeMutation::Missing => {
            headers.remove(header::CONTENT_RANGE);
            return;
        }
    };
    headers.insert(header::CONTENT_RANGE, value(&text));
}

fn parse_content_range(text: &str) -> Option<(u64, u64, u64)> {
    let (range, total) = text.strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    Some((start.parse().ok()?, end.parse().ok()?, total.parse().ok()?))
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("ASCII header built here")
}
