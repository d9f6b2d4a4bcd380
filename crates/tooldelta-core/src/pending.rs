//! The "still fetching from upstream" answer of a pull-through mirror,
//! written once for the mirror that sends it and the client that reads it.
//!
//! A site mirror that lacks a blob fetches it from its upstream, and only
//! serves it once it is verified (never unverified bytes under the immutable
//! `ETag`). While that fetch runs it answers requests for the blob promptly
//! with `503 Service Unavailable`, `Retry-After`, [`PROGRESS_HEADER`]
//! (`received/total`, like the tail of a `Content-Range`) and
//! [`UPSTREAM_HEADER`] (the upstream's base URL), so a client can wait as long
//! as the fetch advances instead of timing out on a silent connection.
//! When the upstream fetch fails, the mirror's `502` carries
//! [`UPSTREAM_HEADER`] too.

use std::time::Duration;

/// `received/total` of a running pull-through fetch (`received/*` when the
/// total is not known).
pub const PROGRESS_HEADER: &str = "tooldelta-upstream-progress";

/// The base URL of the mirror's upstream (credentials never included).
pub const UPSTREAM_HEADER: &str = "tooldelta-upstream";

/// How long a mirror holds a request for a blob being fetched before it
/// answers "in progress" (a small blob is served at once instead).
pub const HOLD: Duration = Duration::from_secs(1);

/// What a mirror sends in `Retry-After` (seconds) with the "in progress" answer.
pub const RETRY_AFTER_SECS: u64 = 1;

/// How far a running pull-through fetch has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamProgress {
    /// Bytes received from upstream so far.
    pub received: u64,
    /// The blob's size, when known.
    pub total: Option<u64>,
}

impl UpstreamProgress {
    /// The [`PROGRESS_HEADER`] value: `received/total` or `received/*`.
    pub fn header_value(&self) -> String {
        match self.total {
            Some(total) => format!("{}/{total}", self.received),
            None => format!("{}/*", self.received),
        }
    }

    /// Parses a [`PROGRESS_HEADER`] value; `None` if it is malformed.
    pub fn parse(value: &str) -> Option<Self> {
        let (received, total) = value.trim().split_once('/')?;
        let received = received.parse().ok()?;
        let total = match total {
            "*" => None,
            n => Some(n.parse().ok()?),
        };
        Some(Self { received, total })
    }

    /// Whole percent done (capped at 100), when the total is known.
    pub fn percent(&self) -> Option<u64> {
        let total = self.total.filter(|t| *t > 0)?;
        Some((u128::from(self.received) * 100 / u128::from(total)).min(100) as u64)
    }
}

/// A URL for messages and headers: scheme, host, port and path, never the
/// user name or password.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "(unparseable upstream URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_round_trips_and_refuses_garbage() {
        for p in [
            UpstreamProgress {
                received: 37,
                total: Some(100),
            },
            UpstreamProgress {
                received: 5,
                total: None,
            },
        ] {
            assert_eq!(UpstreamProgress::parse(&p.header_value()), Some(p));
        }
        for bad in ["", "12", "a/3", "1/b", "-1/2"] {
            assert_eq!(UpstreamProgress::parse(bad), None, "{bad:?}");
        }
        let p = UpstreamProgress::parse("37/100").unwrap();
        assert_eq!(p.percent(), Some(37));
        assert_eq!(UpstreamProgress::parse("5/*").unwrap().percent(), None);
    }

    #[test]
    fn credentials_never_leave_in_the_upstream_url() {
        assert_eq!(
            redact_url("https://user:secret@hq.example:8443/mirror/"),
            "https://hq.example:8443/mirror"
        );
    }
}
