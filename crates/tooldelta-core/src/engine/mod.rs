//! The façade the CLI and the desktop app use: check, update, status, verify,
//! repair, rollback, history.
//!
//! An update, as data flows (see `docs/architecture.md`):
//! 1. fetch the manifest (bounded) and verify it into a [`VerifiedManifest`];
//! 2. diff it against the active release and the local store ([`Plan`]);
//! 3. fetch each missing object into the store, hashing while it streams and
//!    resuming `.partial` files of an interrupted run;
//! 4. stage `releases/<version>/` from the store (reflink, hardlink or copy);
//! 5. swap `current` (the commit point) and record the state;
//! 6. prune old releases and unreferenced objects; report.
//!
//! All methods are async on tokio and take `&self`: one [`Engine`] can serve
//! several tools at once (each tool has its own cross-process lock). Progress
//! leaves through a [`Reporter`]; cancellation enters through a
//! [`CancellationToken`], and a cancelled update leaves `current` unchanged.
//!
//! [`VerifiedManifest`]: crate::signing::VerifiedManifest
//! [`Plan`]: crate::diff::Plan

mod history;
mod remote;
mod repair;
mod status;
mod update;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
pub use tokio_util::sync::CancellationToken;

use crate::error::UpdateError;
use crate::events::Reporter;
use crate::fetch::Fetcher;
use crate::layout::Layout;
use crate::report::{UpdateReport, VerifyReport};
use crate::signing::{SignatureCheck, TrustStore};

pub use crate::state::HistoryEntry;

/// How many previous releases are kept for rollback by default (one value
/// for the engine and the settings file).
pub use crate::config::DEFAULT_KEEP_RELEASES;

/// Everything an [`Engine`] needs. Build with [`EngineConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The install root (`--root`): `tools/`, `objects/` live under it.
    pub root: PathBuf,
    /// Mirror base URLs (e.g. `http://mirror:8080`), tried in order.
    pub mirrors: Vec<String>,
    /// The keys whose manifests are accepted.
    pub trust: TrustStore,
    /// Previous releases kept for rollback (besides the active one).
    pub keep_releases: usize,
    /// A download that receives no byte for this long is abandoned (and retried).
    pub stall_timeout: Duration,
    /// Time allowed to connect and receive response headers.
    pub connect_timeout: Duration,
    /// Retries of a transient failure (per file, per source), with backoff.
    pub retries: u32,
    /// Files downloaded at once.
    pub concurrency: usize,
}

impl EngineConfig {
    /// Defaults: keep 2 releases, 30 s stall timeout, 5 retries, 4 parallel files.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            mirrors: Vec::new(),
            trust: TrustStore::new(),
            keep_releases: DEFAULT_KEEP_RELEASES,
            stall_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(15),
            retries: 5,
            concurrency: 4,
        }
    }
}

/// Options of one update.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// The version to install; `None` for the mirror's `latest`.
    pub version: Option<String>,
    /// Allow an explicit `version` older than the highest accepted one.
    pub allow_downgrade: bool,
}

/// What an update would do, without doing it (the dashboard's pending delta).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateCheck {
    /// The tool.
    pub tool_id: String,
    /// The active version, if installed.
    pub installed_version: Option<String>,
    /// The version the mirror offers (verified).
    pub available_version: String,
    /// Whether the offered manifest is exactly the installed one.
    pub up_to_date: bool,
    /// `manifest_hash` of the offered manifest.
    pub manifest_hash: String,
    /// Signature verdict of the offered manifest (always `valid`: others are errors).
    pub signature: SignatureCheck,
    /// Files whose content must be downloaded.
    pub files_to_fetch: u64,
    /// Bytes to download, before resume.
    pub bytes_to_fetch: u64,
    /// Bytes already downloaded in `.partial` files that a run would resume.
    pub bytes_resumable: u64,
    /// Files whose content is already present.
    pub files_reused: u64,
    /// Their bytes.
    pub bytes_saved: u64,
    /// Files of the active release the new one drops.
    pub files_to_remove: u64,
}

/// One installed tool, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolStatus {
    /// The tool.
    pub tool_id: String,
    /// The active version (`None` when a tool folder exists but nothing is active).
    pub version: Option<String>,
    /// `manifest_hash` of the active release.
    pub manifest_hash: Option<String>,
    /// Versions kept on disk (the active one included), newest first.
    pub releases: Vec<String>,
    /// The highest version accepted so far (the no-rollback floor).
    pub highest_accepted: Option<String>,
    /// Whether an updater holds the tool's lock right now.
    pub updater_running: bool,
    /// The version the mirrors offer as `latest`, when mirrors were given.
    pub available_version: Option<String>,
    /// Whether that differs from the active release.
    pub update_available: Option<bool>,
    /// Why the mirror check failed, if it did.
    pub check_error: Option<crate::events::ErrorInfo>,
}

/// What `repair` did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairReport {
    /// The tool.
    pub tool_id: String,
    /// The active version that was repaired.
    pub version: String,
    /// Paths found `modified` or `missing` and replaced, sorted.
    pub files_repaired: Vec<String>,
    /// Paths found `extra` and removed, sorted.
    pub files_removed: Vec<String>,
    /// Files whose content had to be downloaded.
    pub files_downloaded: u64,
    /// Payload bytes downloaded.
    pub bytes_downloaded: u64,
    /// Bytes of partial downloads reused.
    pub bytes_resumed: u64,
    /// The verification after the repair.
    pub verify: VerifyReport,
    /// Wall time.
    pub duration_ms: u64,
}

/// What `rollback` did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackReport {
    /// The tool.
    pub tool_id: String,
    /// The version active before.
    pub from_version: String,
    /// The version active now.
    pub to_version: String,
    /// `manifest_hash` of the release now active.
    pub manifest_hash: String,
}

/// The update engine. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    layout: Layout,
    fetcher: Fetcher,
}

impl Engine {
    /// Builds an engine (and its HTTP client). Installs rustls' `ring` provider
    /// if the process has none yet.
    pub fn new(config: EngineConfig) -> Result<Self, UpdateError> {
        let layout = Layout::new(&config.root);
        let fetcher = Fetcher::new(&config)?;
        Ok(Self {
            config,
            layout,
            fetcher,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The install root.
    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// Fetches and verifies the offered manifest and plans against it, without
    /// changing anything on disk.
    pub async fn check(
        &self,
        tool_id: &str,
        opts: &UpdateOptions,
    ) -> Result<UpdateCheck, UpdateError> {
        update::check(self, tool_id, opts).await
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
        update::run(self, tool_id, opts, reporter, cancel).await
    }

    /// Every tool under the root; with mirrors configured, also what they offer.
    pub async fn status(&self) -> Result<Vec<ToolStatus>, UpdateError> {
        status::all(self).await
    }

    /// Re-hashes the active release against its manifest (in parallel).
    pub async fn verify(
        &self,
        tool_id: &str,
        reporter: &dyn Reporter,
    ) -> Result<VerifyReport, UpdateError> {
        repair::verify(self, tool_id, reporter).await
    }

    /// Brings the active release back to exactly its manifest: bad files are
    /// replaced (never written in place), extra files removed; then re-verifies.
    pub async fn repair(
        &self,
        tool_id: &str,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<RepairReport, UpdateError> {
        repair::run(self, tool_id, reporter, cancel).await
    }

    /// Makes the previously active release (still kept) active again.
    pub async fn rollback(&self, tool_id: &str) -> Result<RollbackReport, UpdateError> {
        history::rollback(self, tool_id).await
    }

    /// The activations of a tool, oldest first.
    pub fn history(&self, tool_id: &str) -> Result<Vec<HistoryEntry>, UpdateError> {
        history::list(self, tool_id)
    }
}

fn check_tool_id(tool_id: &str) -> Result<(), UpdateError> {
    if crate::manifest::is_valid_tool_id(tool_id) {
        Ok(())
    } else {
        Err(UpdateError::BadToolId {
            tool_id: tool_id.to_owned(),
        })
    }
}
