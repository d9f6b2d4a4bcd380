//! Why one file could not be fetched from one source, and what to do next.

use std::path::PathBuf;

use super::ErrorInfo;
use super::ErrorKind;
use crate::explain::Cause;

/// Why one file could not be fetched from one source (a URL).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No connection, or no response headers.
    #[error("cannot reach {url}")]
    Connect {
        /// The URL.
        url: String,
        /// The transport's complaint.
        #[source]
        source: Cause,
    },
    /// An HTTP status that is not a success.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body broke off.
    #[error("download from {url} broke off after {received} bytes")]
    Body {
        /// The URL.
        url: String,
        /// Bytes of the file present when it broke off.
        received: u64,
        /// The transport's complaint.
        #[source]
        source: Cause,
    },
    /// No byte arrived for the stall timeout.
    #[error("download from {url} stalled: no byte for {secs} s at {received} bytes")]
    Stalled {
        /// The URL.
        url: String,
        /// The stall timeout.
        secs: u64,
        /// Bytes of the file present when it stalled.
        received: u64,
    },
    /// The content is not what the manifest says. Never retried at the same source.
    #[error(
        "integrity failure from {url}: expected sha256 {expected_sha256} ({expected_size} bytes), got {actual_sha256} ({actual_size} bytes)"
    )]
    Integrity {
        /// The URL (which names the mirror).
        url: String,
        /// From the manifest.
        expected_sha256: String,
        /// What arrived.
        actual_sha256: String,
        /// From the manifest.
        expected_size: u64,
        /// What arrived.
        actual_size: u64,
    },
    /// The server sent more bytes than the manifest's size (endless data).
    #[error("{url} sent more than the {limit} bytes the manifest lists (endless data refused)")]
    TooLong {
        /// The URL.
        url: String,
        /// The manifest size.
        limit: u64,
    },
    /// A manifest larger than [`MAX_MANIFEST_BYTES`](crate::manifest::MAX_MANIFEST_BYTES).
    #[error("{url} is larger than {limit} bytes (endless data refused)")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// A chunk index that hashes as the manifest says but does not describe
    /// the file (bound to another file, lengths that do not add up, …).
    #[error("chunk index from {url} refused: {cause}")]
    BadIndex {
        /// The URL it came from.
        url: String,
        /// What is wrong with it.
        cause: String,
    },
    /// A site mirror is fetching the content from its upstream, and that
    /// fetch made no progress for the stall timeout.
    #[error(
        "site mirror {url} is fetching this from its upstream {upstream}, which made no progress for {secs} s (at {received} of {size} bytes)"
    )]
    UpstreamStalled {
        /// The URL asked (which names the site mirror).
        url: String,
        /// The site mirror's upstream, as it names it.
        upstream: String,
        /// How long the fetch showed no progress.
        secs: u64,
        /// Bytes the site mirror had received from upstream.
        received: u64,
        /// The file's size.
        size: u64,
    },
    /// A site mirror could not fetch the content from its upstream.
    #[error("site mirror {url} could not fetch this from its upstream {upstream}: {cause}")]
    UpstreamFailed {
        /// The URL asked (which names the site mirror).
        url: String,
        /// The site mirror's upstream, as it names it.
        upstream: String,
        /// What the site mirror said.
        cause: String,
    },
    /// A local file could not be written: no other source helps.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The local file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// What to do after a [`FetchError`] (uv's retry classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchClass {
    /// Try the same source again (resuming).
    Retry,
    /// This source cannot help now; try the next one.
    NextSource,
    /// This source served bad bytes; try the next one, never this one again.
    Integrity,
    /// Stop: no source can help (local disk, cancellation).
    Fatal,
}

impl FetchError {
    /// The class that decides what the fetcher does next.
    pub fn class(&self) -> FetchClass {
        match self {
            Self::Body { .. } | Self::Stalled { .. } => FetchClass::Retry,
            Self::Connect { .. }
            | Self::Status { .. }
            | Self::UpstreamStalled { .. }
            | Self::UpstreamFailed { .. } => FetchClass::NextSource,
            Self::Integrity { .. }
            | Self::TooLong { .. }
            | Self::TooLarge { .. }
            | Self::BadIndex { .. } => FetchClass::Integrity,
            Self::Io { .. } | Self::Cancelled => FetchClass::Fatal,
        }
    }

    /// The URL this error is about, if any.
    pub fn url(&self) -> Option<&str> {
        match self {
            Self::Connect { url, .. }
            | Self::Status { url, .. }
            | Self::Body { url, .. }
            | Self::Stalled { url, .. }
            | Self::Integrity { url, .. }
            | Self::TooLong { url, .. }
            | Self::TooLarge { url, .. }
            | Self::BadIndex { url, .. }
            | Self::UpstreamStalled { url, .. }
            | Self::UpstreamFailed { url, .. } => Some(url),
            Self::Io { .. } | Self::Cancelled => None,
        }
    }

    /// The error's kind, as reported.
    pub fn kind(&self) -> ErrorKind {
        match self.class() {
            FetchClass::Integrity => ErrorKind::Integrity,
            FetchClass::Fatal if matches!(self, Self::Cancelled) => ErrorKind::Cancelled,
            FetchClass::Fatal => ErrorKind::Io,
            FetchClass::NextSource
                if matches!(self, Self::Connect { .. })
                    && crate::explain::classify(self) == crate::explain::RootCause::Certificate =>
            {
                ErrorKind::Certificate
            }
            FetchClass::Retry | FetchClass::NextSource => ErrorKind::Network,
        }
    }

    /// The error as renderers see it, for a file of a tool (a `file_failed`
    /// event); the same message an [`UpdateError::Fetch`](super::UpdateError::Fetch) carries.
    pub fn info_for(&self, tool_id: &str, path: &str) -> ErrorInfo {
        let e = crate::explain::explain(self);
        ErrorInfo {
            kind: self.kind(),
            message: format!("{tool_id}: file {path}: {}", e.line),
            retryable: self.is_transient(),
            chain: e.chain,
            hint: self.hint().or(e.hint),
        }
    }

    /// Whether the same source could answer later (5xx, broken body, stall).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::Connect { .. }
            | Self::Body { .. }
            | Self::Stalled { .. }
            | Self::UpstreamFailed { .. } => true,
            _ => false,
        }
    }
}

impl FetchError {
    /// A body from `url` that stopped after `received` bytes of an object
    /// of `size` bytes.
    pub(crate) fn from_stream(
        err: crate::stream::StreamError,
        url: &str,
        received: u64,
        size: u64,
    ) -> Self {
        use crate::stream::StreamError;
        let url = url.to_owned();
        match err {
            StreamError::Cancelled => Self::Cancelled,
            StreamError::Stalled(after) => Self::Stalled {
                url,
                secs: after.as_secs(),
                received,
            },
            StreamError::TooLong(_) => Self::TooLong { url, limit: size },
            StreamError::Transport(e) => Self::Body {
                url,
                received,
                source: Cause::new(e),
            },
        }
    }

    /// What to try next after this failure, if anything is known.
    pub fn hint(&self) -> Option<String> {
        use crate::explain::{classify, for_root};
        match self {
            Self::Io { path, source } => for_root(classify(source), None, Some(path)),
            Self::TooLarge { url, .. } => Some(format!(
                "the server behind {url} sends an oversized or endless manifest: it is broken or hostile; tell its operator, or try another --mirror"
            )),
            Self::Integrity { url, .. }
            | Self::TooLong { url, .. }
            | Self::BadIndex { url, .. } => Some(format!(
                "the server behind {url} serves bytes that do not match the signed manifest: its store is damaged or the content was tampered with; tell its operator, or try another --mirror"
            )),
            Self::Stalled { url, secs, .. } => Some(format!(
                "{url} stopped sending for {secs} s: check the mirror's load and the network; a later run resumes where this one stopped"
            )),
            Self::Status { url, status } => status_hint(url, *status),
            Self::UpstreamStalled { upstream, .. } | Self::UpstreamFailed { upstream, .. } => {
                Some(format!(
                    "the site mirror only serves content it has verified, and its link to {upstream} is down or stuck: check that link (or the upstream's log), or give --mirror {upstream} directly"
                ))
            }
            Self::Connect { url, .. } | Self::Body { url, .. } => {
                for_root(classify(self), Some(url), None)
            }
            Self::Cancelled => None,
        }
    }
}

/// What an HTTP error status from a mirror suggests.
fn status_hint(url: &str, status: u16) -> Option<String> {
    let at = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)));
    let at = at.as_deref().unwrap_or(url);
    match status {
        500..=599 => Some(format!(
            "the mirror at {at} is up but answered {status}: look at its log (or its upstream's); a later run may succeed"
        )),
        404 => Some(format!(
            "the mirror at {at} does not have this: check the URL, or import the release on the mirror again"
        )),
        401 | 403 => Some(format!(
            "the mirror at {at} refused access ({status}): check its access rules or a proxy in between"
        )),
        _ => None,
    }
}
