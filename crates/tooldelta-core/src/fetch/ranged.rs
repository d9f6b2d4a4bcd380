//! One byte range of one content, asked of any source: the general helper
//! under segmented downloads (and anything else that reads part of an
//! object by range). Only a `206` whose `Content-Range` is exactly the range
//! asked for is taken as that range; a `200` is the whole content (the source
//! ignores Range, or `If-Range` found another version).

use reqwest::header::CONTENT_RANGE;
use tokio_util::sync::CancellationToken;

use super::resume::parse_content_range;
use super::{Fetcher, Use};
use crate::error::FetchError;

/// A range: `start..end` of a content of `total` bytes (`end` exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// The content's size.
    pub total: u64,
}

/// How a ranged GET was answered.
#[derive(Debug)]
pub enum Ranged {
    /// `206` with exactly the bytes asked for.
    Partial(reqwest::Response),
    /// `200`: the body is the whole content, from byte zero.
    Whole(reqwest::Response),
    /// A `206` for other bytes than asked (or without a usable
    /// `Content-Range`): the source's ranges cannot be trusted.
    Mismatch(String),
}

impl Fetcher {
    /// GETs `range` of `url` (optionally guarded by `If-Range: etag`), within
    /// the stall timeout and the cancellation token. Error statuses are
    /// [`FetchError::Status`].
    pub async fn get_range(
        &self,
        url: &str,
        range: ByteRange,
        if_range: Option<&str>,
        own_connection: bool,
        cancel: &CancellationToken,
    ) -> Result<Ranged, FetchError> {
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        let use_ = if own_connection {
            Use::OwnConnection
        } else {
            Use::Shared
        };
        let send = self.get(url, Some(&header), if_range, use_);
        let timed = tokio::time::timeout(self.stall_timeout, send);
        let resp = tokio::select! {
            () = cancel.cancelled() => return Err(FetchError::Cancelled),
            r = timed => match r {
                Err(_) => return Err(FetchError::Stalled {
                    url: url.to_owned(),
                    secs: self.stall_timeout.as_secs(),
                    received: range.start,
                }),
                Ok(r) => r?,
            },
        };
        match resp.status().as_u16() {
            200 => Ok(Ranged::Whole(resp)),
            206 => {
                let got = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let exact = parse_content_range(got).is_some_and(|r| {
                    r.start == range.start
                        && r.end + 1 == range.end
                        && r.total.is_none_or(|t| t == range.total)
                });
                if exact {
                    Ok(Ranged::Partial(resp))
                } else {
                    Ok(Ranged::Mismatch(format!(
                        "asked for {header}, got Content-Range {got:?}"
                    )))
                }
            }
            status => Err(FetchError::Status {
                url: url.to_owned(),
                status,
            }),
        }
    }
}
