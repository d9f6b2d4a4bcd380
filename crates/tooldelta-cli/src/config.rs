//! Where a command's root, mirrors and trusted keys come from: flags, then
//! `TOOLDELTA_*` variables (both through clap), then the `--config` file.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use tooldelta_core::config::Settings;
use tooldelta_core::signing::TrustStore;

/// Options shared by the workstation commands.
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// Install root holding `tools/<id>/current`.
    #[arg(long, env = "TOOLDELTA_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Mirror base URL; repeat (or separate with commas) to add fallbacks, tried in order.
    #[arg(
        long = "mirror",
        env = "TOOLDELTA_MIRROR",
        value_name = "URL",
        value_delimiter = ','
    )]
    pub mirrors: Vec<String>,
    /// Trusted public key (SPKI PEM); repeat (or separate with commas) to trust several.
    #[arg(
        long = "trust",
        env = "TOOLDELTA_TRUST",
        value_name = "PUB.pem",
        value_delimiter = ','
    )]
    pub trust: Vec<PathBuf>,
    /// Previous releases kept for `rollback`.
    #[arg(long, value_name = "N")]
    pub keep_releases: Option<usize>,
    /// The channel tools follow (default `stable`).
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,
    /// This workstation's id for staged rollouts (default: generated once under the root).
    #[arg(long, value_name = "ID")]
    pub workstation_id: Option<String>,
    /// Bandwidth cap of all downloads: `20MiB`, or a
    /// schedule such as `09:00-18:00=10MiB,unlimited` (see docs/network.md).
    #[arg(long, env = "TOOLDELTA_MAX_RATE", value_name = "RATE")]
    pub max_rate: Option<String>,
    /// Connections for one large file (default 4; 1 = one stream).
    #[arg(long, env = "TOOLDELTA_CONNECTIONS", value_name = "N")]
    pub connections: Option<usize>,
    /// Proxy for every request (default: HTTPS_PROXY / HTTP_PROXY).
    #[arg(long, env = "TOOLDELTA_PROXY", value_name = "URL")]
    pub proxy: Option<String>,
    /// Hosts reached without the proxy, comma-separated (default: NO_PROXY).
    #[arg(long, env = "TOOLDELTA_NO_PROXY", value_name = "HOSTS")]
    pub no_proxy: Option<String>,
    /// Extra certificate authorities (PEM) trusted for HTTPS mirrors.
    #[arg(long, env = "TOOLDELTA_CA_CERT", value_name = "CA.pem")]
    pub ca_cert: Option<PathBuf>,
}

/// Settings after merging flags, environment and the config file.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Everything known, for callers that need the optional parts.
    pub settings: Settings,
}

impl TargetArgs {
    /// Merges these arguments over the config file, if one was given.
    pub fn resolve(&self, config: Option<&PathBuf>) -> Result<Resolved> {
        let flags = Settings {
            root: self.root.clone(),
            mirrors: self.mirrors.clone(),
            trust: self.trust.clone(),
            keep_releases: self.keep_releases,
            channel: self.channel.clone(),
            workstation_id: self.workstation_id.clone(),
            max_rate: self.max_rate.clone(),
            connections: self.connections,
            proxy: self.proxy.clone(),
            no_proxy: self.no_proxy.clone(),
            ca_cert: self.ca_cert.clone(),
            ..Settings::default()
        };
        let file = match config {
            Some(path) => Settings::load(path)?,
            None => Settings::default(),
        };
        Ok(Resolved {
            settings: flags.or(file),
        })
    }
}

impl Resolved {
    /// The install root, required by every workstation command.
    pub fn root(&self) -> Result<PathBuf> {
        self.settings.root.clone().context(
            "no install root: pass --root DIR, set TOOLDELTA_ROOT, or set `root` in --config",
        )
    }

    /// The mirrors, at least one.
    pub fn mirrors(&self) -> Result<Vec<String>> {
        if self.settings.mirrors.is_empty() {
            bail!(
                "no mirror: pass --mirror URL, set TOOLDELTA_MIRROR, or set `mirrors` in --config"
            );
        }
        Ok(self.settings.mirrors.clone())
    }

    /// The trusted keys, at least one: tooldelta never installs unsigned data.
    pub fn trust(&self) -> Result<TrustStore> {
        if self.settings.trust.is_empty() {
            bail!(
                "no trusted key: pass --trust PUB.pem, set TOOLDELTA_TRUST, or set `trust` in --config"
            );
        }
        Ok(TrustStore::from_pem_files(&self.settings.trust)?)
    }
}
