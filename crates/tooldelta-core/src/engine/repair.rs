//! `verify` and `repair` of the active release.
//!
//! Repair puts bad files back without writing any in place (see `heal`), and
//! reaches every other release that shares a damaged inode: an in-place edit
//! of a hard-linked file damages them all at once.

use std::collections::{BTreeMap, BTreeSet};

use tokio_util::sync::CancellationToken;

use super::env::Env;
use super::heal::{self, Damage, Inode};
use super::installed::{Installed, read_manifest};
use super::releases;
use super::session::Session;
use crate::error::UpdateError;
use crate::events::{Event, Phase, Reporter};
use crate::report::{FileCheck, FileStatus, RepairReport, SharedRepair, VerifyReport};
use crate::signing::{SignatureStatus, TrustError};
use crate::verify::all_ok;

fn emit_checks(tool_id: &str, checks: &[FileCheck], reporter: &dyn Reporter) {
    for c in checks.iter().filter(|c| c.status == FileStatus::Ok) {
        reporter.report(&Event::FileVerified {
            tool_id: tool_id.to_owned(),
            path: c.path.clone(),
        });
    }
}

pub(super) async fn verify(
    env: &Env,
    tool_id: &str,
    reporter: &dyn Reporter,
) -> Result<VerifyReport, UpdateError> {
    let installed = Installed::require(env, tool_id)?;
    reporter.report(&Event::Phase {
        tool_id: tool_id.to_owned(),
        phase: Phase::Verify,
    });
    let dir = env.layout.release_dir(tool_id, &installed.version);
    let files = heal::check_release(tool_id, &dir, &installed.manifest).await?;
    emit_checks(tool_id, &files, reporter);
    Ok(VerifyReport {
        tool_id: tool_id.to_owned(),
        version: installed.version,
        ok: all_ok(&files),
        files,
    })
}

/// Every kept release of a tool other than the active one, newest first,
/// each checked against its own stored manifest (what a rollback would find).
pub(super) async fn verify_kept(
    env: &Env,
    tool_id: &str,
) -> Result<Vec<VerifyReport>, UpdateError> {
    let installed = Installed::require(env, tool_id)?;
    let releases_dir = env.layout.releases_dir(tool_id);
    let versions = releases::by_version(&env.layout, tool_id).map_err(UpdateError::io(
        tool_id,
        "list",
        &releases_dir,
    ))?;
    let mut out = Vec::new();
    for version in versions.into_iter().filter(|v| *v != installed.version) {
        let kept = read_manifest(env, tool_id, &version)?;
        let dir = env.layout.release_dir(tool_id, &version);
        let files = heal::check_release(tool_id, &dir, &kept.manifest).await?;
        out.push(VerifyReport {
            tool_id: tool_id.to_owned(),
            version,
            ok: all_ok(&files),
            files,
        });
    }
    Ok(out)
}

pub(super) async fn run(
    env: &Env,
    tool_id: &str,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Result<RepairReport, UpdateError> {
    let session = Session::open(env, tool_id, reporter, cancel).await?;
    let installed = Installed::require(env, tool_id)?;
    check_stored_signature(env, tool_id, &installed)?;
    session.phase(Phase::Verify);
    let release = env.layout.release_dir(tool_id, &installed.version);
    let before = heal::check_release(tool_id, &release, &installed.manifest).await?;
    let damage = Damage::from_checks(&installed.manifest, &before);
    // Before anything is replaced: which damaged inodes other releases (of
    // this tool or others) share, so they are healed in the same run.
    let shared = heal::shared_inodes(&release, &damage);

    session.phase(Phase::Repair);
    let gc_guard = session.gc_guard().await?;
    let (files_downloaded, totals) =
        heal::ensure_objects(&session, &installed.version, &release, &damage).await?;
    heal::replace_files(&release, &session.store, &damage)
        .await
        .map_err(session.io("repair", &release))?;
    let also_repaired = heal_sharers(&session, &shared, &installed.version).await?;
    drop(gc_guard);

    let after = heal::check_release(tool_id, &release, &installed.manifest).await?;
    emit_checks(tool_id, &after, reporter);
    let verify = VerifyReport {
        tool_id: tool_id.to_owned(),
        version: installed.version.clone(),
        ok: all_ok(&after),
        files: after,
    };
    Ok(RepairReport {
        tool_id: tool_id.to_owned(),
        version: installed.version,
        files_repaired: damage.bad_paths(),
        files_removed: damage.extra.clone(),
        files_downloaded,
        bytes_downloaded: totals.downloaded,
        bytes_resumed: totals.resumed,
        bytes_from_local_chunks: totals.from_local_chunks,
        also_repaired,
        verify,
        duration_ms: session.elapsed_ms(),
    })
}

/// Puts back, from the objects this repair made good, every file of another
/// release that shared a damaged inode.
async fn heal_sharers(
    session: &Session<'_>,
    shared: &BTreeMap<String, BTreeSet<Inode>>,
    version: &str,
) -> Result<Vec<SharedRepair>, UpdateError> {
    let env = session.env;
    let sharers = heal::sharers(env, shared, (session.tool_id, version));
    let mut out = Vec::new();
    for ((tool_id, release), damage) in sharers {
        let dir = env.layout.release_dir(&tool_id, &release);
        heal::replace_files(&dir, &session.store, &damage)
            .await
            .map_err(session.io("repair", &dir))?;
        out.extend(damage.bad.iter().map(|f| SharedRepair {
            tool_id: tool_id.clone(),
            release: release.clone(),
            path: f.path.clone(),
        }));
    }
    Ok(out)
}

/// With trusted keys configured, the stored manifest must still carry a valid
/// signature: repair fetches by its hashes, so they must be HQ's.
fn check_stored_signature(
    env: &Env,
    tool_id: &str,
    installed: &Installed,
) -> Result<(), UpdateError> {
    if env.config.trust.is_empty() {
        return Ok(());
    }
    let check = installed.signature(&env.config.trust);
    if check.status == SignatureStatus::Valid {
        return Ok(());
    }
    Err(UpdateError::from(TrustError::Signature {
        tool_id: tool_id.to_owned(),
        status: check.status,
        public_key_id: check.public_key_id,
        trusted: env.config.trust.ids().map(ToString::to_string).collect(),
    }))
}
