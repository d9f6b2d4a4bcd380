//! [`ErrorKind`]: the one machine-readable class of every error the engine,
//! the CLI (`--json`), the desktop app and its UI report. TypeScript sees it
//! as a union of string literals (ts-rs), never as a free `string`.

use serde::{Deserialize, Serialize};

/// What kind of failure an error is, and so what can help.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request itself is wrong (bad tool id, no mirror, bad mirror URL).
    Usage,
    /// A command-line argument or input file the binary could not use.
    Input,
    /// The settings could not be read or written.
    Config,
    /// Settings entered in the app do not hold (bad URL, missing key file).
    InvalidSettings,
    /// A mirror could not be reached or answered badly.
    Network,
    /// A server's TLS certificate is not trusted (unknown or private CA,
    /// expired, issued for another name): `ca_cert` or the mirror's operator helps.
    Certificate,
    /// A manifest is not trusted (signature, tool, version, rollback, expiry).
    Trust,
    /// Content does not match its manifest.
    Integrity,
    /// A local file operation failed.
    Io,
    /// Not enough free disk space.
    DiskFull,
    /// A state or installed-manifest file is unreadable.
    Corrupt,
    /// Another updater holds the tool's lock.
    Locked,
    /// The app already runs an operation on this tool.
    Busy,
    /// Running jobs hold the tool's in-use lock: the switch is deferred.
    InUse,
    /// `activate` found no downloaded version (or missing content).
    NotDownloaded,
    /// The tool has no active release.
    NotInstalled,
    /// No earlier release is kept to roll back to.
    NoPreviousRelease,
    /// The operation was cancelled; nothing changed.
    Cancelled,
    /// The desktop app's own update failed.
    AppUpdate,
    /// The UI could not reach the app process.
    Ipc,
    /// An operation stopped unexpectedly (a bug).
    Internal,
}

/// The exit-code classes of the command line (issue 19 maps each to a code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitClass {
    /// Wrong arguments, settings or state of the request.
    Usage,
    /// A manifest was refused.
    Trust,
    /// No mirror could serve.
    Network,
    /// Content or stored data does not match its manifest.
    Integrity,
    /// The local disk or file system failed.
    LocalIo,
    /// Another process holds the tool, or the run was stopped.
    Locked,
}

impl ErrorKind {
    /// The stable snake_case name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Input => "input",
            Self::Config => "config",
            Self::InvalidSettings => "invalid_settings",
            Self::Network => "network",
            Self::Certificate => "certificate",
            Self::Trust => "trust",
            Self::Integrity => "integrity",
            Self::Io => "io",
            Self::DiskFull => "disk_full",
            Self::Corrupt => "corrupt",
            Self::Locked => "locked",
            Self::Busy => "busy",
            Self::InUse => "in_use",
            Self::NotDownloaded => "not_downloaded",
            Self::NotInstalled => "not_installed",
            Self::NoPreviousRelease => "no_previous_release",
            Self::Cancelled => "cancelled",
            Self::AppUpdate => "app_update",
            Self::Ipc => "ipc",
            Self::Internal => "internal",
        }
    }

    /// Whether the same operation, tried again later, may succeed (the
    /// network recovers, the lock is released, space is freed).
    pub fn retry_may_help(self) -> bool {
        matches!(
            self,
            Self::Network
                | Self::Locked
                | Self::InUse
                | Self::Busy
                | Self::Cancelled
                | Self::DiskFull
                | Self::Ipc
        )
    }

    /// Whether another mirror may succeed where this one failed (uv's
    /// `should_try_next_url`): it may be reachable, or not tampered with.
    pub fn another_mirror_may_help(self) -> bool {
        matches!(
            self,
            Self::Network | Self::Certificate | Self::Integrity | Self::Trust
        )
    }

    /// The exit-code class of the command line.
    pub fn exit_class(self) -> ExitClass {
        match self {
            Self::Usage
            | Self::Input
            | Self::Config
            | Self::InvalidSettings
            | Self::NotInstalled
            | Self::NotDownloaded
            | Self::NoPreviousRelease => ExitClass::Usage,
            Self::Trust => ExitClass::Trust,
            Self::Network | Self::Certificate | Self::AppUpdate => ExitClass::Network,
            Self::Integrity | Self::Corrupt => ExitClass::Integrity,
            Self::Io | Self::DiskFull | Self::Ipc | Self::Internal => ExitClass::LocalIo,
            Self::Locked | Self::InUse | Self::Busy | Self::Cancelled => ExitClass::Locked,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets callers and tests compare a kind with its JSON name.
impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_name_is_the_display_name() {
        for kind in [
            ErrorKind::DiskFull,
            ErrorKind::NoPreviousRelease,
            ErrorKind::Ipc,
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn integrity_failures_send_to_another_mirror_but_are_not_retried() {
        assert!(ErrorKind::Integrity.another_mirror_may_help());
        assert!(!ErrorKind::Integrity.retry_may_help());
        assert!(ErrorKind::Network.retry_may_help());
        assert!(!ErrorKind::Usage.another_mirror_may_help());
        assert_eq!(ErrorKind::DiskFull.exit_class(), ExitClass::LocalIo);
        assert_eq!(ErrorKind::Locked.exit_class(), ExitClass::Locked);
    }
}
