//! `check` and `update`: manifest -> plan -> fetch -> stage -> activate -> cleanup.

use std::path::PathBuf;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use super::remote::{self, Installed};
use super::{Engine, UpdateCheck, UpdateOptions, check_tool_id};
use crate::activate::{self, Linker};
use crate::diff::Plan;
use crate::error::{FetchError, UpdateError};
use crate::events::{Event, Phase, Reporter};
use crate::fetch::{FetchedManifest, ObjectJob};
use crate::fsutil::write_atomic;
use crate::lock::FileLock;
use crate::report::UpdateReport;
use crate::signing::{SignatureCheck, SignatureStatus, VerifiedManifest};
use crate::state::HistoryEntry;
use crate::store::Store;
use crate::throttle::Progress;

pub(super) async fn check(
    engine: &Engine,
    tool_id: &str,
    opts: &UpdateOptions,
) -> Result<UpdateCheck, UpdateError> {
    check_tool_id(tool_id)?;
    let installed = remote::installed(engine, tool_id)?;
    let state = remote::load_state(engine, tool_id)?;
    let floor = remote::floor(&state, installed.as_ref());
    let (verified, _) = remote::fetch_verified(engine, tool_id, opts, floor.as_ref()).await?;
    let store = Store::new(&engine.layout);
    let plan = Plan::new(
        installed.as_ref().map(|i| &i.manifest),
        &verified,
        |h, s| store.contains(h, s),
    );
    let up_to_date = installed
        .as_ref()
        .is_some_and(|i| i.hash == verified.hash());
    Ok(UpdateCheck {
        tool_id: tool_id.to_owned(),
        installed_version: installed.map(|i| i.version),
        available_version: verified.version().to_string(),
        up_to_date,
        manifest_hash: verified.hash().to_owned(),
        signature: signature(&verified),
        files_to_fetch: plan.fetch.len() as u64,
        bytes_to_fetch: plan.bytes_to_fetch(),
        bytes_resumable: plan
            .objects_to_fetch()
            .iter()
            .map(|f| store.partial_len(&f.sha256).min(f.size))
            .sum(),
        files_reused: plan.reuse.len() as u64,
        bytes_saved: plan.bytes_saved(),
        files_to_remove: plan.remove.len() as u64,
    })
}

fn signature(verified: &VerifiedManifest) -> SignatureCheck {
    SignatureCheck {
        status: SignatureStatus::Valid,
        public_key_id: Some(verified.key_id().to_owned()),
    }
}

pub(super) async fn run(
    engine: &Engine,
    tool_id: &str,
    opts: &UpdateOptions,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Result<UpdateReport, UpdateError> {
    let result = Update::new(engine, tool_id, reporter, cancel)
        .run(opts)
        .await;
    match &result {
        Ok(report) => reporter.report(&Event::Done {
            report: report.clone(),
        }),
        Err(e) => reporter.report(&Event::Failed {
            tool_id: tool_id.to_owned(),
            error: e.info(),
        }),
    }
    result
}

/// One update run.
pub(super) struct Update<'a> {
    pub engine: &'a Engine,
    pub tool_id: &'a str,
    pub reporter: &'a dyn Reporter,
    pub cancel: &'a CancellationToken,
    pub store: Store,
    started: Instant,
}

/// Bytes moved by a fetch phase.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FetchTotals {
    pub downloaded: u64,
    pub resumed: u64,
}

impl<'a> Update<'a> {
    pub fn new(
        engine: &'a Engine,
        tool_id: &'a str,
        reporter: &'a dyn Reporter,
        cancel: &'a CancellationToken,
    ) -> Self {
        Self {
            engine,
            tool_id,
            reporter,
            cancel,
            store: Store::new(&engine.layout),
            started: Instant::now(),
        }
    }

    pub fn phase(&self, phase: Phase) {
        self.reporter.report(&Event::Phase {
            tool_id: self.tool_id.to_owned(),
            phase,
        });
    }

    fn io(
        &self,
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> UpdateError {
        UpdateError::io(self.tool_id, op, path)
    }

    /// Creates the tool and store folders and takes the tool's lock.
    pub async fn prepare(&self) -> Result<FileLock, UpdateError> {
        check_tool_id(self.tool_id)?;
        let layout = &self.engine.layout;
        let tool_dir = layout.tool_dir(self.tool_id);
        std::fs::create_dir_all(&tool_dir).map_err(self.io("create", &tool_dir))?;
        self.store
            .ensure_dirs()
            .map_err(self.io("create", layout.objects_dir()))?;
        let lock_path = layout.lock_path(self.tool_id);
        FileLock::exclusive(&lock_path)
            .await
            .map_err(self.io("lock", &lock_path))?
            .ok_or(UpdateError::Locked {
                tool_id: self.tool_id.to_owned(),
                path: lock_path,
            })
    }

    async fn run(self, opts: &UpdateOptions) -> Result<UpdateReport, UpdateError> {
        let _lock = self.prepare().await?;
        // An earlier run that died mid-stage left a half-built folder: drop it.
        let staging = self.engine.layout.staging_dir(self.tool_id);
        crate::fsutil::remove_tree_if_exists(&staging).map_err(self.io("remove", &staging))?;
        // … and one killed mid-write left temporary files (`.state.json.tmp-PID`,
        // `.current.tmp-PID`); under the tool's lock no live writer owns them.
        let tool_dir = self.engine.layout.tool_dir(self.tool_id);
        for dir in [self.engine.layout.manifests_dir(self.tool_id), tool_dir] {
            crate::fsutil::remove_stale_temps(&dir).map_err(self.io("remove", &dir))?;
        }

        self.phase(Phase::Manifest);
        let installed = remote::installed(self.engine, self.tool_id)?;
        let mut state = remote::load_state(self.engine, self.tool_id)?;
        let floor = remote::floor(&state, installed.as_ref());
        let (verified, fetched) =
            remote::fetch_verified(self.engine, self.tool_id, opts, floor.as_ref()).await?;
        let version = verified.version().to_string();
        if let Some(done) = self.already_active(installed.as_ref(), &verified)? {
            return Ok(done);
        }

        self.phase(Phase::Plan);
        let old = installed.as_ref().map(|i| &i.manifest);
        let plan = Plan::new(old, &verified, |h, s| self.store.contains(h, s));
        self.reporter.report(&Event::PlanReady {
            tool_id: self.tool_id.to_owned(),
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
        let gc_guard = self.gc_guard().await?;
        self.phase(Phase::Fetch);
        // The manifest is stored while the content streams: its two fsyncs
        // leave the critical path of a small update.
        let (stored, totals) = tokio::join!(
            self.store_manifest(&verified, &version),
            self.fetch_all(&plan, &verified.manifest().tool_version, Some(&fetched)),
        );
        let totals = totals?;
        stored?;

        self.phase(Phase::Stage);
        self.stage_and_activate(&verified, &version).await?;
        drop(gc_guard);

        let from_version = installed.map(|i| i.version);
        self.record(
            &mut state,
            &version,
            verified.hash(),
            from_version.clone(),
            "update",
            true,
        );

        self.phase(Phase::Cleanup);
        self.cleanup(&state, &version).await;
        Ok(UpdateReport {
            tool_id: self.tool_id.to_owned(),
            from_version,
            to_version: version,
            files_downloaded: plan.fetch.len() as u64,
            files_verified: verified.manifest().files.len() as u64,
            files_deleted: plan.remove.len() as u64,
            files_unchanged: plan.reuse.len() as u64,
            bytes_downloaded: totals.downloaded,
            bytes_saved: plan.bytes_saved(),
            bytes_resumed: totals.resumed,
            manifest_hash: verified.hash().to_owned(),
            signature: signature(&verified),
            duration_ms: self.elapsed_ms(),
        })
    }

    /// Writes the verified manifest bytes to `manifests/<version>.json` (atomic).
    async fn store_manifest(
        &self,
        verified: &VerifiedManifest,
        version: &str,
    ) -> Result<(), UpdateError> {
        let path = self.engine.layout.manifest_path(self.tool_id, version);
        let bytes = verified.bytes().to_vec();
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(target.parent().expect("manifests/ is a folder"))?;
            write_atomic(&target, &bytes)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r);
        written.map_err(self.io("write", &path))
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The offered manifest is the active one: nothing to do.
    fn already_active(
        &self,
        installed: Option<&Installed>,
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
                tool_id: self.tool_id.to_owned(),
                version: active.version.clone(),
                installed: active.hash.clone(),
                offered: verified.hash().to_owned(),
            });
        }
        let files = &verified.manifest().files;
        Ok(Some(UpdateReport {
            tool_id: self.tool_id.to_owned(),
            from_version: Some(active.version.clone()),
            to_version: active.version.clone(),
            files_downloaded: 0,
            files_verified: files.len() as u64,
            files_deleted: 0,
            files_unchanged: files.len() as u64,
            bytes_downloaded: 0,
            bytes_saved: files.iter().map(|f| f.size).sum(),
            bytes_resumed: 0,
            manifest_hash: verified.hash().to_owned(),
            signature: signature(verified),
            duration_ms: self.elapsed_ms(),
        }))
    }

    pub async fn gc_guard(&self) -> Result<FileLock, UpdateError> {
        let path = self.engine.layout.gc_lock_path();
        loop {
            if let Some(lock) = FileLock::shared(&path)
                .await
                .map_err(self.io("lock", &path))?
            {
                return Ok(lock);
            }
            if self.cancel.is_cancelled() {
                return Err(self.cancelled());
            }
        }
    }

    pub fn cancelled(&self) -> UpdateError {
        UpdateError::Cancelled {
            tool_id: self.tool_id.to_owned(),
        }
    }

    /// Fetches every object the plan lacks, a few at once; the first failure
    /// stops the others (their partials stay for the next run).
    pub async fn fetch_all(
        &self,
        plan: &Plan,
        version: &str,
        manifest: Option<&FetchedManifest>,
    ) -> Result<FetchTotals, UpdateError> {
        let objects = plan.objects_to_fetch();
        self.check_space(&objects)?;
        let fetcher = &self.engine.fetcher;
        let jobs: Vec<ObjectJob<'_>> = objects
            .iter()
            .map(|file| ObjectJob {
                tool_id: self.tool_id,
                file,
                sources: fetcher.sources(self.tool_id, version, file, manifest.map(|m| &m.url)),
            })
            .collect();
        let progress = Progress::new(self.tool_id, plan.bytes_to_fetch());
        let cancel = self.cancel.child_token();
        // Futures are made up front (not in a `map` closure over the stream):
        // a closure there makes the whole update future `!Send` (rustc's
        // higher-ranked lifetime limitation), and apps spawn it.
        let pending: Vec<_> = jobs
            .iter()
            .map(|job| self.fetch_job(job, plan, &progress, &cancel))
            .collect();
        let mut running =
            stream::iter(pending).buffer_unordered(self.engine.config.concurrency.max(1));
        let mut sum = FetchTotals::default();
        let mut failure = None;
        while let Some(done) = running.next().await {
            match done {
                Ok(f) => {
                    sum.downloaded += f.downloaded;
                    sum.resumed += f.resumed;
                }
                // The first failure stops the others (dropped below).
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(running);
        let totals = failure.map_or(Ok(sum), |e| Err(self.disk_full_or(e, &objects)));
        cancel.cancel();
        progress.emit(self.reporter);
        totals
    }

    /// One object, then `file_verified` for every path that lists it.
    async fn fetch_job(
        &self,
        job: &ObjectJob<'_>,
        plan: &Plan,
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<crate::fetch::Fetched, UpdateError> {
        let done = self
            .engine
            .fetcher
            .fetch_object(&self.store, job, progress, self.reporter, cancel)
            .await
            .map_err(|source| self.fetch_error(job, source))?;
        for file in plan.fetch.iter().filter(|f| f.sha256 == job.file.sha256) {
            self.reporter.report(&Event::FileVerified {
                tool_id: self.tool_id.to_owned(),
                path: file.path.clone(),
            });
        }
        Ok(done)
    }

    fn fetch_error(&self, job: &ObjectJob<'_>, source: FetchError) -> UpdateError {
        if matches!(source, FetchError::Cancelled) {
            return self.cancelled();
        }
        UpdateError::Fetch {
            tool_id: self.tool_id.to_owned(),
            path: job.file.path.clone(),
            source: Box::new(source),
        }
    }

    /// Bytes still to download for `objects` (partials count as done).
    fn bytes_needed(&self, objects: &[&crate::diff::PlannedFile]) -> u64 {
        objects
            .iter()
            .map(|f| f.size.saturating_sub(self.store.partial_len(&f.sha256)))
            .sum()
    }

    /// A download that failed for lack of space says how much is needed and
    /// free, as the check before the download does (the disk may fill up
    /// after it, e.g. through another program).
    fn disk_full_or(&self, err: UpdateError, objects: &[&crate::diff::PlannedFile]) -> UpdateError {
        let full = matches!(&err, UpdateError::Fetch { source, .. }
            if matches!(&**source, FetchError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::StorageFull));
        if !full {
            return err;
        }
        UpdateError::DiskFull {
            tool_id: self.tool_id.to_owned(),
            path: self.engine.layout.objects_dir(),
            needed: self.bytes_needed(objects),
            free: self.store.free_space().unwrap_or(0),
        }
    }

    fn check_space(&self, objects: &[&crate::diff::PlannedFile]) -> Result<(), UpdateError> {
        let needed = self.bytes_needed(objects);
        if needed == 0 {
            return Ok(());
        }
        let dir = self.engine.layout.objects_dir();
        let free = self.store.free_space().map_err(self.io("statvfs", &dir))?;
        if needed > free {
            return Err(UpdateError::DiskFull {
                tool_id: self.tool_id.to_owned(),
                path: dir,
                needed,
                free,
            });
        }
        Ok(())
    }

    async fn stage_and_activate(
        &self,
        verified: &VerifiedManifest,
        version: &str,
    ) -> Result<(), UpdateError> {
        if self.cancel.is_cancelled() {
            return Err(self.cancelled());
        }
        let layout = self.engine.layout.clone();
        let store = self.store.clone();
        let manifest = verified.manifest().clone();
        let (tool_id, version_owned) = (self.tool_id.to_owned(), version.to_owned());
        let staged = tokio::task::spawn_blocking(move || {
            let stage = activate::stage_release(
                &layout,
                &store,
                &Linker::default(),
                &tool_id,
                &version_owned,
                &manifest,
            )?;
            activate::install_release(&layout, &tool_id, &version_owned, &stage)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r);
        let releases = self.engine.layout.releases_dir(self.tool_id);
        if let Err(e) = staged {
            // A half-built release is no use to anyone: leave no temporary
            // folder behind (the next run would clear it, but may never come).
            let staging = self.engine.layout.staging_dir(self.tool_id).join(version);
            let _ = crate::fsutil::remove_tree_if_exists(&staging);
            return Err(self.io("stage", &releases)(e));
        }
        if self.cancel.is_cancelled() {
            return Err(self.cancelled());
        }
        self.phase(Phase::Activate);
        let link = self.engine.layout.current_link(self.tool_id);
        activate::swap_current(&self.engine.layout, self.tool_id, version)
            .map_err(self.io("switch", &link))
    }

    /// Appends to the history and saves the state (after the commit point).
    pub fn record(
        &self,
        state: &mut crate::state::ToolState,
        version: &str,
        hash: &str,
        from_version: Option<String>,
        action: &str,
        raise_floor: bool,
    ) {
        state.record(
            HistoryEntry {
                version: version.to_owned(),
                manifest_hash: hash.to_owned(),
                from_version,
                action: action.to_owned(),
                at: jiff::Timestamp::now().to_string(),
            },
            raise_floor,
        );
        let path = self.engine.layout.state_path(self.tool_id);
        // Past the commit point: the new release is active, so a failed state
        // write must not turn the update into a reported failure (CONTRACT §3:
        // a failed update leaves `current` as it was). The floor survives it:
        // the next run takes the active version as a floor too.
        if let Err(e) = state.save(&path) {
            tracing::warn!("{}: cannot write {}: {e}", self.tool_id, path.display());
        }
    }

    /// Prunes old releases, then collects the objects only they referenced.
    /// Past the commit point a failure here is logged, never reported as a
    /// failed update.
    async fn cleanup(&self, state: &crate::state::ToolState, active: &str) {
        match super::history::prune(self.engine, self.tool_id, state, active) {
            // Nothing pruned: no object lost its last reference in this run.
            Ok(pruned) if pruned.is_empty() => return,
            Ok(_) => {}
            Err(e) => tracing::warn!("{}: pruning old releases failed: {e}", self.tool_id),
        }
        let layout = self.engine.layout.clone();
        let store = self.store.clone();
        let gc =
            tokio::task::spawn_blocking(move || super::history::collect_garbage(&layout, &store))
                .await;
        match gc {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("{}: garbage collection failed: {e}", self.tool_id),
            Err(e) => tracing::warn!("{}: garbage collection failed: {e}", self.tool_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EngineConfig, RollbackReport};
    use super::*;
    use crate::events::NullReporter;

    fn is_send<T: Send>(_: &T) {}

    #[test]
    fn engine_futures_are_send_so_an_app_can_spawn_them() {
        let engine = Engine::new(EngineConfig::new("/nonexistent")).unwrap();
        let cancel = CancellationToken::new();
        let opts = UpdateOptions::default();
        is_send(&engine.update("t", &opts, &NullReporter, &cancel));
        is_send(&engine.check("t", &opts));
        is_send(&engine.repair("t", &NullReporter, &cancel));
        is_send(&engine.verify("t", &NullReporter));
        is_send(&engine.status());
        let rollback = engine.rollback("t");
        is_send(&rollback);
        let _: Option<RollbackReport> = None;
    }

    #[tokio::test]
    async fn an_update_without_a_mirror_fails_with_a_usage_error_naming_the_tool() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(EngineConfig::new(dir.path())).unwrap();
        let err = engine
            .update(
                "t",
                &UpdateOptions::default(),
                &NullReporter,
                &CancellationToken::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "usage");
        assert!(err.to_string().starts_with("t: no mirror"), "{err}");
        assert!(!dir.path().join("tools/t/current").exists());
    }
}
