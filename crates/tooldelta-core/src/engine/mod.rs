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

mod env;
mod follow;
mod heal;
mod installed;
mod offer;
mod packed;
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
        update::run(&self.env, tool_id, opts, reporter, cancel).await
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
        repair::verify(&self.env, tool_id, reporter).await
    }

    /// Re-hashes every kept release other than the active one (newest first)
    /// against its own stored manifest: what a rollback would switch to.
    pub async fn verify_kept(&self, tool_id: &str) -> Result<Vec<VerifyReport>, UpdateError> {
        repair::verify_kept(&self.env, tool_id).await
    }

    /// Brings the active release back to exactly its manifest: bad files are
    /// replaced (never written in place), extra files removed; then re-verifies.
    pub async fn repair(
        &self,
        tool_id: &str,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<RepairReport, UpdateError> {
        repair::run(&self.env, tool_id, reporter, cancel).await
    }

    /// Makes the previously active release (still kept) active again, after
    /// verifying it: damaged files are put back from the store, or from the
    /// mirrors when the store's copy is damaged too; without a good copy the
    /// rollback is refused and `current` is unchanged.
    pub async fn rollback(
        &self,
        tool_id: &str,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<RollbackReport, UpdateError> {
        rollback::rollback(&self.env, tool_id, reporter, cancel).await
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

    /// The activations of a tool, oldest first.
    pub fn history(&self, tool_id: &str) -> Result<Vec<HistoryEntry>, UpdateError> {
        rollback::history(&self.env, tool_id)
    }
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
