//! The façade the CLI and the desktop app use: check, update, status, verify,
//! repair, rollback, history.
//!
//! An update, as data flows (see `docs/architecture.md`):
//! 1. fetch the manifest (bounded) and verify it into a [`VerifiedManifest`]
//!    (`offer`, through the one manifest gate in `signing`);
//! 2. diff it against the active release (`installed`) and the local store
//!    ([`Plan`]);
//! 3. fetch each missing object into the store, hashing while it streams and
//!    resuming `.partial` files of an interrupted run (`session`, `fetch`);
//! 4. stage `releases/<version>/` from the store (reflink, hardlink or copy)
//!    (`stage`);
//! 5. swap `current` (the commit point) and record the state (`session`);
//! 6. prune old releases and unreferenced objects (`releases`); report.
//!
//! Modules form layers, each importing only those below it: this façade;
//! the operations (`update`, `repair`, `rollback`, `status`); `stage` and
//! `session`; `installed`, `offer` and `releases`; `env` at the bottom.
//!
//! All methods are async on tokio and take `&self`: one [`Engine`] can serve
//! several tools at once (each tool has its own cross-process lock). Progress
//! leaves through a [`Reporter`]; cancellation enters through a
//! [`CancellationToken`], and a cancelled update leaves `current` unchanged.
//!
//! [`VerifiedManifest`]: crate::signing::VerifiedManifest
//! [`Plan`]: crate::diff::Plan

mod disk;
mod env;
mod fleet;
mod follow;
mod heal;
mod installed;
mod offer;
mod packed;
mod pending;
mod releases;
mod repair;
mod rollback;
mod session;
mod stage;
mod status;
mod update;

use std::path::Path;

pub use tokio_util::sync::CancellationToken;

use crate::channel::local::Hold;
use crate::error::UpdateError;
use crate::events::Reporter;
use crate::report::{UpdateReport, VerifyReport};
use env::Env;

/// How many previous releases are kept for rollback by default (one value
/// for the engine and the settings file).
pub use crate::config::DEFAULT_KEEP_RELEASES;
pub use crate::report::{
    Delta, RepairReport, RollbackReport, SharedRepair, ToolStatus, UpdateCheck,
};
pub use crate::state::HistoryEntry;
pub use env::{EngineConfig, UpdateOptions};
pub use status::ToolOverview;

/// The update engine. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    env: Env,
}

impl Engine {
    /// Builds an engine (and its HTTP client). Installs rustls' `ring` provider
    /// if the process has none yet.
    pub fn new(config: EngineConfig) -> Result<Self, UpdateError> {
        Ok(Self {
            env: Env::new(config)?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.env.config
    }

    /// The install root.
    pub fn root(&self) -> &Path {
        &self.env.config.root
    }

    /// Fetches and verifies the offered manifest and plans against it, without
    /// changing anything on disk.
    pub async fn check(
        &self,
        tool_id: &str,
        opts: &UpdateOptions,
    ) -> Result<UpdateCheck, UpdateError> {
        update::check(&self.env, tool_id, opts).await
    }

    /// Brings `tool_id` to the offered version. On any error `current` is
    /// unchanged and downloaded data is kept for the next run.
    pub async fn update(
        &self,
        tool_id: &str,
        opts: &UpdateOptions,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<UpdateReport, UpdateError> {
        let op = if opts.download_only {
            "download"
        } else {
            "update"
        };
        let live = crate::live::Publisher::new(&self.env.layout, tool_id, op, reporter);
        let result = update::run(&self.env, tool_id, opts, &live, cancel).await;
        record_update(&self.env, tool_id, &result);
        result
    }

    /// The live progress of the operation running on `tool_id` in any
    /// process (the agent, a CLI, the app), or the outcome of the last one.
    pub fn live(&self, tool_id: &str) -> Option<crate::live::LiveSnapshot> {
        crate::live::read(&self.env.layout, tool_id)
    }

    /// Switches to the version a `download_only` update left pending, with no
    /// network: the stored manifest is verified again, every object must be
    /// in the store (else [`UpdateError::NotDownloaded`]), and running jobs
    /// defer the switch ([`UpdateError::InUse`]). Reports 0 bytes downloaded.
    pub async fn activate(
        &self,
        tool_id: &str,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<UpdateReport, UpdateError> {
        let live = crate::live::Publisher::new(&self.env.layout, tool_id, "activate", reporter);
        let result = pending::run(&self.env, tool_id, &live, cancel).await;
        record_update(&self.env, tool_id, &result);
        result
    }

    /// Every tool under the root; with mirrors and keys configured, also what
    /// the mirrors offer.
    pub async fn status(&self) -> Result<Vec<ToolStatus>, UpdateError> {
        status::all(&self.env).await
    }

    /// [`Engine::status`] together with [`Engine::check`] of every installed
    /// tool, from one manifest fetch and verification per tool.
    pub async fn overview(&self) -> Result<Vec<ToolOverview>, UpdateError> {
        status::overview(&self.env).await
    }

    /// Re-hashes the active release against its manifest (in parallel).
    pub async fn verify(
        &self,
        tool_id: &str,
        reporter: &dyn Reporter,
    ) -> Result<VerifyReport, UpdateError> {
        let result = repair::verify(&self.env, tool_id, reporter).await;
        if let Ok(report) = &result {
            record_verify(&self.env, report);
        }
        result
    }

    /// Re-hashes every kept release other than the active one (newest first)
    /// against its own stored manifest: what a rollback would switch to.
    pub async fn verify_kept(&self, tool_id: &str) -> Result<Vec<VerifyReport>, UpdateError> {
        repair::verify_kept(&self.env, tool_id).await
    }

    /// Brings the active release back to exactly its manifest: bad files are
    /// replaced (never written in place), extra files removed; then re-verifies.
    /// Publishes its progress like an update (`tools/ID/progress.json`).
    pub async fn repair(
        &self,
        tool_id: &str,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<RepairReport, UpdateError> {
        let live = crate::live::Publisher::new(&self.env.layout, tool_id, "repair", reporter);
        let result = repair::run(&self.env, tool_id, &live, cancel).await;
        live.finish(result.as_ref().err().map(UpdateError::info));
        if let Ok(report) = &result {
            record_verify(&self.env, &report.verify);
        }
        result
    }

    /// Makes the previously active release (still kept) active again, after
    /// verifying it: damaged files are put back from the store, or from the
    /// mirrors when the store's copy is damaged too; without a good copy the
    /// rollback is refused and `current` is unchanged. Publishes its progress
    /// like an update (`tools/ID/progress.json`).
    pub async fn rollback(
        &self,
        tool_id: &str,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<RollbackReport, UpdateError> {
        let live = crate::live::Publisher::new(&self.env.layout, tool_id, "rollback", reporter);
        let result = rollback::rollback(&self.env, tool_id, &live, cancel).await;
        live.finish(result.as_ref().err().map(UpdateError::info));
        result
    }

    /// Every tool with a folder under the root, sorted.
    pub fn tool_ids(&self) -> Result<Vec<String>, UpdateError> {
        status::tool_ids(&self.env)
    }

    /// Holds a tool at `version` (default: the active one): updates, the
    /// agent and `update --all` leave it alone until [`Engine::unhold`].
    pub fn hold(&self, tool_id: &str, version: Option<&str>) -> Result<Hold, UpdateError> {
        env::Env::check_tool_id(tool_id)?;
        let active = installed::Installed::read(&self.env, tool_id)?.map(|i| i.version);
        let version = match version {
            Some(v) => Some(
                crate::manifest::parse_version(v)
                    .map_err(|e| crate::signing::TrustError::Malformed {
                        tool_id: tool_id.to_owned(),
                        source: e.into(),
                    })
                    .map(|_| v.to_owned())?,
            ),
            None => active,
        };
        let Some(version) = version else {
            return Err(UpdateError::NotInstalled {
                tool_id: tool_id.to_owned(),
                root: self.env.config.root.clone(),
            });
        };
        let hold = Hold {
            version: Some(version),
            at: Some(jiff::Timestamp::now().to_string()),
        };
        let path = crate::channel::local::hold_path(&self.env.layout, tool_id);
        crate::channel::local::write_hold(&self.env.layout, tool_id, &hold)
            .map_err(UpdateError::io(tool_id, "write", path))?;
        Ok(hold)
    }

    /// Releases a hold set by [`Engine::hold`]; `false` when there was none.
    pub fn unhold(&self, tool_id: &str) -> Result<bool, UpdateError> {
        env::Env::check_tool_id(tool_id)?;
        let path = crate::channel::local::hold_path(&self.env.layout, tool_id);
        crate::channel::local::remove_hold(&self.env.layout, tool_id)
            .map_err(UpdateError::io(tool_id, "remove", path))
    }

    /// The hold on a tool (from `hold` or the settings), if any.
    pub fn held(&self, tool_id: &str) -> Result<Option<Hold>, UpdateError> {
        env::Env::check_tool_id(tool_id)?;
        let active = installed::Installed::read(&self.env, tool_id)?.map(|i| i.version);
        follow::hold(&self.env, tool_id, active.as_deref())
    }

    /// Uninstalls a tool: every release, its manifests, state and hold;
    /// stored content another tool or kept release lists stays.
    pub async fn remove(&self, tool_id: &str) -> Result<crate::disk::RemoveReport, UpdateError> {
        disk::remove(&self.env, tool_id).await
    }

    /// Gives back what no kept release needs: unreferenced objects, and on
    /// request old partial downloads and every non-active kept release.
    pub async fn gc(
        &self,
        opts: crate::disk::GcOptions,
    ) -> Result<crate::disk::GcReport, UpdateError> {
        disk::gc(&self.env, opts).await
    }

    /// Where the disk under the root went (read only).
    pub fn disk_usage(&self) -> Result<crate::disk::DiskUsage, UpdateError> {
        let root = &self.env.config.root;
        crate::disk::usage(&self.env.layout).map_err(UpdateError::io("*", "measure", root))
    }

    /// This workstation's fleet report, from the installed state only (no
    /// network): what [`crate::fleet::send_report`] sends.
    pub fn fleet_report(&self) -> Result<crate::fleet::WorkstationReport, UpdateError> {
        fleet::build(&self.env)
    }

    /// The engine's HTTP client for a URL (its proxy and CA settings).
    pub(crate) fn http_client_for(&self, url: &str) -> Result<&reqwest::Client, String> {
        self.env.fetcher.client_for(url)
    }

    /// The activations of a tool, oldest first.
    pub fn history(&self, tool_id: &str) -> Result<Vec<HistoryEntry>, UpdateError> {
        rollback::history(&self.env, tool_id)
    }
}

/// Keeps how an update ended for the fleet report (best effort).
fn record_update(env: &Env, tool_id: &str, result: &Result<UpdateReport, UpdateError>) {
    use crate::fleet::{LastResult, outcome};
    if !crate::manifest::is_valid_tool_id(tool_id) {
        return;
    }
    let record = match result {
        Ok(report) => outcome::UpdateOutcome {
            result: LastResult::Ok,
            version: Some(report.to_version.clone()),
            error: None,
            at: outcome::now(),
        },
        Err(e) => outcome::UpdateOutcome {
            result: LastResult::Failed,
            version: None,
            // One printable line, bounded like the report's field.
            error: Some(
                e.to_string()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(2000)
                    .collect(),
            ),
            at: outcome::now(),
        },
    };
    outcome::record_update(&env.layout, tool_id, &record);
}

/// Keeps what a verify found for the fleet report (best effort).
fn record_verify(env: &Env, report: &VerifyReport) {
    use crate::fleet::outcome;
    let record = outcome::VerifyOutcome {
        version: report.version.clone(),
        ok: report.ok,
        at: outcome::now(),
    };
    outcome::record_verify(&env.layout, &report.tool_id, &record);
}

#[cfg(test)]
mod tests {
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
        is_send(&engine.overview());
        is_send(&engine.rollback("t", &NullReporter, &cancel));
        is_send(&engine.activate("t", &NullReporter, &cancel));
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
