//! Where the bytes come from: a folder laid out like the mirror's static
//! export, or another server. Both answer correctly; faults are added on top.

mod dir;
mod proxy;

use std::io;
use std::path::PathBuf;
use std::pin::Pin;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use bytes::Bytes;
use futures_util::Stream;

pub(crate) use dir::DirOrigin;
pub(crate) use proxy::ProxyOrigin;

/// A response body as it streams.
pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What the server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Files under this folder: any path is a file, a folder answers with its
    /// `index.json` (the layout `tooldelta-mirror export` and
    /// [`crate::StaticMirror`] write).
    Dir(PathBuf),
    /// Everything forwarded to this base URL (e.g. a running `tooldelta-mirror`).
    Upstream(String),
}

/// The parts of a request an origin looks at.
#[derive(Debug, Clone)]
pub(crate) struct OriginRequest {
    pub(crate) method: Method,
    /// Path as sent, percent-encoded.
    pub(crate) path: String,
    /// Path and query, for forwarding.
    pub(crate) path_and_query: String,
    pub(crate) range: Option<String>,
    pub(crate) if_range: Option<String>,
    pub(crate) if_none_match: Option<String>,
}

/// A correct answer, before faults.
pub(crate) struct OriginResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: BodyStream,
    /// Offset in the file of the first body byte.
    pub(crate) body_offset: u64,
    /// Size of the whole file, when known.
    pub(crate) total: Option<u64>,
}

impl OriginResponse {
    /// A small plain-text answer (errors, 304, 416).
    pub(crate) fn text(status: StatusCode, text: &str) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
        Self {
            status,
            headers,
            body: once(Bytes::copy_from_slice(text.as_bytes())),
            body_offset: 0,
            total: None,
        }
    }

    /// An answer with no body.
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Box::pin(futures_util::stream::empty()),
            body_offset: 0,
            total: None,
        }
    }
}

/// A body of one chunk.
pub(crate) fn once(bytes: Bytes) -> BodyStream {
    Box::pin(futures_util::stream::once(async move { Ok(bytes) }))
}

/// A running origin.
#[derive(Debug)]
pub(crate) enum Backend {
    Dir(DirOrigin),
    Proxy(ProxyOrigin),
}

impl Backend {
    pub(crate) fn new(origin: Origin) -> Result<Self, crate::ServerError> {
        Ok(match origin {
            Origin::Dir(root) => Backend::Dir(DirOrigin::new(root)),
            Origin::Upstream(base) => Backend::Proxy(ProxyOrigin::new(&base)?),
        })
    }

    pub(crate) async fn serve(&self, req: &OriginRequest) -> OriginResponse {
        match self {
            Backend::Dir(d) => d.serve(req).await,
            Backend::Proxy(p) => p.serve(req).await,
        }
    }

    /// The size of the file at `path`, for a 416 answer.
    pub(crate) async fn size(&self, path: &str) -> Option<u64> {
        match self {
            Backend::Dir(d) => d.size(path).await,
            Backend::Proxy(p) => p.size(path).await,
        }
    }
}
