//! Signed channel documents in the store:
//! `STORE/tools/<tool_id>/channels/<channel>.json`, exactly as signed.
//!
//! The mirror keeps the document with the highest `sequence` per tool and
//! channel: an import (or an upstream copy) that is older is refused, so a
//! mistaken re-import cannot roll the fleet's channel back. Clients verify
//! the signature themselves; the mirror checks it too when given keys.

use std::io;
use std::path::{Path, PathBuf};

use tooldelta_core::channel::{ChannelError, MAX_CHANNEL_BYTES, check_channel, is_valid_channel};
use tooldelta_core::manifest::is_valid_tool_id;
use tooldelta_core::signing::{SignatureCheck, TrustStore};

use super::{Store, fsutil};

/// What importing a channel document did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChannelImport {
    /// The tool.
    pub tool_id: String,
    /// The channel.
    pub channel: String,
    /// The version it offers.
    pub version: String,
    /// Its sequence.
    pub sequence: u64,
    /// `stored` (new or newer), or `unchanged` (the very same document).
    pub outcome: &'static str,
    /// The signature check (`unsigned` or `unknown_key` only when no keys were given).
    pub signature: SignatureCheck,
}

/// Why a channel document was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ChannelImportError {
    /// Malformed, or not validly signed by a given key.
    #[error(transparent)]
    Refused(#[from] ChannelError),
    /// Older than (or different at the same sequence from) the stored one.
    #[error(
        "channel {channel} of {tool_id}: sequence {offered} is not newer than the stored {stored} (refused: the mirror keeps the newest)"
    )]
    NotNewer {
        /// The tool.
        tool_id: String,
        /// The channel.
        channel: String,
        /// The sequence offered.
        offered: u64,
        /// The sequence stored.
        stored: u64,
    },
    /// The store could not be read or written.
    #[error("channel store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Store {
    /// `tools/<id>/channels/<channel>.json` relative to the root.
    fn channel_rel(tool_id: &str, channel: &str) -> PathBuf {
        Path::new("tools")
            .join(tool_id)
            .join("channels")
            .join(format!("{channel}.json"))
    }

    /// The stored channel document, exactly as signed.
    pub fn read_channel(&self, tool_id: &str, channel: &str) -> io::Result<Option<Vec<u8>>> {
        if !is_valid_tool_id(tool_id) || !is_valid_channel(channel) {
            return Ok(None);
        }
        let Some((file, size)) =
            fsutil::open_inside(&self.root, &Self::channel_rel(tool_id, channel))?
        else {
            return Ok(None);
        };
        if size > MAX_CHANNEL_BYTES {
            return Err(io::Error::other(format!(
                "stored channel {channel} of {tool_id} is {size} bytes, over the limit"
            )));
        }
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::Read::take(file, size), &mut bytes)?;
        Ok(Some(bytes))
    }

    /// The channels stored for a tool, sorted.
    pub fn channels(&self, tool_id: &str) -> io::Result<Vec<String>> {
        if !is_valid_tool_id(tool_id) {
            return Ok(Vec::new());
        }
        let dir = self.root.join("tools").join(tool_id).join("channels");
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some(channel) = name.strip_suffix(".json")
                && is_valid_channel(channel)
            {
                names.push(channel.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Checks a channel document (shape and field rules always; a valid
    /// signature by one of `trust` when keys are given) and stores it when it
    /// is newer than the stored one.
    pub fn import_channel(
        &self,
        bytes: &[u8],
        trust: &TrustStore,
    ) -> Result<ChannelImport, ChannelImportError> {
        let checked = check_channel(bytes, trust, !trust.is_empty(), ("unknown tool", "?"))?;
        let doc = &checked.doc;
        let rel = Self::channel_rel(&doc.tool_id, &doc.channel);
        let path = self.root.join(&rel);
        let io_err = |source| ChannelImportError::Io {
            path: path.clone(),
            source,
        };
        let stored = self
            .read_channel(&doc.tool_id, &doc.channel)
            .map_err(io_err)?
            .and_then(|b| check_channel(&b, trust, false, ("", "")).ok());
        let mut outcome = "stored";
        if let Some(stored) = stored {
            let same = stored.hash == checked.hash;
            if same {
                outcome = "unchanged";
            } else if stored.doc.sequence >= doc.sequence {
                return Err(ChannelImportError::NotNewer {
                    tool_id: doc.tool_id.clone(),
                    channel: doc.channel.clone(),
                    offered: doc.sequence,
                    stored: stored.doc.sequence,
                });
            }
        }
        if outcome == "stored" {
            tooldelta_core::fs::write_atomic(&path, bytes).map_err(io_err)?;
        }
        Ok(ChannelImport {
            tool_id: doc.tool_id.clone(),
            channel: doc.channel.clone(),
            version: doc.version.clone(),
            sequence: doc.sequence,
            outcome,
            signature: checked.signature,
        })
    }
}
