//! Where a command's root, mirrors and trusted keys come from: flags, then
//! `TOOLDELTA_*` variables (both through clap), then the `--config` file.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use tooldelta_core::config::Settings;
use tooldelta_core::signing::TrustStore;
use tooldelta_flags::SettingsFlags;

/// Options shared by the workstation commands.
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// Root, mirrors, keys and network: the same flags as the desktop app's.
    #[command(flatten)]
    pub settings: SettingsFlags,
    /// Previous releases kept for `rollback`.
    #[arg(long, value_name = "N")]
    pub keep_releases: Option<usize>,
    /// The channel tools follow (default `stable`).
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,
    /// This workstation's id for staged rollouts (default: generated once under the root).
    #[arg(long, value_name = "ID")]
    pub workstation_id: Option<String>,
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
            keep_releases: self.keep_releases,
            channel: self.channel.clone(),
            workstation_id: self.workstation_id.clone(),
            ..self.settings.to_settings()
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
