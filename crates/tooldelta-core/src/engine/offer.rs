//! What a mirror offers: the manifest it serves, fetched and turned into a
//! [`VerifiedManifest`] under the tool's no-rollback floor.

use jiff::Timestamp;
use semver::Version;

use super::env::{Env, UpdateOptions};
use crate::error::UpdateError;
use crate::fetch::FetchedManifest;
use crate::manifest::{ManifestError, parse_version};
use crate::signing::{TrustError, TrustPolicy, VerifiedManifest};

/// Fetches the offered manifest and verifies it; returns it with its source.
pub(crate) async fn fetch_verified(
    env: &Env,
    tool_id: &str,
    opts: &UpdateOptions,
    floor: Option<&Version>,
) -> Result<(VerifiedManifest, FetchedManifest), UpdateError> {
    let wanted = opts
        .version
        .as_deref()
        .map(|v| {
            parse_version(v).map_err(|e| TrustError::Malformed {
                tool_id: tool_id.to_owned(),
                source: ManifestError::Rule(e),
            })
        })
        .transpose()?;
    let fetched = env
        .fetcher
        .manifest(tool_id, opts.version.as_deref())
        .await?;
    let policy = TrustPolicy {
        trust: &env.config.trust,
        tool_id,
        version: wanted.as_ref(),
        highest_accepted: floor,
        allow_downgrade: opts.allow_downgrade,
        now: Timestamp::now(),
    };
    let verified = VerifiedManifest::verify(&fetched.bytes, &policy)?;
    Ok((verified, fetched))
}
