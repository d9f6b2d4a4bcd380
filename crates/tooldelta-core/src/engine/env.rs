//! What every engine operation works with: the configuration, the install
//! layout and the fetcher ([`Env`]), below every other engine module so none
//! of them imports the façade.

use std::path::PathBuf;
use std::time::Duration;

use crate::channel::RolloutSettings;
use crate::config::DEFAULT_KEEP_RELEASES;
use crate::error::UpdateError;
use crate::fetch::{FetchConfig, Fetcher, NetworkConfig};
use crate::layout::Layout;
use crate::rate::RateSchedule;
use crate::signing::TrustStore;

/// Everything an [`Engine`](super::Engine) needs. Build with
/// [`EngineConfig::new`] and adjust fields.
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
    /// Channels followed, the workstation id, holds from the settings.
    pub rollout: RolloutSettings,
    /// How long a switch of `current` waits for running jobs to release the
    /// tool's in-use lock before it is deferred (the download stays pending).
    pub in_use_wait: Duration,
    /// Proxy and private CA (`proxy`, `no_proxy`, `ca_cert`).
    pub network: NetworkConfig,
    /// Bandwidth cap of every download (`max_rate`); `None`: unlimited.
    pub max_rate: Option<RateSchedule>,
    /// Connections of one large object's download (`connections`).
    pub connections: usize,
    /// Objects at least this large are downloaded over `connections` connections.
    pub segment_threshold: u64,
}

/// How long a switch waits for running jobs by default: long enough for a
/// launcher's short probe, short enough that an agent never hangs on a job.
pub const DEFAULT_IN_USE_WAIT: Duration = Duration::from_secs(5);

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
            rollout: RolloutSettings::default(),
            in_use_wait: DEFAULT_IN_USE_WAIT,
            network: NetworkConfig::default(),
            max_rate: None,
            connections: crate::fetch::DEFAULT_CONNECTIONS,
            segment_threshold: crate::fetch::DEFAULT_SEGMENT_THRESHOLD,
        }
    }

    /// The fetcher's part of the configuration.
    pub fn fetch_config(&self) -> FetchConfig {
        FetchConfig {
            stall_timeout: self.stall_timeout,
            connect_timeout: self.connect_timeout,
            retries: self.retries,
            network: self.network.clone(),
            max_rate: self.max_rate.clone(),
            connections: self.connections,
            segment_threshold: self.segment_threshold,
            ..FetchConfig::new(self.mirrors.clone())
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
    /// Fill the store and record the version as pending, without switching
    /// (`update --download-only`; `activate` switches later, offline).
    pub download_only: bool,
}

/// The configuration, the layout under its root, and the HTTP side.
#[derive(Debug)]
pub(crate) struct Env {
    pub config: EngineConfig,
    pub layout: Layout,
    pub fetcher: Fetcher,
}

impl Env {
    pub fn new(config: EngineConfig) -> Result<Self, UpdateError> {
        let layout = Layout::new(&config.root);
        let fetcher = Fetcher::new(&config.fetch_config())?;
        Ok(Self {
            config,
            layout,
            fetcher,
        })
    }

    /// Refuses what is not a valid tool id (CONTRACT §1).
    pub fn check_tool_id(tool_id: &str) -> Result<(), UpdateError> {
        if crate::manifest::is_valid_tool_id(tool_id) {
            Ok(())
        } else {
            Err(UpdateError::BadToolId {
                tool_id: tool_id.to_owned(),
            })
        }
    }
}
