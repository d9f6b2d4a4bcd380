//! Following a tool's channel: the signed channel document from the mirrors
//! (or, when they withhold it, the one accepted last, until it expires),
//! verified against the last accepted, kept, and turned into this
//! workstation's [`ChannelDecision`]. Holds live here too: both are HQ's or
//! the technician's word on which version runs.

use jiff::Timestamp;
use semver::Version;

use super::env::Env;
use crate::channel::local::{self, Hold};
use crate::channel::rollout::{decide, workstation_id};
use crate::channel::{ChannelDecision, ChannelPolicy, VerifiedChannel};
use crate::error::UpdateError;

/// The decision of the channel `tool_id` follows, for a workstation running
/// `installed`; `None` when no mirror serves a channel document for it and
/// none was ever accepted (then `latest` applies, as before channels).
pub(crate) async fn follow(
    env: &Env,
    tool_id: &str,
    installed: Option<&Version>,
) -> Result<Option<ChannelDecision>, UpdateError> {
    let channel = env.config.rollout.channel_for(tool_id).to_owned();
    if !crate::channel::is_valid_channel(&channel) || !env.fetcher.has_mirrors() {
        return Ok(None);
    }
    let path = local::accepted_path(&env.layout, tool_id, &channel);
    let stored = local::read_accepted(&path).map_err(UpdateError::io(tool_id, "read", &path))?;
    let last = stored.as_deref().and_then(local::sequence_of);
    let policy = ChannelPolicy {
        trust: &env.config.trust,
        tool_id,
        channel: &channel,
        last_accepted: last.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
        now: Timestamp::now(),
    };
    let served = env
        .fetcher
        .channel(tool_id, &channel)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(
                "{tool_id}: channel {channel} unavailable ({e}); using the one accepted last"
            );
            None
        });
    let verified = match (served, stored) {
        (Some(bytes), _) => {
            let verified = VerifiedChannel::verify(&bytes, &policy)?;
            if last.is_none_or(|(seq, _)| verified.doc().sequence > seq) {
                crate::fs::write_atomic(&path, verified.bytes())
                    .map_err(UpdateError::io(tool_id, "write", &path))?;
            }
            verified
        }
        // Withheld: the document accepted last still rules until it expires
        // (freeze defence); its signature is checked again against today's keys.
        (None, Some(bytes)) => VerifiedChannel::verify(
            &bytes,
            &ChannelPolicy {
                last_accepted: None,
                ..policy
            },
        )?,
        (None, None) => return Ok(None),
    };
    let root = &env.config.root;
    let id = workstation_id(root, env.config.rollout.workstation_id.as_deref()).map_err(
        UpdateError::io(tool_id, "read", root.join("workstation_id")),
    )?;
    Ok(Some(decide(verified.doc(), installed, &id)))
}

/// The hold on `tool_id`: set by `tooldelta hold` under the root, or by the
/// settings; `version` is the version it is held at (`None`: nothing active).
pub(crate) fn hold(
    env: &Env,
    tool_id: &str,
    active: Option<&str>,
) -> Result<Option<Hold>, UpdateError> {
    let path = local::hold_path(&env.layout, tool_id);
    if let Some(hold) =
        local::read_hold(&env.layout, tool_id).map_err(UpdateError::io(tool_id, "read", &path))?
    {
        return Ok(Some(Hold {
            version: hold.version.or_else(|| active.map(str::to_owned)),
            at: hold.at,
        }));
    }
    Ok(env.config.rollout.hold_for(tool_id).map(|version| Hold {
        version: version.or_else(|| active.map(str::to_owned)),
        at: None,
    }))
}
