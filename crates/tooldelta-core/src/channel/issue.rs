//! The publisher's half: a channel document built from HQ's request, checked
//! by the same field rules clients apply, signed; and the publisher's
//! sequence ledger, so `sequence` rises by one per document by default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};

use super::ChannelDocument;
use super::verify::check_fields;

/// What HQ asks for (`tooldelta channel set`).
#[derive(Debug, Clone, Default)]
pub struct ChannelRequest {
    /// The tool.
    pub tool_id: String,
    /// The channel.
    pub channel: String,
    /// The version offered.
    pub version: String,
    /// The version workstations outside the rollout stay on.
    pub previous: Option<String>,
    /// 0–100.
    pub rollout_percent: u8,
    /// A signed rollback.
    pub rollback: bool,
    /// Versions never to be installed.
    pub withdrawn: Vec<String>,
    /// The sequence (else the ledger's next, else the time in milliseconds).
    pub sequence: Option<u64>,
    /// Validity from now.
    pub expires_in: Option<SignedDuration>,
}

/// A request that does not make a valid document.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// A field breaks a rule.
    #[error("channel {channel} of {tool_id}: {cause}")]
    Invalid {
        /// The tool.
        tool_id: String,
        /// The channel.
        channel: String,
        /// What is wrong.
        cause: String,
    },
    /// A duration that is not `N` followed by `s`, `m`, `h`, `d` or `w`.
    #[error("duration {0:?}: expected a number and a unit, like 30d, 12h, 90m or 2w")]
    Duration(String),
}

/// Builds and signs the document. `now` is the issue time.
pub fn issue(
    req: &ChannelRequest,
    sequence: u64,
    now: Timestamp,
    key: &SigningKey,
) -> Result<ChannelDocument, IssueError> {
    // Truncated to whole seconds: rounding up would extend a validity.
    let stamp = |t: Timestamp| {
        t.round(
            jiff::TimestampRound::new()
                .smallest(jiff::Unit::Second)
                .mode(jiff::RoundMode::Trunc),
        )
        .expect("truncating to seconds cannot overflow")
        .to_string()
    };
    let invalid = |cause: String| IssueError::Invalid {
        tool_id: req.tool_id.clone(),
        channel: req.channel.clone(),
        cause,
    };
    let expires_at = req
        .expires_in
        .map(|d| now.checked_add(d).map(stamp))
        .transpose()
        .map_err(|e| invalid(e.to_string()))?;
    let mut doc = ChannelDocument {
        tool_id: req.tool_id.clone(),
        channel: req.channel.clone(),
        version: req.version.clone(),
        previous: req.previous.clone(),
        rollout_percent: req.rollout_percent,
        rollback: req.rollback,
        withdrawn: req.withdrawn.clone(),
        sequence,
        issued_at: stamp(now),
        expires_at,
        signature: None,
    };
    check_fields(&doc).map_err(invalid)?;
    doc.sign(key);
    Ok(doc)
}

/// Parses `30d`, `12h`, `90m`, `45s`, `2w`.
pub fn parse_duration(text: &str) -> Result<SignedDuration, IssueError> {
    let bad = || IssueError::Duration(text.to_owned());
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs)
        .filter(|s| *s > 0)
        .map(SignedDuration::from_secs)
        .ok_or_else(bad)
}

/// The publisher's ledger: the highest sequence written per `tool/channel`,
/// kept beside the secret key (`SECRET.pem.channels.json`).
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
    highest: BTreeMap<String, u64>,
}

impl Ledger {
    /// The ledger of a secret key file (empty when none was written yet or
    /// it is unreadable: the time in milliseconds then keeps sequences rising).
    pub fn of_key(key_path: &Path) -> Self {
        let mut name = key_path.as_os_str().to_owned();
        name.push(".channels.json");
        let path = PathBuf::from(name);
        let highest = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self { path, highest }
    }

    /// One more than the highest written for `tool/channel`, else `now_ms`.
    pub fn next(&self, tool_id: &str, channel: &str, now_ms: u64) -> u64 {
        self.highest
            .get(&format!("{tool_id}/{channel}"))
            .map_or(now_ms, |s| s.saturating_add(1))
    }

    /// Records a written sequence (atomically).
    pub fn record(&mut self, tool_id: &str, channel: &str, sequence: u64) -> std::io::Result<()> {
        let entry = self
            .highest
            .entry(format!("{tool_id}/{channel}"))
            .or_default();
        *entry = (*entry).max(sequence);
        let mut bytes = serde_json::to_vec_pretty(&self.highest).expect("a map serializes");
        bytes.push(b'\n');
        crate::fs::write_atomic(&self.path, &bytes)
    }
}
