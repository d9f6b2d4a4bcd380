//! The settings file shared by the CLI and the desktop app.
//!
//! Precedence, highest first: command-line flags, `TOOLDELTA_*` environment
//! variables, this file, built-in defaults. The front-ends parse flags and the
//! environment; this module reads the file and merges.
//!
//! ```toml
//! root = "/var/lib/tooldelta"
//! mirrors = ["http://mirror.site.lan:8080", "https://hq.example.com"]
//! trust = ["/etc/tooldelta/hq-2026.pub.pem", "/etc/tooldelta/hq-2027.pub.pem"]
//! keep_releases = 2
//! channel = "stable"              # the channel every tool follows (default)
//! workstation_id = "lab-3-ws-12"  # else generated once under the root
//! report_token = "s3cret"         # bearer token for fleet reports
//!
//! policy = "notify"               # the agent's default: auto | download | notify | manual
//! window = "daily 02:00-04:00"    # when the agent may switch (local time)
//! download_window = "Mon-Fri 19:00-07:00"  # when it may download (default: any time)
//! check_interval = "1h"           # the agent's checks, jittered by ±10 %
//!
//! max_rate = "09:00-18:00=10MiB"  # bandwidth cap (see `rate`), else unlimited
//! connections = 4                 # connections for one large file
//! proxy = "http://proxy.corp:3128" # else HTTPS_PROXY / HTTP_PROXY
//! no_proxy = "mirror.site.lan"    # else NO_PROXY
//! ca_cert = "/etc/tooldelta/site-ca.pem"  # a private CA, besides the system's
//!
//! [tools.llama-chat]
//! channel = "beta"
//! hold = "1.2.0"                  # or `true`: held at the active version
//! policy = "auto"
//! window = "Sat 01:00-05:00"
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::channel::{RolloutSettings, ToolSettings};

/// How many previous releases are kept for `rollback` unless configured.
pub const DEFAULT_KEEP_RELEASES: usize = 2;

/// The contents of a settings file. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Install root (`--root`, `TOOLDELTA_ROOT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Mirror base URLs, tried in order (`--mirror`, `TOOLDELTA_MIRROR`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<String>,
    /// Trusted public keys, SPKI PEM files (`--trust`, `TOOLDELTA_TRUST`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<PathBuf>,
    /// Previous releases kept for rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_releases: Option<usize>,
    /// The channel tools follow (`--channel`; default `stable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The workstation's id for staged rollouts (`--workstation-id`;
    /// default: generated once under the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workstation_id: Option<String>,
    /// The agent's policy for tools without their own (default `notify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::agent::Policy>,
    /// The agent's maintenance window for switching (default: any time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// When the agent may download (default: any time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_window: Option<String>,
    /// Time between the agent's checks, e.g. `"1h"` or `"15m"` (default 1 h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_interval: Option<String>,
    /// The agent's log file (default `ROOT/logs/agent.log`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
    /// Bearer token for the mirror's report route (`tooldelta report --token`;
    /// the agent sends its reports with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_token: Option<String>,
    /// Bandwidth cap of every download, with an optional daily schedule
    /// (`--max-rate`, `TOOLDELTA_MAX_RATE`; syntax in [`crate::rate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<String>,
    /// Connections for one large file (`--connections`, `TOOLDELTA_CONNECTIONS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
    /// Proxy for every request (`--proxy`, `TOOLDELTA_PROXY`; else the
    /// environment's `HTTPS_PROXY` / `HTTP_PROXY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Hosts reached without the proxy (`--no-proxy`, `TOOLDELTA_NO_PROXY`;
    /// else `NO_PROXY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Extra certificate authorities, PEM (`--ca-cert`, `TOOLDELTA_CA_CERT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// Whether the desktop app shows OS notifications when updates are
    /// available, applied or failed (default on; the CLI and agent ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<bool>,
    /// Per tool: `[tools.ID]` with `channel`, `hold`, `policy`, `window`,
    /// `download_window`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tools: std::collections::BTreeMap<String, ToolSettings>,
}

/// A settings file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read or written.
    #[error("settings file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("settings file {path}: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        #[source]
        source: toml::de::Error,
    },
}

impl Settings {
    /// Reads a settings file. Relative paths in it are resolved against the
    /// file's folder, so a config can travel with its keys.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut settings: Self = toml::from_str(&text).map_err(|source| SettingsError::Toml {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        settings.root = settings.root.map(|r| base.join(r));
        settings.trust = settings.trust.into_iter().map(|t| base.join(t)).collect();
        settings.log_file = settings.log_file.map(|l| base.join(l));
        settings.ca_cert = settings.ca_cert.map(|c| base.join(c));
        Ok(settings)
    }

    /// Writes the settings as TOML, atomically and durably (the core's one
    /// atomic write: temp file, fsync, rename, fsync of the folder): the app
    /// treats a save as a commit point.
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let text = toml::to_string_pretty(self).expect("settings always serialize");
        crate::fs::write_atomic(path, text.as_bytes()).map_err(|source| SettingsError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Fills every field this one leaves empty from `lower` (a lower-precedence source).
    #[must_use]
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            root: self.root.or(lower.root),
            mirrors: if self.mirrors.is_empty() {
                lower.mirrors
            } else {
                self.mirrors
            },
            trust: if self.trust.is_empty() {
                lower.trust
            } else {
                self.trust
            },
            keep_releases: self.keep_releases.or(lower.keep_releases),
            channel: self.channel.or(lower.channel),
            workstation_id: self.workstation_id.or(lower.workstation_id),
            policy: self.policy.or(lower.policy),
            window: self.window.or(lower.window),
            download_window: self.download_window.or(lower.download_window),
            check_interval: self.check_interval.or(lower.check_interval),
            log_file: self.log_file.or(lower.log_file),
            report_token: self.report_token.or(lower.report_token),
            max_rate: self.max_rate.or(lower.max_rate),
            connections: self.connections.or(lower.connections),
            proxy: self.proxy.or(lower.proxy),
            no_proxy: self.no_proxy.or(lower.no_proxy),
            ca_cert: self.ca_cert.or(lower.ca_cert),
            notifications: self.notifications.or(lower.notifications),
            tools: if self.tools.is_empty() {
                lower.tools
            } else {
                self.tools
            },
        }
    }

    /// The engine's rollout settings (channels, workstation id, holds).
    pub fn rollout(&self) -> RolloutSettings {
        RolloutSettings {
            channel: self.channel.clone(),
            workstation_id: self.workstation_id.clone(),
            tools: self.tools.clone(),
        }
    }

    /// Proxy and trust settings for the HTTP clients.
    pub fn network(&self) -> crate::fetch::NetworkConfig {
        crate::fetch::NetworkConfig {
            proxy: self.proxy.clone().filter(|p| !p.trim().is_empty()),
            no_proxy: self.no_proxy.clone(),
            ca_cert: self.ca_cert.clone(),
        }
    }

    /// The bandwidth cap, parsed; `None` when unset.
    pub fn max_rate(&self) -> Result<Option<crate::rate::RateSchedule>, crate::rate::RateError> {
        self.max_rate
            .as_deref()
            .map(crate::rate::RateSchedule::parse)
            .transpose()
    }

    /// Previous releases kept, or the default.
    pub fn keep_releases(&self) -> usize {
        self.keep_releases.unwrap_or(DEFAULT_KEEP_RELEASES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_follow_the_file_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tooldelta.toml");
        std::fs::write(
            &file,
            "root = \"r\"\nmirrors = [\"http://m\"]\ntrust = [\"k.pem\"]\n",
        )
        .unwrap();
        let from_file = Settings::load(&file).unwrap();
        assert_eq!(from_file.root, Some(dir.path().join("r")));
        assert_eq!(from_file.trust, vec![dir.path().join("k.pem")]);
        let flags = Settings {
            mirrors: vec!["http://flag".into()],
            ..Settings::default()
        };
        let merged = flags.or(from_file);
        assert_eq!(merged.mirrors, ["http://flag"]);
        assert_eq!(merged.root, Some(dir.path().join("r")));
        assert_eq!(merged.keep_releases(), DEFAULT_KEEP_RELEASES);
    }

    #[test]
    fn channels_workstation_id_and_holds_are_read_per_tool() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "channel = \"beta\"\nworkstation_id = \"ws-1\"\n[tools.a]\nchannel = \"stable\"\nhold = \"1.2.0\"\n[tools.b]\nhold = true\n",
        )
        .unwrap();
        let rollout = Settings::load(&file).unwrap().rollout();
        assert_eq!(rollout.channel_for("a"), "stable");
        assert_eq!(rollout.channel_for("b"), "beta");
        assert_eq!(rollout.hold_for("a"), Some(Some("1.2.0".into())));
        assert_eq!(rollout.hold_for("b"), Some(None));
        assert_eq!(rollout.hold_for("c"), None);
        assert_eq!(rollout.workstation_id.as_deref(), Some("ws-1"));
    }

    #[test]
    fn unknown_keys_are_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "mirror = \"http://typo\"\n").unwrap();
        let err = Settings::load(&file).unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains("mirror"), "{err}");
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        let s = Settings {
            root: Some(dir.path().join("root")),
            keep_releases: Some(3),
            ..Settings::default()
        };
        s.save(&file).unwrap();
        assert_eq!(Settings::load(&file).unwrap(), s);
    }
}
