//! Errors as a person reads them: one line that names the root cause, every
//! cause of the `source()` chain once, and a hint on what to try next.
//!
//! Transport errors nest deeply (`error sending request` → `client error
//! (Connect)` → `tcp connect error` → `Connection refused`), and library errors
//! often print their source in their own message too (`key file K: Permission
//! denied` whose source is `Permission denied`). [`explain`] walks the chain,
//! keeps a cause only if no earlier line already says it, and classifies the
//! root (refused, name resolution, TLS, timeout, permission, …) so the first
//! line says what is wrong even when the top error is generic. The CLI, the
//! app and the logs all show errors through it.

mod hints;

use std::error::Error;
use std::fmt;
use std::sync::Arc;

pub use hints::{current_user, for_root, proxy_for};

/// An error ready to be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// One line: the error's message, followed by its root cause when the
    /// message does not already say it.
    pub line: String,
    /// Every distinct cause below the top message, outermost first, each
    /// once; a cause whose text an earlier one contains is left out.
    pub chain: Vec<String>,
    /// What to try next, when the cause is a usual mistake.
    pub hint: Option<String>,
}

impl Explained {
    /// The causes the first line does not already say, for a "caused by" list.
    pub fn extra_causes(&self) -> impl Iterator<Item = &str> {
        self.chain
            .iter()
            .map(String::as_str)
            .filter(|c| !self.line.contains(c))
    }
}

/// One line for logs: `line (caused by: a; b) hint: h`.
impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)?;
        let extra: Vec<&str> = self.extra_causes().collect();
        if !extra.is_empty() {
            write!(f, " (caused by: {})", extra.join("; "))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " hint: {hint}")?;
        }
        Ok(())
    }
}

/// A cause kept whole: its `source()` chain intact (so the root cause can be
/// found and shown), cheap to clone (events carry copies), or made from a
/// plain message where there is no error value.
#[derive(Debug, Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync>);

impl Cause {
    /// Keeps an error and its chain.
    pub fn new(err: impl Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(err))
    }

    /// A cause that is only a message.
    pub fn msg(text: impl Into<String>) -> Self {
        Self(Arc::new(Message(text.into())))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The kept error is this one's source, so the chain (and downcasts to it)
/// stay intact; its text, equal to this one's, is said once by [`causes`].
impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.0)
    }
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}

/// What the root of a chain is, for the first line and the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootCause {
    /// Nothing accepts connections at the address (or the proxy's).
    Refused,
    /// The host name does not resolve.
    NameResolution,
    /// `https://` to a server that answered in plain HTTP.
    TlsToPlainHttp,
    /// The server's certificate is not trusted (unknown authority, expired,
    /// another name): a private CA needs `ca_cert`.
    Certificate,
    /// Another TLS failure (protocol, handshake).
    Tls,
    /// A connect or read timeout.
    TimedOut,
    /// The operating system refused access to a file.
    PermissionDenied,
    /// A path component that should be a folder is a file.
    NotADirectory,
    /// A folder where a file was expected.
    IsADirectory,
    /// The disk (or quota) is full.
    NoSpace,
    /// Anything else.
    Other,
}

/// Explains an error: its line, its deduplicated chain and a hint.
pub fn explain(err: &(dyn Error + 'static)) -> Explained {
    let top = err.to_string();
    let chain = causes(err);
    let root = classify(err);
    let line = with_root(&top, &chain, root);
    let hint = hints::hint(err, root);
    Explained { line, chain, hint }
}

/// The causes below `err`, each once: a cause is kept only if neither the top
/// message nor an earlier kept cause contains its text.
pub fn causes(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut said = vec![err.to_string()];
    let mut out = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        let text = text.trim();
        if !text.is_empty() && !said.iter().any(|s| s.contains(text)) {
            out.push(text.to_owned());
            said.push(text.to_owned());
        }
        next = cause.source();
    }
    out
}

/// The first line: the top message, plus the root cause (labelled when its
/// own words do not say what kind of failure it is) unless already said.
fn with_root(top: &str, chain: &[String], root: RootCause) -> String {
    let Some(last) = chain.last() else {
        return top.to_owned();
    };
    let lower = last.to_lowercase();
    let label = match root {
        RootCause::NameResolution if !lower.contains("resol") => Some("name resolution failed"),
        RootCause::TlsToPlainHttp | RootCause::Tls if !lower.contains("tls") => {
            Some("TLS handshake failed")
        }
        RootCause::Certificate if !lower.contains("certificate") => {
            Some("server certificate not trusted")
        }
        _ => None,
    };
    match label {
        Some(label) => format!("{top}: {label}: {last}"),
        None => format!("{top}: {last}"),
    }
}

/// Classifies the deepest recognisable cause of a chain.
pub fn classify(err: &(dyn Error + 'static)) -> RootCause {
    let mut found = RootCause::Other;
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = next {
        let here = classify_one(e);
        if here != RootCause::Other {
            found = here;
        }
        next = e.source();
    }
    found
}

fn classify_one(e: &(dyn Error + 'static)) -> RootCause {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return match tls {
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                RootCause::TlsToPlainHttp
            }
            rustls::Error::InvalidCertificate(_) => RootCause::Certificate,
            _ => RootCause::Tls,
        };
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return RootCause::Refused,
            std::io::ErrorKind::PermissionDenied => return RootCause::PermissionDenied,
            std::io::ErrorKind::NotADirectory => return RootCause::NotADirectory,
            std::io::ErrorKind::IsADirectory => return RootCause::IsADirectory,
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                return RootCause::NoSpace;
            }
            std::io::ErrorKind::TimedOut => return RootCause::TimedOut,
            _ => {}
        }
    }
    if let Some(r) = e.downcast_ref::<reqwest::Error>()
        && r.is_timeout()
    {
        return RootCause::TimedOut;
    }
    // Types that are not ours to downcast (hyper-util's connect errors, or a
    // cause kept only as text): their words.
    classify_text(&e.to_string())
}

fn classify_text(text: &str) -> RootCause {
    let lower = text.to_lowercase();
    if lower.contains("connection refused") {
        RootCause::Refused
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        RootCause::NameResolution
    } else if lower.contains("invalidcontenttype") {
        RootCause::TlsToPlainHttp
    } else if lower.contains("invalid peer certificate") {
        RootCause::Certificate
    } else if lower.contains("tls handshake") {
        RootCause::Tls
    } else {
        RootCause::Other
    }
}

#[cfg(test)]
mod tests;

/// How many names a "the mirror has …" list shows before `… (N more)`.
const LIST_MAX: usize = 20;

/// `no version 9.9.9 of z-image-turbo; the mirror has 0.5.1, 0.5.2`: the
/// sentence the mirror's 404 and the client's error share.
pub fn missing_version(tool_id: &str, version: &str, versions: &[String]) -> String {
    format!(
        "no version {version} of {tool_id}; the mirror has {}",
        list(versions)
    )
}

/// `no tool "x"; the mirror has a, b` (or `the mirror has no tools`).
pub fn missing_tool(tool_id: &str, tools: &[String]) -> String {
    if tools.is_empty() {
        return format!("no tool {tool_id:?}; the mirror has no tools");
    }
    format!("no tool {tool_id:?}; the mirror has {}", list(tools))
}

/// Why `activate` has nothing to switch to: no pending version, or content
/// of it missing from the store (the paths are listed).
pub fn not_downloaded(tool_id: &str, version: Option<&str>, missing: &[String]) -> String {
    match version {
        None => format!("{tool_id}: no downloaded version is waiting to be activated"),
        Some(v) if missing.is_empty() => {
            format!("{tool_id}: {v} is not downloaded (its manifest is not stored)")
        }
        Some(v) => format!(
            "{tool_id}: {v} is not fully downloaded: {} file(s) missing from the store: {}",
            missing.len(),
            list(missing)
        ),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    let shown = names[..names.len().min(LIST_MAX)].join(", ");
    match names.len().checked_sub(LIST_MAX) {
        Some(more) if more > 0 => format!("{shown} … ({more} more)"),
        _ => shown,
    }
}
