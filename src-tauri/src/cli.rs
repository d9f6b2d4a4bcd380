//! Command-line flags. The same names, variables and precedence as the
//! `tooldelta` CLI (flags, then `TOOLDELTA_*`, then the settings file), plus
//! `--kiosk`.

use std::path::PathBuf;

use clap::Parser;

/// `tooldelta-app`: the tooldelta desktop app.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "tooldelta-app", version, about)]
pub struct AppArgs {
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
    /// Settings file (TOML), shared with the CLI. Default:
    /// `$XDG_CONFIG_HOME/tooldelta/config.toml`; it is created when settings are saved.
    #[arg(long, env = "TOOLDELTA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Full screen, read-only, large progress of every pending or running update.
    #[arg(long)]
    pub kiosk: bool,
    /// Public key (minisign, base64 as printed by `tauri signer generate`) that
    /// app self-updates must be signed with; overrides the built-in one.
    #[arg(
        long,
        env = "TOOLDELTA_APP_UPDATE_PUBKEY",
        value_name = "KEY",
        hide = true
    )]
    pub app_update_pubkey: Option<String>,
}

impl AppArgs {
    /// Which of the file-backed settings a flag or variable sets (they win over the file).
    pub fn overridden(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.root.is_some() {
            out.push("root".to_owned());
        }
        if !self.mirrors.is_empty() {
            out.push("mirrors".to_owned());
        }
        if !self.trust.is_empty() {
            out.push("trust".to_owned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_like_the_cli() {
        let args = AppArgs::try_parse_from([
            "tooldelta-app",
            "--root",
            "/r",
            "--mirror",
            "http://a,http://b",
            "--trust",
            "k.pem",
            "--kiosk",
        ])
        .unwrap();
        assert_eq!(args.root, Some(PathBuf::from("/r")));
        assert_eq!(args.mirrors, ["http://a", "http://b"]);
        assert_eq!(args.trust, [PathBuf::from("k.pem")]);
        assert!(args.kiosk);
        assert_eq!(args.overridden(), ["root", "mirrors", "trust"]);
    }
}
