//! The manifest GET: every mirror in order, bounded by
//! [`MAX_MANIFEST_BYTES`], rounds repeated with backoff while a failure may
//! be transient.

use reqwest::Url;

use super::{FetchedManifest, Fetcher, Use};
use crate::api;
use crate::error::{FetchError, UpdateError};
use crate::explain::Cause;
use crate::manifest::MAX_MANIFEST_BYTES;
use crate::stream::{Body, StreamError};

impl Fetcher {
    /// Fetches `{mirror}/api/v1/tools/{id}/{version|latest}/manifest.json`
    /// from the first mirror that serves it, capped at [`MAX_MANIFEST_BYTES`].
    pub async fn manifest(
        &self,
        tool_id: &str,
        version: Option<&str>,
    ) -> Result<FetchedManifest, UpdateError> {
        if self.mirrors.is_empty() {
            return Err(UpdateError::NoMirror {
                tool_id: tool_id.to_owned(),
            });
        }
        let rel = api::manifest(tool_id, version.unwrap_or("latest"));
        let mut last = None;
        let mut not_found = None;
        let mut delays = self.backoff();
        loop {
            let mut any_transient = false;
            for mirror in &self.mirrors {
                let url = mirror.join(&rel).expect("a relative path joins");
                match self.get_capped(&url, MAX_MANIFEST_BYTES).await {
                    Ok(bytes) => return Ok(FetchedManifest { bytes, url }),
                    Err(e) => {
                        any_transient |= e.is_transient();
                        if matches!(e, FetchError::Status { status: 404, .. })
                            && not_found.is_none()
                        {
                            not_found = Some(mirror.clone());
                        }
                        last = Some(e);
                    }
                }
            }
            match delays.next() {
                Some(delay) if any_transient => tokio::time::sleep(delay).await,
                _ => break,
            }
        }
        // A mirror that does not have it says what it has instead.
        if let Some(mirror) = not_found
            && let Some(err) = self.not_found(&mirror, tool_id, version).await
        {
            return Err(err);
        }
        Err(UpdateError::ManifestFetch {
            tool_id: tool_id.to_owned(),
            source: Box::new(last.expect("at least one mirror was tried")),
        })
    }

    /// One GET of a small document (a manifest, a channel document), through
    /// the size limit and the stall timeout.
    pub(crate) async fn get_capped(&self, url: &Url, limit: u64) -> Result<Vec<u8>, FetchError> {
        let text = url.to_string();
        let send = self.get(url.as_str(), None, None, Use::Shared);
        let stalled = |received| FetchError::Stalled {
            url: text.clone(),
            secs: self.stall_timeout.as_secs(),
            received,
        };
        let resp = match tokio::time::timeout(self.stall_timeout, send).await {
            Err(_) => return Err(stalled(0)),
            Ok(r) => r?,
        };
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(FetchError::Status { url: text, status });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let body = Body::new(resp)
            .limit(limit)
            .stall_timeout(self.stall_timeout);
        body.read_all().await.map_err(|e| match e {
            StreamError::TooLong(_) => too_large(),
            StreamError::Stalled(_) | StreamError::Cancelled => stalled(0),
            StreamError::Transport(e) => FetchError::Body {
                url: url.to_string(),
                received: 0,
                source: Cause::new(e),
            },
        })
    }
}
