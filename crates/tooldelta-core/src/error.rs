//! The engine's typed errors: each names the tool, the file, the URL and the
//! cause, and says whether trying again can help.

use std::path::PathBuf;

use crate::events::ErrorInfo;
use crate::signing::TrustError;

/// Why one file could not be fetched from one source (a URL).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No connection, or no response headers.
    #[error("cannot reach {url}: {cause}")]
    Connect {
        /// The URL.
        url: String,
        /// The transport's complaint.
        cause: String,
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
    #[error("download from {url} broke off after {received} bytes: {cause}")]
    Body {
        /// The URL.
        url: String,
        /// Bytes of the file present when it broke off.
        received: u64,
        /// The transport's complaint.
        cause: String,
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
            Self::Connect { .. } | Self::Status { .. } => FetchClass::NextSource,
            Self::Integrity { .. } | Self::TooLong { .. } => FetchClass::Integrity,
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
            | Self::TooLong { url, .. } => Some(url),
            Self::Io { .. } | Self::Cancelled => None,
        }
    }

    /// Whether the same source could answer later (5xx, broken body, stall).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::Connect { .. } | Self::Body { .. } | Self::Stalled { .. } => true,
            _ => false,
        }
    }
}

/// Why an engine operation failed. Every variant but `Setup` names the tool.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The engine could not be built (HTTP client, bad mirror URL).
    #[error("cannot set up the engine: {cause}")]
    Setup {
        /// What went wrong.
        cause: String,
    },
    /// No mirror was configured for an operation that needs one.
    #[error("{tool_id}: no mirror configured (pass --mirror URL)")]
    NoMirror {
        /// The tool.
        tool_id: String,
    },
    /// Not a valid tool id (CONTRACT §1).
    #[error("{tool_id:?} is not a valid tool id")]
    BadToolId {
        /// What was asked for.
        tool_id: String,
    },
    /// The manifest could not be fetched from any mirror.
    #[error("{tool_id}: cannot fetch manifest {url}: {cause}")]
    ManifestFetch {
        /// The tool.
        tool_id: String,
        /// The last URL tried.
        url: String,
        /// Why.
        cause: String,
        /// Whether a later try could succeed.
        retryable: bool,
    },
    /// The manifest is not trusted (signature, tool, version, rollback, expiry, rules).
    #[error(transparent)]
    Trust(Box<TrustError>),
    /// A file could not be fetched from any source.
    #[error("{tool_id}: file {path}: {source}")]
    Fetch {
        /// The tool.
        tool_id: String,
        /// The file's path in the release.
        path: String,
        /// The last (or most telling) failure.
        #[source]
        source: Box<FetchError>,
    },
    /// Not enough free space for the download.
    #[error("{tool_id}: not enough disk space in {path}: {needed} bytes needed, {free} bytes free")]
    DiskFull {
        /// The tool.
        tool_id: String,
        /// The folder downloads go to.
        path: PathBuf,
        /// Bytes the update needs.
        needed: u64,
        /// Bytes available.
        free: u64,
    },
    /// A local file operation failed.
    #[error("{tool_id}: cannot {op} {path}: {source}")]
    Io {
        /// The tool.
        tool_id: String,
        /// What was being done (`create`, `rename`, `fsync`, …).
        op: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A state or installed-manifest file is unreadable.
    #[error("{tool_id}: {path} is corrupt: {cause}")]
    Corrupt {
        /// The tool.
        tool_id: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        cause: String,
    },
    /// Another updater holds this tool's lock.
    #[error("{tool_id}: another tooldelta process is updating this tool (lock {path} held)")]
    Locked {
        /// The tool.
        tool_id: String,
        /// The lock file.
        path: PathBuf,
    },
    /// The tool has no active release.
    #[error("{tool_id}: not installed under {root}")]
    NotInstalled {
        /// The tool.
        tool_id: String,
        /// The install root.
        root: PathBuf,
    },
    /// No earlier release is kept to roll back to.
    #[error("{tool_id}: no previous release is kept to roll back to (active: {active})")]
    NoPreviousRelease {
        /// The tool.
        tool_id: String,
        /// The active version.
        active: String,
    },
    /// The same version is installed with another manifest: a released version changed.
    #[error(
        "{tool_id}: version {version} is installed with manifest_hash {installed}, but the mirror now serves {offered} for it (a released version must never change)"
    )]
    VersionChanged {
        /// The tool.
        tool_id: String,
        /// The version.
        version: String,
        /// The hash installed.
        installed: String,
        /// The hash offered.
        offered: String,
    },
    /// The operation was cancelled; `current` is unchanged.
    #[error("{tool_id}: cancelled; the active release is unchanged")]
    Cancelled {
        /// The tool.
        tool_id: String,
    },
}

impl From<TrustError> for UpdateError {
    fn from(e: TrustError) -> Self {
        Self::Trust(Box::new(e))
    }
}

impl UpdateError {
    /// A stable machine-readable class (`trust`, `integrity`, `network`, `disk_full`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Setup { .. } | Self::NoMirror { .. } | Self::BadToolId { .. } => "usage",
            Self::ManifestFetch { .. } => "network",
            Self::Trust(_) | Self::VersionChanged { .. } => "trust",
            Self::Fetch { source, .. } => match source.class() {
                FetchClass::Integrity => "integrity",
                FetchClass::Fatal if matches!(**source, FetchError::Cancelled) => "cancelled",
                FetchClass::Fatal => "io",
                FetchClass::Retry | FetchClass::NextSource => "network",
            },
            Self::DiskFull { .. } => "disk_full",
            Self::Io { .. } => "io",
            Self::Corrupt { .. } => "corrupt",
            Self::Locked { .. } => "locked",
            Self::NotInstalled { .. } => "not_installed",
            Self::NoPreviousRelease { .. } => "no_previous_release",
            Self::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether trying the same operation again later can help.
    pub fn retryable(&self) -> bool {
        match self {
            Self::ManifestFetch { retryable, .. } => *retryable,
            Self::Fetch { source, .. } => source.is_transient(),
            Self::Locked { .. } | Self::Cancelled { .. } | Self::DiskFull { .. } => true,
            _ => false,
        }
    }

    /// The error as renderers and the UI see it.
    pub fn info(&self) -> ErrorInfo {
        ErrorInfo {
            kind: self.kind().to_owned(),
            message: self.to_string(),
            retryable: self.retryable(),
        }
    }

    pub(crate) fn io(
        tool_id: &str,
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let tool_id = tool_id.to_owned();
        let path = path.into();
        move |source| Self::Io {
            tool_id,
            op,
            path,
            source,
        }
    }
}
