//! [`ErrorInfo`]: an error as renderers, logs and the UI see it. It lives
//! with the errors (not with the events that carry it) so that `error`
//! depends on nothing above it.

use serde::{Deserialize, Serialize};

use super::ErrorKind;

/// An error as renderers and the UI see it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The machine-readable class, e.g. `integrity`, `network`, `trust`.
    pub kind: ErrorKind,
    /// One line naming the tool, the file, the URL and the cause.
    pub message: String,
    /// Whether trying again later can help.
    pub retryable: bool,
    /// Every distinct cause below the message, outermost first, each once.
    #[serde(default)]
    pub chain: Vec<String>,
    /// What to try next, when the cause is a usual mistake.
    #[serde(default)]
    pub hint: Option<String>,
}

impl ErrorInfo {
    /// An error that is only a message (no cause chain, no hint).
    pub fn new(kind: ErrorKind, message: impl Into<String>, retryable: bool) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable,
            chain: Vec::new(),
            hint: None,
        }
    }

    /// An error value explained (its line, chain and hint), after `context: `.
    pub fn explained(
        kind: ErrorKind,
        context: &str,
        err: &(dyn std::error::Error + 'static),
        retryable: bool,
    ) -> Self {
        let e = crate::explain::explain(err);
        Self {
            kind,
            message: format!("{context}: {}", e.line),
            retryable,
            chain: e.chain,
            hint: e.hint,
        }
    }
}
