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
    /// Settings file (TOML), shared with the CLI. Default:
    /// `$XDG_CONFIG_HOME/tooldelta/config.toml`; it is created when settings are saved.
    #[arg(long, env = "TOOLDELTA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Full screen, read-only, large progress of every pending or running update.
    #[arg(long)]
    pub kiosk: bool,
    /// Seconds the kiosk shows each page of tools before turning to the next.
    #[arg(long, value_name = "SECONDS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub kiosk_page_seconds: u32,
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
        let network = [
            ("max_rate", self.max_rate.is_some()),
            ("connections", self.connections.is_some()),
            ("proxy", self.proxy.is_some()),
            ("no_proxy", self.no_proxy.is_some()),
            ("ca_cert", self.ca_cert.is_some()),
        ];
        out.extend(
            network
                .iter()
                .filter(|(_, set)| *set)
                .map(|(name, _)| (*name).to_owned()),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::CommandFactory as _;

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
            "--kiosk-page-seconds",
            "3",
        ])
        .unwrap();
        assert_eq!(args.root, Some(PathBuf::from("/r")));
        assert_eq!(args.mirrors, ["http://a", "http://b"]);
        assert_eq!(args.trust, [PathBuf::from("k.pem")]);
        assert!(args.kiosk);
        assert_eq!(args.kiosk_page_seconds, 3);
        assert!(AppArgs::try_parse_from(["tooldelta-app", "--kiosk-page-seconds", "0"]).is_err());
        assert_eq!(args.overridden(), ["root", "mirrors", "trust"]);
    }

    /// One option as `--help` shows it: value name, variable and help text.
    #[derive(Debug, PartialEq, Eq)]
    struct Flag {
        value: String,
        env: Option<String>,
        help: String,
    }

    /// The options of the real `tooldelta update --help`, by long name.
    fn cli_flags() -> BTreeMap<String, Flag> {
        let exe = std::env::current_exe().expect("the test executable");
        let dir = exe.parent().and_then(|d| d.parent()).expect("target/debug");
        let cli = dir.join("tooldelta");
        assert!(
            cli.is_file(),
            "{} is not built: `cargo build -p tooldelta-cli --bins` first (make test-app does)",
            cli.display()
        );
        let out = std::process::Command::new(&cli)
            .args(["update", "--help"])
            .env("COLUMNS", "10000")
            .output()
            .expect("run tooldelta update --help");
        let text = String::from_utf8(out.stdout).expect("UTF-8 help");
        let mut flags = BTreeMap::new();
        for line in text.lines().map(str::trim_start) {
            let Some(rest) = line.strip_prefix("--") else {
                continue;
            };
            let (head, help) = rest.split_once("  ").unwrap_or((rest, ""));
            let Some((long, value)) = head.split_once(' ') else {
                continue;
            };
            let help = help.trim();
            let (help, env) = match help.split_once(" [env: ") {
                Some((h, e)) => (h, e.split('=').next().map(str::to_owned)),
                None => (help, None),
            };
            let value = value.trim_matches(['<', '>']).to_owned();
            let help = help.to_owned();
            flags.insert(long.to_owned(), Flag { value, env, help });
        }
        flags
    }

    /// The app's options as the same triples.
    fn app_flags() -> BTreeMap<String, Flag> {
        AppArgs::command()
            .get_arguments()
            .filter_map(|a| {
                let long = a.get_long()?.to_owned();
                let value = a.get_value_names()?.first()?.to_string();
                let env = a.get_env().map(|e| e.to_string_lossy().into_owned());
                let help = a.get_help().map(ToString::to_string).unwrap_or_default();
                Some((long, Flag { value, env, help }))
            })
            .collect()
    }

    #[test]
    fn every_cli_setting_read_from_the_environment_is_an_app_flag_with_the_same_name_and_variable()
    {
        let (cli, app) = (cli_flags(), app_flags());
        let settings: Vec<&String> = cli
            .iter()
            .filter(|(_, f)| {
                f.env
                    .as_deref()
                    .is_some_and(|e| e.starts_with("TOOLDELTA_"))
            })
            .map(|(long, _)| long)
            .collect();
        assert_eq!(
            settings,
            [
                "ca-cert",
                "config",
                "connections",
                "max-rate",
                "mirror",
                "no-proxy",
                "proxy",
                "root",
                "trust"
            ],
            "{cli:?}"
        );
        for long in settings {
            let (c, a) = (&cli[long], app.get(long));
            let a = a.unwrap_or_else(|| panic!("the app has no --{long}"));
            assert_eq!((&a.value, &a.env), (&c.value, &c.env), "--{long}");
            if long != "config" {
                // The app's --config also says where its default file is.
                assert_eq!(a.help, c.help, "--{long} is documented differently");
            }
        }
    }
}
