//! A blob pulled through from upstream: the core's stream adapters into a
//! hashing sink in the store's scratch folder, verified, then renamed into
//! `blobs/` (the commit point).

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tooldelta_core::api;
use tooldelta_core::fs::persist;
use tooldelta_core::stream::{Body, Sink, StreamError, pump};

use std::time::{Duration, Instant};

use tooldelta_core::pending::{self, UpstreamProgress};

use super::progress::Counter;
use super::{STALL_TIMEOUT, Upstream, UpstreamError, ok_status};
use crate::store::fsutil;

impl Upstream {
    pub(super) async fn download_blob(
        &self,
        hex: &str,
        expected_size: Option<u64>,
    ) -> Result<(), UpstreamError> {
        let url = self.url(&api::blob(hex));
        let listed = self.progress.start(hex, expected_size);
        if self.rebuild_blob(hex, &listed.counter).await {
            return Ok(());
        }
        let resp = self.get_blob(&url, &listed.counter).await?;
        let limit = expected_size.unwrap_or(self.max_blob_bytes);
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(UpstreamError::TooLarge { url, limit });
        }
        listed.counter.set_received(0);
        if expected_size.is_none()
            && let Some(n) = resp.content_length()
        {
            listed.counter.set_total(n);
        }
        let temp = fsutil::temp_path(&self.store.tmp_dir(), hex);
        let expect = Expect {
            url: &url,
            hex,
            limit,
            size: expected_size,
        };
        let result = self
            .receive_blob(resp, &temp, &expect, &listed.counter)
            .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    /// The body through the core's stream adapters (size limit, stall
    /// timeout) into its hashing sink; verified bytes are then renamed into
    /// `blobs/` (the commit point).
    async fn receive_blob(
        &self,
        resp: reqwest::Response,
        temp: &Path,
        expect: &Expect<'_>,
        counter: &Counter,
    ) -> Result<(), UpstreamError> {
        let store_err = |source| UpstreamError::Store {
            path: temp.to_owned(),
            source,
        };
        let mut body = Body::new(resp)
            .limit(expect.limit)
            .stall_timeout(STALL_TIMEOUT)
            .rate(self.max_rate.clone());
        let mut sink = Sink::open(temp, 0);
        let metrics = &self.metrics;
        let pumped = pump(&mut body, &mut sink, |n| {
            metrics.upstream_bytes.inc_by(n);
            counter.add_received(n);
        })
        .await;
        if let Err(e) = pumped {
            let _ = sink.close().await;
            return Err(stream_error(expect.url, e));
        }
        let digest = sink.finish().await.map_err(store_err)?;
        if digest.sha256 != expect.hex || expect.size.is_some_and(|n| n != digest.size) {
            return Err(UpstreamError::Integrity {
                url: expect.url.to_owned(),
                expected: expect.hex.to_owned(),
                actual: digest.sha256,
                expected_size: expect.size.unwrap_or(digest.size),
                actual_size: digest.size,
            });
        }
        std::fs::set_permissions(temp, Permissions::from_mode(0o444)).map_err(store_err)?;
        // Commit point: verified content becomes visible under its address.
        persist(temp, &self.store.blob_path(expect.hex)).map_err(store_err)?;
        tracing::info!(
            url = expect.url,
            bytes = digest.size,
            "blob verified and stored"
        );
        Ok(())
    }
}

impl Upstream {
    /// The blob's GET. An upstream that is itself a site mirror may answer
    /// that it is still fetching the blob from its own upstream: wait as long
    /// as that fetch advances, passing its progress on to our own clients.
    async fn get_blob(
        &self,
        url: &str,
        counter: &Counter,
    ) -> Result<reqwest::Response, UpstreamError> {
        self.metrics.upstream_fetches.inc();
        tracing::info!(%url, "fetching from upstream");
        let mut last = None;
        let mut since = Instant::now();
        loop {
            let resp = self.send(url).await?;
            let Some(progress) = pending_progress(&resp) else {
                return ok_status(url, resp);
            };
            if last != Some(progress.received) {
                last = Some(progress.received);
                since = Instant::now();
            } else if since.elapsed() >= STALL_TIMEOUT {
                return Err(UpstreamError::Stalled {
                    url: url.to_owned(),
                });
            }
            counter.set_received(progress.received);
            if let Some(total) = progress.total {
                counter.set_total(total);
            }
            tokio::time::sleep(Duration::from_secs(pending::RETRY_AFTER_SECS)).await;
        }
    }
}

/// The progress of a "still fetching from upstream" answer, if it is one.
fn pending_progress(resp: &reqwest::Response) -> Option<UpstreamProgress> {
    if resp.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let value = resp
        .headers()
        .get(pending::PROGRESS_HEADER)?
        .to_str()
        .ok()?;
    UpstreamProgress::parse(value)
}

/// A body that stopped early, as an upstream error naming the URL.
pub(super) fn stream_error(url: &str, err: StreamError) -> UpstreamError {
    let url = url.to_owned();
    match err {
        StreamError::TooLong(limit) => UpstreamError::TooLarge { url, limit },
        StreamError::Transport(source) => UpstreamError::Request { url, source },
        StreamError::Stalled(_) | StreamError::Cancelled => UpstreamError::Stalled { url },
    }
}

/// What a blob download must turn out to be.
struct Expect<'a> {
    url: &'a str,
    hex: &'a str,
    limit: u64,
    size: Option<u64>,
}
