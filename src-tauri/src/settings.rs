//! The settings in force: flags and `TOOLDELTA_*` variables over the settings
//! file shared with the CLI (`tooldelta_core::config`), and saving the
//! editable part back to that file.

use std::path::{Path, PathBuf};

use tooldelta_core::ErrorKind;
use tooldelta_core::config::{Settings, SettingsError};
use tooldelta_core::events::ErrorInfo;
use tooldelta_core::signing::{TrustStore, read_public_key};

use crate::cli::AppArgs;
use crate::dto::{NetworkView, SettingsInput, SettingsView, TrustedKey};

/// The settings in force and where they are saved.
#[derive(Debug, Clone)]
pub struct Effective {
    /// Merged settings.
    pub settings: Settings,
    /// The settings file read at start-up and written on save.
    pub config_path: PathBuf,
    /// Settings set by a flag or variable (they win over the file at start-up).
    pub overridden: Vec<String>,
}

/// The settings file used when `--config` is not given.
pub fn default_config_path() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tooldelta")
        .join("config.toml")
}

/// Merges flags and variables over the settings file. A file that does not
/// exist yet counts as empty (it is created on the first save).
pub fn resolve(args: &AppArgs) -> Result<Effective, SettingsError> {
    let config_path = args.config.clone().unwrap_or_else(default_config_path);
    let file = if config_path.exists() {
        Settings::load(&config_path)?
    } else {
        Settings::default()
    };
    let flags = args.settings.to_settings();
    Ok(Effective {
        settings: flags.or(file),
        config_path,
        overridden: args.settings.overridden(),
    })
}

/// Same as [`resolve`], but a broken settings file leaves the app usable with
/// flags and variables alone; the error is returned for the UI to show.
pub fn resolve_or_flags(args: &AppArgs) -> (Effective, Option<ErrorInfo>) {
    match resolve(args) {
        Ok(effective) => (effective, None),
        Err(err) => {
            let fallback = resolve(&AppArgs {
                config: Some(PathBuf::from("/nonexistent/tooldelta/config.toml")),
                ..args.clone()
            })
            .expect("no file to read");
            let config_path = args.config.clone().unwrap_or_else(default_config_path);
            let info = ErrorInfo {
                kind: ErrorKind::Config,
                message: format!("{err}; using flags and TOOLDELTA_* variables only"),
                retryable: false,
                chain: Vec::new(),
                hint: None,
            };
            (
                Effective {
                    config_path,
                    ..fallback
                },
                Some(info),
            )
        }
    }
}

/// Reads each trusted key file; a bad one is reported, not fatal, so the
/// settings screen can show it next to the good ones.
pub fn trusted_keys(paths: &[PathBuf]) -> (TrustStore, Vec<TrustedKey>) {
    let mut store = TrustStore::new();
    let mut keys = Vec::with_capacity(paths.len());
    for path in paths {
        let (key_id, error) = match read_public_key(path) {
            Ok(key) => (Some(store.add(key).to_string()), None),
            Err(err) => (None, Some(err.to_string())),
        };
        keys.push(TrustedKey {
            path: path.display().to_string(),
            key_id,
            error,
        });
    }
    (store, keys)
}

impl Effective {
    /// The view the settings screen shows.
    pub fn view(&self) -> SettingsView {
        let (_, trust) = trusted_keys(&self.settings.trust);
        SettingsView {
            root: self.settings.root.as_ref().map(|r| r.display().to_string()),
            mirrors: self.settings.mirrors.clone(),
            trust,
            keep_releases: u32::try_from(self.settings.keep_releases()).unwrap_or(u32::MAX),
            config_path: self.config_path.display().to_string(),
            overridden: self.overridden.clone(),
            network: Some(NetworkView {
                max_rate: self.settings.max_rate.clone(),
                connections: self
                    .settings
                    .connections
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
                proxy: self.settings.proxy.clone(),
                no_proxy: self.settings.no_proxy.clone(),
                ca_cert: self
                    .settings
                    .ca_cert
                    .as_ref()
                    .map(|p| p.display().to_string()),
            }),
            notifications: self.settings.notifications != Some(false),
        }
    }

    /// Validates `input`, writes it to the settings file (keeping what the
    /// form does not edit, such as `root`), and returns the settings in force
    /// from now on: what the user just saved wins for this session.
    pub fn save(&self, input: &SettingsInput) -> Result<Effective, ErrorInfo> {
        let input = validated(input)?;
        let mut file = if self.config_path.exists() {
            Settings::load(&self.config_path).map_err(|e| config_error(&e))?
        } else {
            Settings::default()
        };
        file.mirrors.clone_from(&input.mirrors);
        file.trust = input.trust.iter().map(PathBuf::from).collect();
        file.keep_releases = Some(input.keep_releases as usize);
        if let Some(net) = &input.network {
            file.max_rate.clone_from(&net.max_rate);
            file.connections = net.connections.map(|n| n as usize);
            file.proxy.clone_from(&net.proxy);
            file.no_proxy.clone_from(&net.no_proxy);
            file.ca_cert = net.ca_cert.as_ref().map(PathBuf::from);
        }
        if input.notifications.is_some() {
            file.notifications = input.notifications;
        }
        // Commit point: the file is replaced atomically (temp file + rename).
        file.save(&self.config_path).map_err(|e| config_error(&e))?;

        let mut settings = self.settings.clone();
        settings.mirrors = file.mirrors;
        settings.trust = file.trust;
        settings.keep_releases = file.keep_releases;
        settings.notifications = file.notifications;
        if input.network.is_some() {
            settings.max_rate = file.max_rate;
            settings.connections = file.connections;
            settings.proxy = file.proxy;
            settings.no_proxy = file.no_proxy;
            settings.ca_cert = file.ca_cert;
        }
        Ok(Effective {
            settings,
            config_path: self.config_path.clone(),
            overridden: self.overridden.clone(),
        })
    }
}

fn config_error(err: &SettingsError) -> ErrorInfo {
    ErrorInfo {
        kind: ErrorKind::Config,
        message: err.to_string(),
        retryable: false,
        chain: Vec::new(),
        hint: None,
    }
}

fn invalid(message: String) -> ErrorInfo {
    ErrorInfo {
        kind: ErrorKind::InvalidSettings,
        message,
        retryable: false,
        chain: Vec::new(),
        hint: None,
    }
}

/// Trims entries, drops empty ones, and refuses what cannot work: a mirror
/// that is not an http(s) URL, a key file that is not an Ed25519 public key.
fn validated(input: &SettingsInput) -> Result<SettingsInput, ErrorInfo> {
    let mirrors: Vec<String> = input
        .mirrors
        .iter()
        .map(|m| m.trim().trim_end_matches('/').to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    for mirror in &mirrors {
        if !["http://", "https://", "file:///"]
            .iter()
            .any(|scheme| mirror.starts_with(scheme))
        {
            return Err(invalid(format!(
                "mirror {mirror:?} is not an http://, https:// or file:/// (export tree) URL"
            )));
        }
    }
    let trust: Vec<String> = input
        .trust
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    for path in &trust {
        read_public_key(Path::new(path))
            .map_err(|err| invalid(format!("trusted key {path}: {err}")))?;
    }
    if input.keep_releases > 100 {
        return Err(invalid(format!(
            "keep_releases {} is more than 100 releases",
            input.keep_releases
        )));
    }
    Ok(SettingsInput {
        mirrors,
        trust,
        keep_releases: input.keep_releases,
        network: input.network.as_ref().map(validated_network).transpose()?,
        notifications: input.notifications,
    })
}

/// Empty fields are unset; a rate, proxy or CA file that cannot work is refused.
fn validated_network(net: &NetworkView) -> Result<NetworkView, ErrorInfo> {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let out = NetworkView {
        max_rate: text(&net.max_rate),
        connections: net.connections.filter(|n| *n > 0),
        proxy: text(&net.proxy),
        no_proxy: text(&net.no_proxy),
        ca_cert: text(&net.ca_cert),
    };
    if let Some(rate) = &out.max_rate {
        tooldelta_core::rate::RateSchedule::parse(rate).map_err(|e| invalid(e.to_string()))?;
    }
    if out.connections.is_some_and(|n| n > 64) {
        return Err(invalid("connections: at most 64".to_owned()));
    }
    let network = tooldelta_core::fetch::NetworkConfig {
        proxy: out.proxy.clone(),
        no_proxy: out.no_proxy.clone(),
        ca_cert: out.ca_cert.as_ref().map(PathBuf::from),
    };
    network.check().map_err(|e| invalid(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tooldelta_core::signing::{KeyId, generate_key, public_key_pem};

    fn args_with_config(path: &Path) -> AppArgs {
        AppArgs {
            config: Some(path.to_owned()),
            ..AppArgs::default()
        }
    }

    #[test]
    fn flags_win_over_the_file_and_are_reported_as_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "root = \"/from-file\"\nmirrors = [\"http://file\"]\n",
        )
        .unwrap();
        let mut args = args_with_config(&file);
        args.settings.mirrors = vec!["http://flag".into()];
        let eff = resolve(&args).unwrap();
        assert_eq!(eff.settings.mirrors, ["http://flag"]);
        assert_eq!(eff.settings.root, Some(PathBuf::from("/from-file")));
        assert_eq!(eff.view().overridden, ["mirrors"]);
    }

    #[test]
    fn a_broken_file_falls_back_to_flags_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("broken.toml");
        std::fs::write(&file, "mirrors = 3\n").unwrap();
        let mut args = args_with_config(&file);
        args.settings.root = Some("/r".into());
        let (eff, err) = resolve_or_flags(&args);
        assert_eq!(eff.settings.root, Some(PathBuf::from("/r")));
        assert_eq!(eff.config_path, file);
        let err = err.expect("an error for the UI");
        assert_eq!(err.kind, "config");
        assert!(err.message.contains("broken.toml"), "{}", err.message);
    }

    #[test]
    fn save_writes_the_shared_file_keeps_root_and_shows_key_ids() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "root = \"/kept\"\n").unwrap();
        let key = generate_key();
        let pem = dir.path().join("hq.pub.pem");
        std::fs::write(&pem, public_key_pem(&key.verifying_key())).unwrap();

        let eff = resolve(&args_with_config(&file)).unwrap();
        let saved = eff
            .save(&SettingsInput {
                mirrors: vec![" http://m:8080/ ".into(), String::new()],
                trust: vec![pem.display().to_string()],
                keep_releases: 3,
                network: None,
                notifications: Some(false),
            })
            .unwrap();

        let on_disk = Settings::load(&file).unwrap();
        assert_eq!(on_disk.root, Some(PathBuf::from("/kept")));
        assert_eq!(on_disk.mirrors, ["http://m:8080"]);
        assert_eq!(on_disk.keep_releases, Some(3));
        assert_eq!(on_disk.notifications, Some(false));
        let view = saved.view();
        assert!(!view.notifications, "turned off, and off at once");
        assert_eq!(view.mirrors, ["http://m:8080"]);
        assert_eq!(
            view.trust[0].key_id.as_deref(),
            Some(KeyId::of(&key.verifying_key()).as_str())
        );
    }

    #[test]
    fn save_refuses_a_non_http_mirror_and_a_bad_key_file_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let eff = resolve(&args_with_config(&file)).unwrap();
        let bad_mirror = eff.save(&SettingsInput {
            mirrors: vec!["ftp://x".into()],
            trust: vec![],
            keep_releases: 2,
            network: None,
            notifications: None,
        });
        assert_eq!(bad_mirror.unwrap_err().kind, "invalid_settings");
        let not_a_key = dir.path().join("nope.pem");
        std::fs::write(&not_a_key, "hello").unwrap();
        let bad_key = eff
            .save(&SettingsInput {
                mirrors: vec![],
                trust: vec![not_a_key.display().to_string()],
                keep_releases: 2,
                network: None,
                notifications: None,
            })
            .unwrap_err();
        assert!(bad_key.message.contains("nope.pem"), "{}", bad_key.message);
        assert!(!file.exists());
    }
}
