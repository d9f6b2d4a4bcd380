//! The engine's typed errors: each names the tool, the file, the URL and the
//! cause, and says whether trying again can help. [`ErrorKind`] is the one
//! machine-readable class every layer reports.

mod fetch;
mod info;
mod kind;

use std::path::PathBuf;

pub use fetch::{FetchClass, FetchError};
pub use info::ErrorInfo;
pub use kind::{ErrorKind, ExitClass};

use crate::manifest::ManifestError;
use crate::signing::TrustError;

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// A mirror URL does not parse.
    #[error("mirror URL {url:?}: {source}")]
    MirrorUrl {
        /// The URL as given.
        url: String,
        /// The parser's complaint.
        #[source]
        source: url::ParseError,
    },
    /// A mirror URL of another scheme than http, https or file.
    #[error("mirror URL {url:?}: only http, https and file (an export tree) are supported")]
    MirrorScheme {
        /// The URL as given.
        url: String,
    },
    /// The `proxy` setting (or a proxy variable) is not a usable URL.
    #[error("proxy {url:?}: {source}")]
    Proxy {
        /// The URL as given.
        url: String,
        /// reqwest's complaint.
        #[source]
        source: reqwest::Error,
    },
    /// The `ca_cert` file cannot be read or holds no PEM certificate.
    #[error("ca_cert {path}: {cause}")]
    CaCert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        cause: String,
    },
    /// The `max_rate` setting does not parse.
    #[error(transparent)]
    Rate(#[from] crate::rate::RateError),
}

/// What is wrong with a corrupt state or installed-manifest file.
#[derive(Debug, thiserror::Error)]
pub enum CorruptCause {
    /// It cannot be read.
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// The state file is not the JSON it should be.
    #[error("{0}")]
    State(#[source] serde_json::Error),
    /// The stored manifest does not parse.
    #[error("{0}")]
    Manifest(#[source] ManifestError),
    /// The stored manifest's `manifest_hash` does not match its content.
    #[error("its manifest_hash does not match its content")]
    HashMismatch,
}

/// Why an engine operation failed. Every variant but `Setup` names the tool.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The engine could not be built (HTTP client, bad mirror URL).
    #[error("cannot set up the engine: {0}")]
    Setup(#[from] SetupError),
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
    #[error("{tool_id}: cannot fetch manifest: {source}")]
    ManifestFetch {
        /// The tool.
        tool_id: String,
        /// The last failure (which names the URL).
        #[source]
        source: Box<FetchError>,
    },
    /// The mirror does not have the tool (its catalog is listed).
    #[error("{}", crate::explain::missing_tool(tool_id, tools))]
    UnknownTool {
        /// The tool asked for.
        tool_id: String,
        /// The mirror asked.
        mirror: String,
        /// The tools it has.
        tools: Vec<String>,
    },
    /// The mirror has the tool but not the version asked for.
    #[error("{}", crate::explain::missing_version(tool_id, version, versions))]
    UnknownVersion {
        /// The tool.
        tool_id: String,
        /// The version asked for.
        version: String,
        /// The mirror asked.
        mirror: String,
        /// The versions it has.
        versions: Vec<String>,
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
    #[error("{tool_id}: {path} is corrupt: {source}")]
    Corrupt {
        /// The tool.
        tool_id: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: CorruptCause,
    },
    /// A channel document was refused (unsigned, unknown key, another tool,
    /// expired, replayed).
    #[error(transparent)]
    Channel(Box<crate::channel::ChannelError>),
    /// A version HQ has withdrawn was asked for (by name or by a mirror).
    #[error(
        "{tool_id}: version {version} is withdrawn by channel {channel} and is never installed"
    )]
    Withdrawn {
        /// The tool.
        tool_id: String,
        /// The withdrawn version.
        version: String,
        /// The channel whose signed document withdraws it.
        channel: String,
    },
    /// The channel offers this workstation nothing (outside the rollout,
    /// no `previous`) and nothing is installed.
    #[error(
        "{tool_id}: channel {channel} offers {offered} to other workstations only (outside the rollout, no previous version)"
    )]
    NotInRollout {
        /// The tool.
        tool_id: String,
        /// The channel.
        channel: String,
        /// The version it offers.
        offered: String,
    },
    /// A technician holds the tool; updates leave it alone.
    #[error("{tool_id}: held at {version}; `tooldelta unhold {tool_id}` releases it")]
    Held {
        /// The tool.
        tool_id: String,
        /// The version it is held at.
        version: String,
    },
    /// Another updater holds this tool's lock.
    #[error("{tool_id}: another tooldelta process is updating this tool (lock {path} held)")]
    Locked {
        /// The tool.
        tool_id: String,
        /// The lock file.
        path: PathBuf,
    },
    /// Running jobs hold the tool's in-use lock: the switch is deferred and
    /// the downloaded version stays pending.
    #[error(
        "{tool_id}: switch to {version} deferred: the tool is in use (running jobs hold {path}); {version} stays downloaded"
    )]
    InUse {
        /// The tool.
        tool_id: String,
        /// The version waiting to be switched to.
        version: String,
        /// The in-use lock file.
        path: PathBuf,
    },
    /// `activate` found nothing (or not everything) downloaded.
    #[error("{}", crate::explain::not_downloaded(tool_id, version.as_deref(), missing))]
    NotDownloaded {
        /// The tool.
        tool_id: String,
        /// The pending version, when one is recorded.
        version: Option<String>,
        /// Paths of its files whose content is missing from the store.
        missing: Vec<String>,
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
    /// A release is damaged and neither the store nor a mirror holds a good
    /// copy of these files; nothing was switched.
    #[error(
        "{tool_id}: release {version} is damaged and no good copy of {files_list} is reachable (the local store's copy is damaged or gone{mirror_hint}); nothing was switched",
        files_list = files.join(", "),
        mirror_hint = if cause.is_some() { "; the mirror could not serve it" } else { "; pass --mirror URL to fetch it" }
    )]
    NoGoodCopy {
        /// The tool.
        tool_id: String,
        /// The damaged release.
        version: String,
        /// Its files that could not be put back.
        files: Vec<String>,
        /// Why the mirror could not help, when one was tried.
        #[source]
        cause: Option<Box<UpdateError>>,
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

impl From<crate::channel::ChannelError> for UpdateError {
    fn from(e: crate::channel::ChannelError) -> Self {
        Self::Channel(Box::new(e))
    }
}

impl UpdateError {
    /// The machine-readable class (`trust`, `integrity`, `network`, `disk_full`, …).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Setup(_)
            | Self::NoMirror { .. }
            | Self::BadToolId { .. }
            | Self::UnknownTool { .. }
            | Self::UnknownVersion { .. }
            | Self::NotInRollout { .. }
            | Self::Held { .. } => ErrorKind::Usage,
            Self::ManifestFetch { source, .. } => match source.kind() {
                ErrorKind::Certificate => ErrorKind::Certificate,
                _ => ErrorKind::Network,
            },
            Self::Trust(_)
            | Self::VersionChanged { .. }
            | Self::Channel(_)
            | Self::Withdrawn { .. } => ErrorKind::Trust,
            Self::Fetch { source, .. } => source.kind(),
            Self::DiskFull { .. } => ErrorKind::DiskFull,
            Self::Io { .. } => ErrorKind::Io,
            Self::Corrupt { .. } => ErrorKind::Corrupt,
            Self::Locked { .. } => ErrorKind::Locked,
            Self::InUse { .. } => ErrorKind::InUse,
            Self::NotDownloaded { .. } => ErrorKind::NotDownloaded,
            Self::NotInstalled { .. } => ErrorKind::NotInstalled,
            Self::NoPreviousRelease { .. } => ErrorKind::NoPreviousRelease,
            Self::NoGoodCopy { .. } => ErrorKind::Integrity,
            Self::Cancelled { .. } => ErrorKind::Cancelled,
        }
    }

    /// Whether trying the same operation again later can help.
    pub fn retryable(&self) -> bool {
        match self {
            Self::ManifestFetch { source, .. } | Self::Fetch { source, .. } => {
                source.is_transient()
            }
            Self::Locked { .. }
            | Self::InUse { .. }
            | Self::Cancelled { .. }
            | Self::DiskFull { .. } => true,
            _ => false,
        }
    }

    /// The error as renderers and the UI see it.
    pub fn info(&self) -> ErrorInfo {
        let e = crate::explain::explain(self);
        ErrorInfo {
            kind: self.kind(),
            message: e.line,
            retryable: self.retryable(),
            chain: e.chain,
            hint: self.hint().or(e.hint),
        }
    }

    /// What to try next, when this is one of the usual mistakes (shown as
    /// the line under the error by the CLI and the app).
    pub fn hint(&self) -> Option<String> {
        use crate::explain::{RootCause, classify, for_root};
        match self {
            Self::ManifestFetch { source, .. } | Self::Fetch { source, .. } => source.hint(),
            Self::Io { path, source, .. } => for_root(classify(source), None, Some(path)),
            Self::DiskFull { path, .. } => Some(format!(
                "free space in {} (`tooldelta status` lists kept releases), or choose another --root",
                path.display()
            )),
            Self::Locked { .. } => Some(
                "wait for the other update or repair to finish (`tooldelta status` shows it running); the lock is released when that process ends".to_owned(),
            ),
            Self::InUse { tool_id, .. } => Some(format!(
                "the switch happens when the jobs end: `tooldelta activate {tool_id}` (or the agent's next cycle) applies it with no download"
            )),
            Self::NotDownloaded { tool_id, .. } => Some(format!(
                "download it first: `tooldelta update {tool_id} --download-only`"
            )),
            Self::UnknownTool { mirror, .. } => Some(format!(
                "check the tool id (`curl {mirror}api/v1/tools` lists the mirror's catalog)"
            )),
            Self::UnknownVersion { .. } => {
                Some("pick one of those versions, or leave out --version for the latest".to_owned())
            }
            Self::NotInstalled { tool_id, .. } => Some(format!(
                "install it first: `tooldelta update {tool_id} --mirror URL --trust PUB.pem`"
            )),
            Self::Trust(t) => t.hint(),
            Self::Setup(e) if e.to_string().contains("only http and https") => Some(
                "serve the export over HTTP (any static server, e.g. the nginx config in docs/nginx.conf) and pass its http:// URL".to_owned(),
            ),
            _ => match classify(self) {
                RootCause::Other => None,
                root => for_root(root, None, None),
            },
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

    pub(crate) fn corrupt(
        tool_id: &str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(CorruptCause) -> Self {
        let tool_id = tool_id.to_owned();
        let path = path.into();
        move |source| Self::Corrupt {
            tool_id,
            path,
            source,
        }
    }
}
