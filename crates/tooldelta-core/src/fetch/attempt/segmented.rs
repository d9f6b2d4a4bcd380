//! The segmented branch of an object's attempt: when an object is large
//! enough and several connections are allowed, its bytes come as ranges
//! over several connections (`fetch::segments`); a source without ranges
//! hands it back to the single stream.

use super::ObjectRun;
use crate::error::FetchError;
use crate::fetch::segments::table::Table;
use crate::fetch::segments::{Outcome, SegmentJob};

impl ObjectRun<'_> {
    /// Whether this object is fetched in segments.
    pub(super) fn segmented(&self) -> bool {
        let (connections, threshold) = self.fetcher.segmenting();
        connections > 1 && self.size() >= threshold && !self.one_stream
    }

    pub(super) fn segment_job<'s>(&'s self, url: &'s str) -> SegmentJob<'s> {
        SegmentJob {
            fetcher: self.fetcher,
            url,
            partial: self.store.partial_path(self.sha()),
            table_path: self.store.segments_path(self.sha()),
            size: self.size(),
            prefix: self.on_disk,
            etag: self.stored_etag(),
            connections: self.fetcher.segmenting().0,
            tool_id: self.job.tool_id,
            path: &self.job.file.path,
            progress: self.progress,
            reporter: self.reporter,
            cancel: self.cancel,
        }
    }

    /// One segmented attempt at `url`. `Ok(None)`: the object is stored,
    /// unless [`ObjectRun::one_stream`] is now set (continue as one stream
    /// from the partial's prefix); `Ok(Some(resp))`: the source answered
    /// with the whole content, to be streamed from byte zero.
    pub(super) async fn segments(
        &mut self,
        url: &str,
    ) -> Result<Option<reqwest::Response>, FetchError> {
        let job = self.segment_job(url);
        let (outcome, downloaded) = job.run(&|resp| self.remember_etag(resp)).await;
        self.fetched.downloaded += downloaded;
        if self.initial > 0 && self.initial_intact && self.fetched.resumed == 0 {
            self.fetched.resumed = self.initial;
        }
        match outcome {
            Outcome::Complete { sha256 } => {
                self.verify_segmented(url, &sha256).await.map(|()| None)
            }
            Outcome::Failed(err) => {
                self.on_disk = Table::load(&self.store.segments_path(self.sha()), self.size())
                    .map_or(self.on_disk, |t| t.written());
                Err(err)
            }
            Outcome::SingleStream(whole) => {
                self.one_stream = true;
                if whole.is_some() {
                    self.store
                        .discard_partial(self.sha())
                        .map_err(|e| self.io(e))?;
                    self.truncate();
                } else {
                    self.leave_segments().map_err(|e| self.io(e))?;
                }
                Ok(whole)
            }
        }
    }

    async fn verify_segmented(&mut self, url: &str, sha256: &str) -> Result<(), FetchError> {
        if sha256 != self.sha() {
            self.store
                .discard_partial(self.sha())
                .map_err(|e| self.io(e))?;
            self.truncate();
            return Err(FetchError::Integrity {
                url: url.to_owned(),
                expected_sha256: self.sha().to_owned(),
                actual_sha256: sha256.to_owned(),
                expected_size: self.size(),
                actual_size: self.size(),
            });
        }
        self.on_disk = self.size();
        self.persist().await
    }

    /// Turns a segmented partial into a single stream's: its contiguous
    /// prefix is kept, the rest (and the table) dropped.
    pub(super) fn leave_segments(&mut self) -> std::io::Result<()> {
        let table_path = self.store.segments_path(self.sha());
        let prefix = Table::load(&table_path, self.size()).map_or(0, |t| t.contiguous());
        let file = crate::fs::open_own_file(&self.store.partial_path(self.sha()))?;
        file.set_len(prefix)?;
        std::fs::remove_file(&table_path).or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        if self.on_disk > prefix {
            self.progress.discarded(self.on_disk - prefix);
        }
        self.on_disk = prefix;
        Ok(())
    }
}
