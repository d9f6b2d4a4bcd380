//! What a mirror offers: the version the tool's signed channel chooses for
//! this workstation (or the mirror's `latest` when no channel is
//! published), its manifest fetched and turned into a [`VerifiedManifest`]
//! under the tool's no-rollback floor.

use jiff::Timestamp;
use semver::Version;

use super::env::{Env, UpdateOptions};
use super::follow::follow;
use super::installed::Local;
use crate::channel::ChannelDecision;
use crate::error::UpdateError;
use crate::fetch::FetchedManifest;
use crate::manifest::{ManifestError, parse_version};
use crate::signing::{TrustError, TrustPolicy, VerifiedManifest};

/// A verified offer.
pub(crate) struct Offer {
    /// The manifest, verified.
    pub verified: VerifiedManifest,
    /// Where it came from.
    pub fetched: FetchedManifest,
    /// What the tool's channel decided, when one is published.
    pub channel: Option<ChannelDecision>,
}

impl Offer {
    /// Whether installing it is a signed rollback (the floor moves down).
    pub fn is_rollback(&self) -> bool {
        self.channel.as_ref().is_some_and(|c| c.rollback)
    }
}

/// Fetches the offered manifest and verifies it; returns it with its source
/// and the channel's decision.
pub(crate) async fn fetch_verified(
    env: &Env,
    tool_id: &str,
    opts: &UpdateOptions,
    local: &Local,
) -> Result<Offer, UpdateError> {
    let floor = local.floor();
    let active = local
        .installed
        .as_ref()
        .and_then(|i| parse_version(&i.version).ok());
    let channel = follow(env, tool_id, active.as_ref()).await?;
    // An explicit version wins over the channel; the channel's choice wins
    // over `latest`. A signed rollback may go below the floor.
    let (wanted_text, allow_downgrade) = match (&opts.version, &channel) {
        (Some(v), _) => (Some(v.clone()), opts.allow_downgrade),
        (None, Some(c)) => match &c.target {
            Some(target) => (Some(target.clone()), c.rollback),
            None => {
                return Err(UpdateError::NotInRollout {
                    tool_id: tool_id.to_owned(),
                    channel: c.channel.clone(),
                    offered: c.offered.clone(),
                });
            }
        },
        (None, None) => (None, false),
    };
    let wanted = wanted_text
        .as_deref()
        .map(|v| {
            parse_version(v).map_err(|e| TrustError::Malformed {
                tool_id: tool_id.to_owned(),
                source: ManifestError::Rule(e),
            })
        })
        .transpose()?;
    if let (Some(c), Some(v)) = (&channel, &wanted) {
        refuse_withdrawn(tool_id, c, v)?;
    }
    let mut fetched = env
        .fetcher
        .manifest(tool_id, wanted_text.as_deref())
        .await?;
    let policy = TrustPolicy {
        trust: &env.config.trust,
        tool_id,
        version: wanted.as_ref(),
        highest_accepted: floor.as_ref(),
        allow_downgrade,
        now: Timestamp::now(),
    };
    // The bytes move into the verified manifest (no second copy is kept).
    let verified = VerifiedManifest::verify_owned(std::mem::take(&mut fetched.bytes), &policy)?;
    if let Some(c) = &channel {
        refuse_withdrawn(tool_id, c, verified.version())?;
    }
    Ok(Offer {
        verified,
        fetched,
        channel,
    })
}

/// A withdrawn version is never installed, whatever asks for it.
fn refuse_withdrawn(
    tool_id: &str,
    channel: &ChannelDecision,
    version: &Version,
) -> Result<(), UpdateError> {
    let withdrawn = channel
        .withdrawn
        .iter()
        .any(|w| parse_version(w).is_ok_and(|w| &w == version));
    if withdrawn {
        return Err(UpdateError::Withdrawn {
            tool_id: tool_id.to_owned(),
            version: version.to_string(),
            channel: channel.channel.clone(),
        });
    }
    Ok(())
}
