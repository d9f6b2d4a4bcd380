//! A blob pulled through from upstream: the core's stream adapters into a
//! hashing sink in the store's scratch folder, verified, then renamed into
//! `blobs/` (the commit point).

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tooldelta_core::api;
use tooldelta_core::fs::persist;
use tooldelta_core::stream::{Body, Sink, StreamError, pump};

use super::{STALL_TIMEOUT, Upstream, UpstreamError};
use crate::store::fsutil;

impl Upstream {
    pub(super) async fn download_blob(
        &self,
        hex: &str,
        expected_size: Option<u64>,
    ) -> Result<(), UpstreamError> {
        let url = self.url(&api::blob(hex));
        let resp = self.get(&url).await?;
        let limit = expected_size.unwrap_or(self.max_blob_bytes);
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(UpstreamError::TooLarge { url, limit });
        }
        let temp = fsutil::temp_path(&self.store.tmp_dir(), hex);
        let expect = Expect {
            url: &url,
            hex,
            limit,
            size: expected_size,
        };
        let result = self.receive_blob(resp, &temp, &expect).await;
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
    ) -> Result<(), UpstreamError> {
        let store_err = |source| UpstreamError::Store {
            path: temp.to_owned(),
            source,
        };
        let mut body = Body::new(resp)
            .limit(expect.limit)
            .stall_timeout(STALL_TIMEOUT);
        let mut sink = Sink::open(temp, 0);
        let metrics = &self.metrics;
        let pumped = pump(&mut body, &mut sink, |n| {
            metrics.upstream_bytes.inc_by(n);
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
