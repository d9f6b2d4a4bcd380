//! `activate`: switch to the version `update --download-only` (or a deferred
//! switch) left in the store, with no network at all. The stored manifest
//! passes the manifest gate again ([`VerifiedManifest::reverify_stored`]),
//! every object it lists must be in the store, then the release is staged
//! and `current` swapped exactly as an update does.

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::env::{Env, UpdateOptions};
use super::installed::Local;
use super::session::{Activation, Session};
use super::stage;
use super::update::{Transfer, announce, refuse_held, report};
use crate::diff::Plan;
use crate::error::UpdateError;
use crate::events::{Event, Phase, Reporter};
use crate::fetch::Fetched;
use crate::manifest::parse_version;
use crate::report::UpdateReport;
use crate::signing::{TrustError, TrustPolicy, VerifiedManifest};
use crate::state::Pending;

pub(super) async fn run(
    env: &Env,
    tool_id: &str,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Result<UpdateReport, UpdateError> {
    let result = match Session::open(env, tool_id, reporter, cancel).await {
        Ok(session) => activate(&session).await,
        Err(e) => Err(e),
    };
    announce(reporter, tool_id, &result);
    result
}

async fn activate(s: &Session<'_>) -> Result<UpdateReport, UpdateError> {
    stage::clear_leftovers(s)?;
    s.phase(Phase::Manifest);
    let local = Local::read(s.env, s.tool_id)?;
    let pending = local
        .state
        .pending
        .clone()
        .ok_or_else(|| not_downloaded(s, None, Vec::new()))?;
    let opts = UpdateOptions {
        version: Some(pending.version.clone()),
        ..UpdateOptions::default()
    };
    refuse_held(s, &local, &opts)?;
    let verified = stored_manifest(s, &local, &pending)?;
    let Local {
        installed,
        mut state,
    } = local;

    s.phase(Phase::Plan);
    let old = installed.as_ref().map(|i| &i.manifest);
    let plan = Plan::new(old, &verified, |h, size| s.store.contains(h, size));
    if !plan.fetch.is_empty() {
        let missing = plan.fetch.iter().map(|f| f.path.clone()).collect();
        return Err(not_downloaded(s, Some(&pending.version), missing));
    }
    s.reporter.report(&Event::PlanReady {
        tool_id: s.tool_id.to_owned(),
        from_version: installed.as_ref().map(|i| i.version.clone()),
        to_version: pending.version.clone(),
        files_to_fetch: 0,
        bytes_to_fetch: 0,
        files_reused: plan.reuse.len() as u64,
        bytes_saved: plan.bytes_saved(),
        files_to_remove: plan.remove.len() as u64,
    });

    // The objects must stay until the release links them.
    let gc_guard = s.gc_guard().await?;
    s.phase(Phase::Stage);
    let from_version = installed.as_ref().map(|i| i.version.clone());
    // Nothing was downloaded, so no journal: the objects were made durable
    // when `update --download-only` recorded them.
    let verified =
        stage::stage_and_activate(s, verified, &pending.version, installed, None).await?;
    drop(gc_guard);

    if pending.rollback {
        // A signed channel rollback, verified when it was downloaded.
        state.highest_accepted = Some(pending.version.clone());
    }
    s.record(
        &mut state,
        Activation {
            version: &pending.version,
            hash: verified.hash(),
            from_version: from_version.clone(),
            action: "activate",
            raise_floor: true,
            transfer: Some((0, plan.bytes_saved())),
        },
    );
    s.phase(Phase::Cleanup);
    stage::cleanup(s, &state, &pending.version).await;
    let none = Fetched::default();
    let transfer = Transfer {
        plan: &plan,
        totals: &none,
        from_version,
    };
    Ok(report(s, &verified, transfer, false))
}

/// The pending version's stored manifest through the manifest gate again:
/// the trusted keys (when configured), the tool, the version, the floor, the
/// expiry, and the hash recorded when it was downloaded.
fn stored_manifest(
    s: &Session<'_>,
    local: &Local,
    pending: &Pending,
) -> Result<VerifiedManifest, UpdateError> {
    let path = s.env.layout.manifest_path(s.tool_id, &pending.version);
    let bytes = match fs_err::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_downloaded(s, Some(&pending.version), Vec::new()));
        }
        Err(e) => return Err(s.io("read", &path)(e)),
    };
    let version = parse_version(&pending.version).map_err(|e| {
        UpdateError::from(TrustError::Malformed {
            tool_id: s.tool_id.to_owned(),
            source: e.into(),
        })
    })?;
    let floor = local.floor();
    let policy = TrustPolicy {
        trust: &s.env.config.trust,
        tool_id: s.tool_id,
        version: Some(&version),
        highest_accepted: floor.as_ref(),
        allow_downgrade: pending.rollback,
        now: Timestamp::now(),
    };
    Ok(VerifiedManifest::reverify_stored(
        &bytes,
        &policy,
        &pending.manifest_hash,
    )?)
}

fn not_downloaded(s: &Session<'_>, version: Option<&str>, missing: Vec<String>) -> UpdateError {
    UpdateError::NotDownloaded {
        tool_id: s.tool_id.to_owned(),
        version: version.map(str::to_owned),
        missing,
    }
}
