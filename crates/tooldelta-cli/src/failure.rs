//! How a failed command ends: its error as one line naming the root cause, a
//! hint on the next line when one is known, the causes the line does not say,
//! `{"error": {…}}` on stdout under `--json`, and an exit code per class.
//!
//! | exit | class |
//! |---|---|
//! | 0 | success |
//! | 1 | a check found problems (`verify`: bad files; `inspect`: a refused manifest), or an error of no other class |
//! | 2 | usage: a flag, setting, tool id or version that cannot work |
//! | 3 | network: no mirror reachable, an HTTP error, a stalled download |
//! | 4 | trust: signature, key, expiry, rollback, a changed release |
//! | 5 | integrity: content that does not match its manifest |
//! | 6 | local I/O: permissions, a full disk, an unreadable file or state |
//! | 7 | locked: another tooldelta process holds the tool |
//! | 130 | cancelled (Ctrl-C) |

use std::process::ExitCode;

use serde::Serialize;
use tooldelta_core::UpdateError;
use tooldelta_core::error::{ErrorKind, ExitClass};
use tooldelta_core::explain::{Explained, RootCause, classify, explain, for_root};
use tooldelta_core::manifest::ManifestError;
use tooldelta_core::signing::KeyError;

use crate::output;

/// The error classes of the exit-code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Anything not classified below.
    Other,
    /// Flags, settings, ids.
    Usage,
    /// The mirror could not be reached or answered an error.
    Network,
    /// A manifest is not trusted.
    Trust,
    /// Content does not match its manifest.
    Integrity,
    /// Local files, permissions, disk space.
    Io,
    /// Another process holds the tool's lock.
    Locked,
    /// Interrupted.
    Cancelled,
}

impl Class {
    /// The class of an error kind (its exit class; Ctrl-C apart).
    pub fn of(kind: ErrorKind) -> Self {
        if kind == ErrorKind::Cancelled {
            return Self::Cancelled;
        }
        match kind.exit_class() {
            ExitClass::Usage => Self::Usage,
            ExitClass::Trust => Self::Trust,
            ExitClass::Network => Self::Network,
            ExitClass::Integrity => Self::Integrity,
            ExitClass::LocalIo => Self::Io,
            ExitClass::Locked => Self::Locked,
        }
    }

    /// The documented exit code of the class.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Other => 1,
            Self::Usage => 2,
            Self::Network => 3,
            Self::Trust => 4,
            Self::Integrity => 5,
            Self::Io => 6,
            Self::Locked => 7,
            Self::Cancelled => 130,
        }
    }
}

/// The `{"error": …}` object of a `--json` run.
#[derive(Debug, Serialize)]
struct JsonError<'a> {
    message: &'a str,
    kind: ErrorKind,
    class: Class,
    exit_code: u8,
    retryable: bool,
    chain: &'a [String],
    hint: Option<&'a str>,
}

/// An error as the CLI reports it.
struct Shown {
    explained: Explained,
    kind: ErrorKind,
    class: Class,
    retryable: bool,
}

impl Shown {
    fn of(err: &anyhow::Error) -> Self {
        let mut explained = explain(err.as_ref());
        if let Some(e) = err.downcast_ref::<UpdateError>() {
            explained.hint = e.hint().or(explained.hint);
            return Self {
                explained,
                class: Class::of(e.kind()),
                kind: e.kind(),
                retryable: e.retryable(),
            };
        }
        if let Some(e) = err.downcast_ref::<tooldelta_core::fleet::ReportError>() {
            return Self {
                explained,
                class: Class::of(e.kind()),
                kind: e.kind(),
                retryable: e.retryable(),
            };
        }
        // A manifest that does not parse is `inspect`'s verdict (CONTRACT §2: exit 1).
        if err.downcast_ref::<ManifestError>().is_some() {
            return Self {
                explained,
                kind: ErrorKind::Input,
                class: Class::Other,
                retryable: false,
            };
        }
        let class = match err.downcast_ref::<KeyError>() {
            Some(KeyError::Io { path, source }) => {
                explained.hint = for_root(classify(source), None, Some(path)).or(explained.hint);
                Class::Io
            }
            Some(KeyError::Pem { .. }) => Class::Usage,
            None => match classify(err.as_ref()) {
                RootCause::PermissionDenied
                | RootCause::NotADirectory
                | RootCause::IsADirectory
                | RootCause::NoSpace => Class::Io,
                _ => Class::Usage,
            },
        };
        let kind = match class {
            Class::Io => ErrorKind::Io,
            _ => ErrorKind::Input,
        };
        Self {
            explained,
            kind,
            class,
            retryable: false,
        }
    }
}

/// Reports a failed command and returns its exit code.
pub fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    let shown = Shown::of(err);
    let e = &shown.explained;
    eprintln!("tooldelta: error: {}", e.line);
    if let Some(hint) = &e.hint {
        eprintln!("  hint: {hint}");
    }
    for cause in e.extra_causes() {
        eprintln!("  caused by: {cause}");
    }
    tracing::debug!(error = %e, "command failed");
    let code = shown.class.exit_code();
    if json {
        let _ = output::print_json(&serde_json::json!({ "error": JsonError {
            message: &e.line,
            kind: shown.kind,
            class: shown.class,
            exit_code: code,
            retryable: shown.retryable,
            chain: &e.chain,
            hint: e.hint.as_deref(),
        } }));
    }
    ExitCode::from(code)
}
