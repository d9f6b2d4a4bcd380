//! [`VerifiedChannel`]: the only way a channel document becomes trusted.

use jiff::Timestamp;

use super::{CHANNEL_CONTEXT, ChannelDocument, MAX_CHANNEL_BYTES, MAX_WITHDRAWN, is_valid_channel};
use crate::manifest::{is_valid_tool_id, parse_version};
use crate::signing::{SignatureCheck, SignatureStatus, TrustStore, check_detached};

/// What a client expects of a channel document before it trusts it.
#[derive(Debug, Clone)]
pub struct ChannelPolicy<'a> {
    /// The keys whose signatures are accepted (the manifest keys).
    pub trust: &'a TrustStore,
    /// The tool the client follows the channel for.
    pub tool_id: &'a str,
    /// The channel it follows.
    pub channel: &'a str,
    /// `sequence` and hash of the document accepted last, if any.
    pub last_accepted: Option<(u64, &'a str)>,
    /// The current time.
    pub now: Timestamp,
}

/// Why a channel document is not trusted. Every variant names the tool and
/// the channel.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Too large, not JSON, or not shaped like a channel document.
    #[error("channel {channel} of {tool_id}: not a valid channel document: {cause}")]
    Malformed {
        /// The tool.
        tool_id: String,
        /// The channel.
        channel: String,
        /// What is wrong.
        cause: String,
    },
    /// Missing, unknown-key or invalid signature.
    #[error("channel {channel} of {tool_id}: signature is {status}{key}", status = status_word(*.status), key = .public_key_id.as_deref().map(|k| format!(" (key id {k})")).unwrap_or_default())]
    Signature {
        /// The tool.
        tool_id: String,
        /// The channel.
        channel: String,
        /// `unsigned`, `unknown_key` or `invalid`.
        status: SignatureStatus,
        /// The key id the document claims.
        public_key_id: Option<String>,
    },
    /// A validly signed document for another tool or channel.
    #[error(
        "channel {channel} of {tool_id}: the document is for {found} instead (mix-and-match refused)"
    )]
    WrongTarget {
        /// The tool asked for.
        tool_id: String,
        /// The channel asked for.
        channel: String,
        /// `tool/channel` the document names.
        found: String,
    },
    /// Past `expires_at`.
    #[error(
        "channel {channel} of {tool_id}: expired at {expires_at} (freeze refused; HQ must publish a fresh channel document)"
    )]
    Expired {
        /// The tool.
        tool_id: String,
        /// The channel.
        channel: String,
        /// When it expired.
        expires_at: String,
    },
    /// Older than (or conflicting with) the document accepted last.
    #[error(
        "channel {channel} of {tool_id}: sequence {offered} is not newer than {accepted}, already accepted (replay refused)"
    )]
    Replay {
        /// The tool.
        tool_id: String,
        /// The channel.
        channel: String,
        /// The sequence offered.
        offered: u64,
        /// The sequence accepted last.
        accepted: u64,
    },
}

fn status_word(status: SignatureStatus) -> &'static str {
    match status {
        SignatureStatus::Valid => "valid",
        SignatureStatus::Invalid => {
            "invalid (it does not verify as a channel signature of the trusted key)"
        }
        SignatureStatus::Unsigned => "missing (unsigned channel documents are refused)",
        SignatureStatus::UnknownKey => "from a key that is not trusted",
    }
}

/// A channel document whose signature, tool, channel, expiry and sequence
/// have been checked.
#[derive(Debug, Clone)]
pub struct VerifiedChannel {
    doc: ChannelDocument,
    hash: String,
    key_id: String,
    bytes: Vec<u8>,
}

impl VerifiedChannel {
    /// Checks channel bytes against a client's policy: [`check_channel`]
    /// with a signature required, then the client's own checks, the spec
    /// step of each written above it.
    pub fn verify(bytes: &[u8], policy: &ChannelPolicy<'_>) -> Result<Self, ChannelError> {
        let checked = check_channel(bytes, policy.trust, true, (policy.tool_id, policy.channel))?;
        let (doc, hash) = (checked.doc, checked.hash);
        let key_id = checked.signature.public_key_id.unwrap_or_default();
        // Mix-and-match: a valid document for another tool or channel.
        if doc.tool_id != policy.tool_id || doc.channel != policy.channel {
            return Err(ChannelError::WrongTarget {
                tool_id: policy.tool_id.to_owned(),
                channel: policy.channel.to_owned(),
                found: format!("{}/{}", doc.tool_id, doc.channel),
            });
        }
        // Freeze: a document past its expiry is refused.
        if let Some(expires_at) = &doc.expires_at {
            let at: Timestamp = expires_at.parse().expect("checked by check_fields");
            if policy.now >= at {
                return Err(ChannelError::Expired {
                    tool_id: policy.tool_id.to_owned(),
                    channel: policy.channel.to_owned(),
                    expires_at: expires_at.clone(),
                });
            }
        }
        // Replay: never older than the document accepted last; the same
        // sequence only for the very same document.
        if let Some((accepted, accepted_hash)) = policy.last_accepted
            && (doc.sequence < accepted || (doc.sequence == accepted && hash != accepted_hash))
        {
            return Err(ChannelError::Replay {
                tool_id: policy.tool_id.to_owned(),
                channel: policy.channel.to_owned(),
                offered: doc.sequence,
                accepted,
            });
        }
        Ok(Self {
            doc,
            hash,
            key_id,
            bytes: bytes.to_vec(),
        })
    }

    /// The checked document.
    pub fn doc(&self) -> &ChannelDocument {
        &self.doc
    }

    /// Its hash (what the signature covers).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The trusted key that signed it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The bytes it was verified from, to keep as the last accepted.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A channel document through the steps every channel document takes, in
/// the client and in the mirror: bounded strict parse, the field rules, and
/// the signature (required, or only reported when `signature_required` is
/// false: a mirror importing with no keys given). `label` is the tool and
/// channel named in errors.
#[derive(Debug, Clone)]
pub struct CheckedChannel {
    /// The document.
    pub doc: ChannelDocument,
    /// Its hash (what the signature covers).
    pub hash: String,
    /// What its signature check found.
    pub signature: SignatureCheck,
}

/// The one channel gate (see [`CheckedChannel`]).
pub fn check_channel(
    bytes: &[u8],
    trust: &TrustStore,
    signature_required: bool,
    label: (&str, &str),
) -> Result<CheckedChannel, ChannelError> {
    let malformed = |cause: String| ChannelError::Malformed {
        tool_id: label.0.to_owned(),
        channel: label.1.to_owned(),
        cause,
    };
    // Bounded, strict parse: unknown and duplicate fields refused.
    if bytes.len() as u64 > MAX_CHANNEL_BYTES {
        return Err(malformed(format!(
            "{} bytes, more than the {MAX_CHANNEL_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let doc: ChannelDocument =
        serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    check_fields(&doc).map_err(malformed)?;
    // The hash is signed by a trusted key, under the channel prefix (a
    // manifest signature over the same hash does not verify here).
    let hash = doc.hash();
    let signature = match &doc.signature {
        None => SignatureCheck {
            status: SignatureStatus::Unsigned,
            public_key_id: None,
        },
        Some(sig) => check_detached(CHANNEL_CONTEXT, &hash, sig, trust),
    };
    if signature_required && signature.status != SignatureStatus::Valid {
        return Err(ChannelError::Signature {
            tool_id: label.0.to_owned(),
            channel: label.1.to_owned(),
            status: signature.status,
            public_key_id: signature.public_key_id,
        });
    }
    Ok(CheckedChannel {
        doc,
        hash,
        signature,
    })
}

/// The field rules: ids, SemVer versions, a percentage, RFC 3339 times.
pub(crate) fn check_fields(doc: &ChannelDocument) -> Result<(), String> {
    if !is_valid_tool_id(&doc.tool_id) {
        return Err(format!("bad tool_id {:?}", doc.tool_id));
    }
    if !is_valid_channel(&doc.channel) {
        return Err(format!("bad channel name {:?}", doc.channel));
    }
    let versions = std::iter::once(&doc.version)
        .chain(doc.previous.iter())
        .chain(doc.withdrawn.iter());
    for v in versions {
        parse_version(v).map_err(|e| e.to_string())?;
    }
    if doc.withdrawn.len() > MAX_WITHDRAWN {
        return Err(format!("more than {MAX_WITHDRAWN} withdrawn versions"));
    }
    if doc.rollout_percent > 100 {
        return Err(format!(
            "rollout_percent {} is over 100",
            doc.rollout_percent
        ));
    }
    for (field, value) in [
        ("issued_at", Some(&doc.issued_at)),
        ("expires_at", doc.expires_at.as_ref()),
    ] {
        if let Some(value) = value
            && value.parse::<Timestamp>().is_err()
        {
            return Err(format!("{field} {value:?} is not an RFC 3339 timestamp"));
        }
    }
    Ok(())
}
