//! Command-line flags. The same names, variables and precedence as the
//! `tooldelta` CLI (flags, then `TOOLDELTA_*`, then the settings file), plus
//! `--kiosk`.

use std::path::PathBuf;

use clap::Parser;
use tooldelta_flags::SettingsFlags;

/// `tooldelta-app`: the tooldelta desktop app.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "tooldelta-app", version, about)]
pub struct AppArgs {
    /// Root, mirrors, keys and network: the same flags as the CLI's.
    #[command(flatten)]
    pub settings: SettingsFlags,
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
        assert_eq!(args.settings.root, Some(PathBuf::from("/r")));
        assert_eq!(args.settings.mirrors, ["http://a", "http://b"]);
        assert_eq!(args.settings.trust, [PathBuf::from("k.pem")]);
        assert!(args.kiosk);
        assert_eq!(args.kiosk_page_seconds, 3);
        assert!(AppArgs::try_parse_from(["tooldelta-app", "--kiosk-page-seconds", "0"]).is_err());
        assert_eq!(args.settings.overridden(), ["root", "mirrors", "trust"]);
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
