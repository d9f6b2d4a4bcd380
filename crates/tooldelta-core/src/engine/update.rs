//! `check` and `update`: manifest -> plan -> fetch -> stage -> activate -> cleanup.

use tokio_util::sync::CancellationToken;

use super::env::{Env, UpdateOptions};
use super::follow::hold;
use super::installed::Local;
use super::offer::{Offer, fetch_verified};
use super::session::{Activation, Session};
use super::{packed, stage};
use crate::diff::Plan;
use crate::error::UpdateError;
use crate::events::{Event, Phase, Reporter};
use crate::fetch::Fetched;
use crate::fs::Durability;
use crate::report::{Delta, UpdateCheck, UpdateReport};
use crate::signing::{SignatureCheck, SignatureStatus, VerifiedManifest};
use crate::state::{Pending, ToolState};
use crate::store::Store;

pub(super) async fn check(
    env: &Env,
    tool_id: &str,
    opts: &UpdateOptions,
) -> Result<UpdateCheck, UpdateError> {
    Env::check_tool_id(tool_id)?;
    let local = Local::read(env, tool_id)?;
    let offer = fetch_verified(env, tool_id, opts, &local).await?;
    plan_check(env, tool_id, &local, &offer).await
}

/// What an update to `verified` would do, planned against the local state;
/// exact at chunk level (the chunk indexes of the files to fetch are read).
pub(super) async fn plan_check(
    env: &Env,
    tool_id: &str,
    local: &Local,
    offer: &Offer,
) -> Result<UpdateCheck, UpdateError> {
    let verified = &offer.verified;
    let installed = local.installed.as_ref();
    let hold = hold(env, tool_id, installed.map(|i| i.version.as_str()))?;
    let store = Store::new(&env.layout);
    let plan = Plan::new(installed.map(|i| &i.manifest), verified, |h, s| {
        store.contains(h, s)
    });
    let chunked =
        crate::delta::estimate(&env.fetcher, &env.layout, &store, &plan.objects_to_fetch()).await;
    Ok(UpdateCheck {
        tool_id: tool_id.to_owned(),
        installed_version: installed.map(|i| i.version.clone()),
        available_version: verified.version().to_string(),
        up_to_date: installed.is_some_and(|i| i.hash == verified.hash()),
        manifest_hash: verified.hash().to_owned(),
        signature: signature(verified),
        delta: Delta {
            files_to_fetch: plan.fetch.len() as u64,
            bytes_to_fetch: chunked.download,
            bytes_from_local_chunks: chunked.from_local_chunks,
            bytes_resumable: plan
                .objects_to_fetch()
                .iter()
                .map(|f| store.partial_len(&f.sha256).min(f.size))
                .sum(),
            files_reused: plan.reuse.len() as u64,
            bytes_saved: plan.bytes_saved(),
            files_to_remove: plan.remove.len() as u64,
        },
        release_notes: verified.manifest().release_notes.clone(),
        channel: offer.channel.clone(),
        hold,
        pending: local.state.pending.clone(),
        in_use: crate::lock::FileLock::is_held_any(&env.layout.in_use_lock_path(tool_id)),
    })
}

pub(super) fn signature(verified: &VerifiedManifest) -> SignatureCheck {
    SignatureCheck {
        status: SignatureStatus::Valid,
        public_key_id: Some(verified.key_id().to_owned()),
    }
}

pub(super) async fn run(
    env: &Env,
    tool_id: &str,
    opts: &UpdateOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Result<UpdateReport, UpdateError> {
    let result = match Session::open(env, tool_id, reporter, cancel).await {
        Ok(session) => update(&session, opts).await,
        Err(e) => Err(e),
    };
    announce(reporter, tool_id, &result);
    result
}

/// Ends a run that switches a tool (update, activate) with its `Done` or
/// `Failed` event.
pub(super) fn announce(
    reporter: &dyn Reporter,
    tool_id: &str,
    result: &Result<UpdateReport, UpdateError>,
) {
    match result {
        Ok(report) => reporter.report(&Event::Done {
            report: report.clone(),
        }),
        Err(e) => reporter.report(&Event::Failed {
            tool_id: tool_id.to_owned(),
            error: e.info(),
        }),
    }
}

async fn update(s: &Session<'_>, opts: &UpdateOptions) -> Result<UpdateReport, UpdateError> {
    stage::clear_leftovers(s)?;

    s.phase(Phase::Manifest);
    let local = Local::read(s.env, s.tool_id)?;
    refuse_held(s, &local, opts)?;
    let offer = fetch_verified(s.env, s.tool_id, opts, &local).await?;
    let rollback = offer.is_rollback();
    let Offer {
        verified, fetched, ..
    } = offer;
    let Local {
        installed,
        mut state,
    } = local;
    let version = verified.version().to_string();
    if let Some(done) = already_active(s, installed.as_ref(), &verified)? {
        return Ok(done);
    }

    s.phase(Phase::Plan);
    let old = installed.as_ref().map(|i| &i.manifest);
    let plan = Plan::new(old, &verified, |h, size| s.store.contains(h, size));
    s.reporter.report(&Event::PlanReady {
        tool_id: s.tool_id.to_owned(),
        from_version: installed.as_ref().map(|i| i.version.clone()),
        to_version: version.clone(),
        files_to_fetch: plan.fetch.len() as u64,
        bytes_to_fetch: plan.bytes_to_fetch(),
        files_reused: plan.reuse.len() as u64,
        bytes_saved: plan.bytes_saved(),
        files_to_remove: plan.remove.len() as u64,
    });

    // Objects must survive until the release links them: hold the store
    // shared so another tool's garbage collection waits.
    let gc_guard = s.gc_guard().await?;
    s.phase(Phase::Fetch);
    // Small objects are written without their own fsync: the journal names
    // them until the one sync before the commit point.
    let journal = stage::begin_journal(s, &plan)?;
    // The manifest is stored while the content streams: its two fsyncs
    // leave the critical path of a small update.
    let (stored, totals) = tokio::join!(stage::store_manifest(s, &verified, &version), async {
        let packed = packed::fetch_packs(s, verified.manifest(), &plan).await?;
        let version = &verified.manifest().tool_version;
        let mut totals = s
            .fetch_all(&plan, version, Some(&fetched), Durability::Batched)
            .await?;
        totals.downloaded += packed.bytes;
        Ok::<_, UpdateError>(totals)
    });
    let totals = totals?;
    stored?;

    let from_version = installed.as_ref().map(|i| i.version.clone());
    if opts.download_only {
        // A pending version is recorded only over durable content.
        stage::make_durable(s, journal).await?;
        drop(gc_guard);
        save_pending(
            s,
            &mut state,
            pending_of(&verified, &totals, rollback, "download_only"),
        );
        let transfer = Transfer {
            plan: &plan,
            totals: &totals,
            from_version,
        };
        return Ok(report(s, &verified, transfer, true));
    }

    s.phase(Phase::Stage);
    // Made before the manifest moves into staging: running jobs may defer
    // the switch, and then everything is in the store and the download stays.
    let deferred = pending_of(&verified, &totals, rollback, "in_use");
    let verified = match stage::stage_and_activate(s, verified, &version, installed, journal).await
    {
        Ok(verified) => verified,
        Err(e) => {
            if matches!(e, UpdateError::InUse { .. }) {
                save_pending(s, &mut state, deferred);
            }
            return Err(e);
        }
    };
    drop(gc_guard);
    let transfer = Transfer {
        plan: &plan,
        totals: &totals,
        from_version,
    };

    if rollback {
        // A signed channel rollback: the only way the floor moves down.
        state.highest_accepted = Some(version.clone());
    }
    s.record(
        &mut state,
        Activation {
            version: &version,
            hash: verified.hash(),
            from_version: transfer.from_version.clone(),
            action: "update",
            raise_floor: true,
            transfer: Some((totals.downloaded + totals.resumed, plan.bytes_saved())),
        },
    );

    s.phase(Phase::Cleanup);
    stage::cleanup(s, &state, &version).await;
    Ok(report(s, &verified, transfer, false))
}

/// What a run moved, for its report.
pub(super) struct Transfer<'a> {
    pub plan: &'a Plan,
    pub totals: &'a Fetched,
    pub from_version: Option<String>,
}

/// The report of an update, an `--download-only` run or an activation.
pub(super) fn report(
    s: &Session<'_>,
    verified: &VerifiedManifest,
    t: Transfer<'_>,
    download_only: bool,
) -> UpdateReport {
    UpdateReport {
        tool_id: s.tool_id.to_owned(),
        from_version: t.from_version,
        to_version: verified.version().to_string(),
        files_downloaded: t.plan.fetch.len() as u64,
        files_verified: verified.manifest().files.len() as u64,
        files_deleted: t.plan.remove.len() as u64,
        files_unchanged: t.plan.reuse.len() as u64,
        bytes_downloaded: t.totals.downloaded,
        bytes_saved: t.plan.bytes_saved(),
        bytes_resumed: t.totals.resumed,
        bytes_from_local_chunks: t.totals.from_local_chunks,
        manifest_hash: verified.hash().to_owned(),
        signature: signature(verified),
        duration_ms: s.elapsed_ms(),
        download_only,
    }
}

/// Records `verified` as downloaded and waiting (its manifest is stored and
/// its objects are in the store, which garbage collection keeps because the
/// stored manifest references them).
/// The record of a downloaded version that waits for its switch.
fn pending_of(
    verified: &VerifiedManifest,
    totals: &Fetched,
    rollback: bool,
    reason: &str,
) -> Pending {
    Pending {
        version: verified.version().to_string(),
        manifest_hash: verified.hash().to_owned(),
        downloaded_at: jiff::Timestamp::now().to_string(),
        bytes_downloaded: totals.downloaded + totals.resumed,
        rollback,
        reason: reason.to_owned(),
    }
}

fn save_pending(s: &Session<'_>, state: &mut ToolState, pending: Pending) {
    state.pending = Some(pending);
    let path = s.env.layout.state_path(s.tool_id);
    // The download itself succeeded; a lost record only means `activate`
    // does not know about it (the next update finds the objects present).
    if let Err(e) = state.save(&path) {
        tracing::warn!("{}: cannot write {}: {e}", s.tool_id, path.display());
    }
}

/// A held tool is left alone: only its held version may be installed.
pub(super) fn refuse_held(
    s: &Session<'_>,
    local: &Local,
    opts: &UpdateOptions,
) -> Result<(), UpdateError> {
    let active = local.installed.as_ref().map(|i| i.version.as_str());
    let Some(held) = hold(s.env, s.tool_id, active)? else {
        return Ok(());
    };
    let version = held.version.unwrap_or_else(|| "nothing".to_owned());
    if opts.version.as_deref() == Some(version.as_str()) {
        return Ok(());
    }
    Err(UpdateError::Held {
        tool_id: s.tool_id.to_owned(),
        version,
    })
}

/// The offered manifest is the active one: nothing to do.
fn already_active(
    s: &Session<'_>,
    installed: Option<&super::installed::Installed>,
    verified: &VerifiedManifest,
) -> Result<Option<UpdateReport>, UpdateError> {
    let Some(active) = installed else {
        return Ok(None);
    };
    if active.version != verified.version().to_string() {
        return Ok(None);
    }
    if active.hash != verified.hash() {
        return Err(UpdateError::VersionChanged {
            tool_id: s.tool_id.to_owned(),
            version: active.version.clone(),
            installed: active.hash.clone(),
            offered: verified.hash().to_owned(),
        });
    }
    let files = &verified.manifest().files;
    Ok(Some(UpdateReport {
        tool_id: s.tool_id.to_owned(),
        from_version: Some(active.version.clone()),
        to_version: active.version.clone(),
        files_downloaded: 0,
        files_verified: files.len() as u64,
        files_deleted: 0,
        files_unchanged: files.len() as u64,
        bytes_downloaded: 0,
        bytes_saved: files.iter().map(|f| f.size).sum(),
        bytes_resumed: 0,
        bytes_from_local_chunks: 0,
        manifest_hash: verified.hash().to_owned(),
        signature: signature(verified),
        duration_ms: s.elapsed_ms(),
        download_only: false,
    }))
}
