//! Reading a site mirror's "still fetching from upstream" answer
//! ([`crate::pending`]): wait and ask again while the upstream fetch
//! advances, give up with a message naming the site mirror and its upstream
//! once it stops advancing or fails.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::error::FetchError;
use crate::pending::{PROGRESS_HEADER, UPSTREAM_HEADER, UpstreamProgress};

/// Shortest and longest pause between two asks, whatever `Retry-After` says.
const MIN_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Largest error body read from a site mirror's `502`.
const MAX_ERROR_BODY: usize = 4096;

/// What to do with an answer.
pub(crate) enum Answer {
    /// A real answer (content, or an error for the usual handling).
    Ready(reqwest::Response),
    /// The site mirror is fetching from upstream: ask again after `delay`.
    Wait {
        progress: UpstreamProgress,
        upstream: String,
        delay: Duration,
    },
}

/// Follows one source's "in progress" answers across asks.
pub(crate) struct MirrorWait {
    stall: Duration,
    /// The highest byte count seen.
    last: Option<u64>,
    since: Instant,
}

impl MirrorWait {
    /// A wait that gives up after `stall` without progress.
    pub(crate) fn new(stall: Duration) -> Self {
        Self {
            stall,
            last: None,
            since: Instant::now(),
        }
    }

    /// Judges an answer from `url` for content of `size` bytes.
    pub(crate) async fn judge(
        &mut self,
        url: &str,
        size: u64,
        resp: reqwest::Response,
    ) -> Result<Answer, FetchError> {
        let upstream = header(&resp, UPSTREAM_HEADER);
        let status = resp.status();
        if status == StatusCode::SERVICE_UNAVAILABLE
            && let Some(progress) =
                header(&resp, PROGRESS_HEADER).and_then(|v| UpstreamProgress::parse(&v))
        {
            let upstream = upstream.unwrap_or_else(|| "(not named)".to_owned());
            self.advance(url, size, &upstream, progress)?;
            let delay = retry_after(&resp).clamp(MIN_DELAY, MAX_DELAY.min(self.stall));
            return Ok(Answer::Wait {
                progress,
                upstream,
                delay,
            });
        }
        let gateway = status == StatusCode::BAD_GATEWAY || status == StatusCode::GATEWAY_TIMEOUT;
        match upstream {
            Some(upstream) if gateway => Err(FetchError::UpstreamFailed {
                url: url.to_owned(),
                upstream,
                cause: error_message(resp).await,
            }),
            _ => Ok(Answer::Ready(resp)),
        }
    }

    /// Notes the progress; an error once it has not grown past its highest
    /// value for the stall timeout. A claim beyond the file's size counts as
    /// no progress: a mirror cannot hold a client by inventing bytes.
    fn advance(
        &mut self,
        url: &str,
        size: u64,
        upstream: &str,
        progress: UpstreamProgress,
    ) -> Result<(), FetchError> {
        let grew = progress.received <= size && self.last.is_none_or(|l| progress.received > l);
        if grew {
            self.last = Some(progress.received);
            self.since = Instant::now();
            return Ok(());
        }
        if self.since.elapsed() < self.stall {
            return Ok(());
        }
        Err(FetchError::UpstreamStalled {
            url: url.to_owned(),
            upstream: upstream.to_owned(),
            secs: self.stall.as_secs(),
            received: self.last.unwrap_or(0),
            size,
        })
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    let value = resp.headers().get(name)?.to_str().ok()?;
    // Shown to people: keep it short and printable.
    Some(
        value
            .chars()
            .filter(|c| !c.is_control())
            .take(256)
            .collect(),
    )
}

/// `Retry-After` in seconds (an HTTP date is not worth honouring here).
fn retry_after(resp: &reqwest::Response) -> Duration {
    header(resp, RETRY_AFTER.as_str())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs)
}

/// The `{"error": …}` of a site mirror's answer, bounded; the status otherwise.
async fn error_message(mut resp: reqwest::Response) -> String {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let read = async {
        while body.len() < MAX_ERROR_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
    };
    // A short JSON line: a body slower than this is not worth waiting for.
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    body.truncate(MAX_ERROR_BODY);
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
        .map_or_else(
            || format!("HTTP {status}"),
            |m| m.chars().take(512).collect(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(received: u64) -> UpstreamProgress {
        UpstreamProgress {
            received,
            total: Some(100),
        }
    }

    #[test]
    fn waiting_lasts_while_the_count_grows_and_ends_a_stall_timeout_after_it_stops() {
        let mut wait = MirrorWait::new(Duration::from_millis(50));
        for received in [0, 10, 20] {
            wait.advance("u", 100, "hq", at(received)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(60));
        // Growth after a long pause is still progress.
        wait.advance("u", 100, "hq", at(21)).unwrap();
        // Going back, repeating, or claiming more than the file is not.
        for received in [5, 21, 500] {
            wait.advance("u", 100, "hq", at(received)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(60));
        let err = wait.advance("u", 100, "hq", at(500)).unwrap_err();
        assert!(
            matches!(
                err,
                FetchError::UpstreamStalled {
                    received: 21,
                    size: 100,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("site mirror u") && err.to_string().contains("upstream hq")
        );
    }
}
