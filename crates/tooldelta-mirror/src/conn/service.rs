//! The hyper service of one connection: the router, with each request counted
//! in flight from its head until hyper has taken the whole response body, so
//! the transport knows when the connection is idle.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tower::ServiceExt as _;

use super::watched::{Activity, Busy};

/// Serves `request` with `app`; the response body carries the in-flight guard.
pub(crate) async fn call(
    app: Router,
    activity: Arc<Activity>,
    request: hyper::Request<Incoming>,
) -> Result<Response, Infallible> {
    let busy = activity.begin();
    let response = app.oneshot(request.map(Body::new)).await?;
    Ok(response.map(|body| Body::new(Tracked { body, _busy: busy })))
}

/// A response body that keeps its request in flight until dropped.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
