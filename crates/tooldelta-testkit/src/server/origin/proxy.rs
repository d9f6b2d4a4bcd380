//! Another server as the origin (e.g. a running `tooldelta-mirror`): requests
//! are forwarded with their range and conditional headers, answers streamed back.

use std::io;

use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use futures_util::TryStreamExt;

use super::{OriginRequest, OriginResponse};
use crate::ServerError;

/// Answer headers passed back to the client.
const KEPT: [HeaderName; 7] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ETAG,
    header::ACCEPT_RANGES,
    header::LAST_MODIFIED,
    header::CACHE_CONTROL,
];

#[derive(Debug)]
pub(crate) struct ProxyOrigin {
    base: String,
    client: reqwest::Client,
}

impl ProxyOrigin {
    pub(crate) fn new(base: &str) -> Result<Self, ServerError> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            // The client must see the upstream's redirects as they are.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ServerError::Upstream {
                url: base.to_owned(),
                cause: e.to_string(),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }

    pub(crate) async fn size(&self, path: &str) -> Option<u64> {
        let resp = self
            .client
            .head(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.headers()
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }

    pub(crate) async fn serve(&self, req: &OriginRequest) -> OriginResponse {
        let url = format!("{}{}", self.base, req.path_and_query);
        let mut builder = self.client.request(req.method.clone(), &url);
        for (name, value) in [
            (header::RANGE, &req.range),
            (header::IF_RANGE, &req.if_range),
            (header::IF_NONE_MATCH, &req.if_none_match),
        ] {
            if let Some(v) = value {
                builder = builder.header(name, v.as_str());
            }
        }
        let resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                return OriginResponse::text(
                    StatusCode::BAD_GATEWAY,
                    &format!("upstream {url}: {e}\n"),
                );
            }
        };
        let status = resp.status();
        let mut headers = HeaderMap::new();
        for name in KEPT {
            if let Some(v) = resp.headers().get(&name) {
                headers.insert(name, v.clone());
            }
        }
        let (body_offset, total) = offsets(status, &headers);
        let body = resp.bytes_stream().map_err(io::Error::other);
        OriginResponse {
            status,
            headers,
            body: Box::pin(body),
            body_offset,
            total,
        }
    }
}

/// Where the body starts in the file and the file's size, from the answer's
/// `Content-Range` (206) or `Content-Length` (200).
fn offsets(status: StatusCode, headers: &HeaderMap) -> (u64, Option<u64>) {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if status == StatusCode::PARTIAL_CONTENT {
        let parsed = text(header::CONTENT_RANGE).and_then(|cr| {
            let (range, total) = cr.strip_prefix("bytes ")?.split_once('/')?;
            let start = range.split_once('-')?.0.parse().ok()?;
            Some((start, total.parse().ok()))
        });
        return parsed.unwrap_or((0, None));
    }
    (0, text(header::CONTENT_LENGTH).and_then(|l| l.parse().ok()))
}
