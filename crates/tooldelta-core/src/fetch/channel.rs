//! The channel GET: `{mirror}/api/v1/tools/{id}/channels/{channel}.json`
//! from the first mirror that serves it, bounded by [`MAX_CHANNEL_BYTES`].

use super::Fetcher;
use crate::api;
use crate::channel::MAX_CHANNEL_BYTES;
use crate::error::FetchError;

impl Fetcher {
    /// The channel document's bytes from the first mirror that serves one;
    /// `Ok(None)` when every mirror answers 404 (no channel published, or
    /// one withheld: the caller falls back on the document it accepted last).
    /// One round, no backoff: the manifest fetch that follows reports an
    /// unreachable mirror.
    pub async fn channel(
        &self,
        tool_id: &str,
        channel: &str,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        let rel = api::channel(tool_id, channel);
        let mut failure = None;
        for mirror in &self.mirrors {
            let url = mirror.join(&rel).expect("a relative path joins");
            match self.get_capped(&url, MAX_CHANNEL_BYTES).await {
                Ok(bytes) => return Ok(Some(bytes)),
                Err(FetchError::Status { status: 404, .. }) => {}
                Err(e) => failure = Some(e),
            }
        }
        failure.map_or(Ok(None), Err)
    }
}
