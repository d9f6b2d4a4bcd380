//! The settings every tooldelta program on a workstation takes as flags or
//! `TOOLDELTA_*` variables. The CLI and the desktop app flatten the same
//! struct, so a name, a variable or a help text cannot drift between them;
//! precedence is the same everywhere: flags, then variables, then the
//! settings file ([`Settings::or`]).

use std::path::PathBuf;

use clap::Args;
use tooldelta_core::config::Settings;

/// Where tools live, where they come from, who signs them and how the
/// network is reached.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsFlags {
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

impl SettingsFlags {
    /// These flags as the top layer of settings; what they leave unset is
    /// `None`/empty, so [`Settings::or`] takes it from the layer below.
    #[must_use]
    pub fn to_settings(&self) -> Settings {
        Settings {
            root: self.root.clone(),
            mirrors: self.mirrors.clone(),
            trust: self.trust.clone(),
            max_rate: self.max_rate.clone(),
            connections: self.connections,
            proxy: self.proxy.clone(),
            no_proxy: self.no_proxy.clone(),
            ca_cert: self.ca_cert.clone(),
            ..Settings::default()
        }
    }

    /// The settings-file keys these flags set (they win over the file), in
    /// declaration order.
    #[must_use]
    pub fn overridden(&self) -> Vec<String> {
        let set = [
            ("root", self.root.is_some()),
            ("mirrors", !self.mirrors.is_empty()),
            ("trust", !self.trust.is_empty()),
            ("max_rate", self.max_rate.is_some()),
            ("connections", self.connections.is_some()),
            ("proxy", self.proxy.is_some()),
            ("no_proxy", self.no_proxy.is_some()),
            ("ca_cert", self.ca_cert.is_some()),
        ];
        set.iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| (*name).to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        flags: SettingsFlags,
    }

    #[test]
    fn flags_become_the_top_settings_layer_and_name_what_they_override() {
        let cmd = Cmd::try_parse_from([
            "t",
            "--root",
            "/r",
            "--mirror",
            "http://a,http://b",
            "--connections",
            "8",
        ])
        .unwrap();
        let file = Settings {
            root: Some("/file".into()),
            proxy: Some("http://proxy:3128".into()),
            ..Settings::default()
        };
        let merged = cmd.flags.to_settings().or(file);
        assert_eq!(merged.root, Some(PathBuf::from("/r")));
        assert_eq!(merged.mirrors, ["http://a", "http://b"]);
        assert_eq!(merged.connections, Some(8));
        assert_eq!(merged.proxy.as_deref(), Some("http://proxy:3128"));
        assert_eq!(cmd.flags.overridden(), ["root", "mirrors", "connections"]);
    }
}
