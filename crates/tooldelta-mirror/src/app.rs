//! The desktop app's self-update feed for tauri-plugin-updater.
//!
//! Releases live in `STORE/app/<target>/<arch>/<version>.json`. The plugin asks
//! `GET /api/v1/app/{target}/{arch}/{current_version}`: 204 when no stored
//! version is higher, else `{version, notes, pub_date, url, signature}` of the
//! highest. An artifact imported with the release is stored as a blob and its
//! `url` points at the blob route of the mirror that answers.

use std::fs::{File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tooldelta_core::hash::{ContentDigest, HASH_BUF_SIZE, HashingWriter};
use tooldelta_core::manifest::parse_version;

use crate::store::{Store, fsutil, is_version_text};

/// One app release as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRelease {
    /// SemVer of the release.
    pub version: String,
    /// Release notes shown by the updater.
    #[serde(default)]
    pub notes: String,
    /// RFC 3339 publication time.
    pub pub_date: String,
    /// The minisign signature of the artifact (content of the `.sig` file).
    pub signature: String,
    /// Where the artifact is downloaded from, when given explicitly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The artifact stored in this mirror's blobs, when imported with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
}

/// An artifact stored as a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// The JSON tauri-plugin-updater expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdaterResponse {
    /// The offered version.
    pub version: String,
    /// Release notes.
    pub notes: String,
    /// RFC 3339.
    pub pub_date: String,
    /// Download URL of the artifact.
    pub url: String,
    /// Minisign signature of the artifact.
    pub signature: String,
}

/// What `import-app` is given.
#[derive(Debug, Clone)]
pub struct AppReleaseInput {
    /// `linux`, `windows`, `darwin` (the plugin's `{{target}}`).
    pub target: String,
    /// `x86_64`, `aarch64`, … (the plugin's `{{arch}}`).
    pub arch: String,
    /// SemVer of the release.
    pub version: String,
    /// Release notes.
    pub notes: String,
    /// RFC 3339; now when absent.
    pub pub_date: Option<String>,
    /// The minisign signature text.
    pub signature: String,
    /// An explicit download URL …
    pub url: Option<String>,
    /// … or the artifact file, stored as a blob of this mirror.
    pub artifact: Option<PathBuf>,
}

/// Why an app release could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum AppImportError {
    /// An argument breaks a rule (named in the message).
    #[error("import-app: {0}")]
    Invalid(String),
    /// Reading the artifact or writing the store failed.
    #[error("import-app: {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Whether a target or arch name is safe and plausible: `[a-z0-9][a-z0-9_-]{0,31}`.
pub fn is_platform_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-'))
}

fn platform_dir(store: &Store, target: &str, arch: &str) -> PathBuf {
    store.root().join("app").join(target).join(arch)
}

impl Store {
    /// Adds (or replaces) an app release.
    pub fn import_app(&self, input: &AppReleaseInput) -> Result<AppRelease, AppImportError> {
        let invalid = AppImportError::Invalid;
        for (what, name) in [("target", &input.target), ("arch", &input.arch)] {
            if !is_platform_name(name) {
                return Err(invalid(format!(
                    "{what} {name:?} must match [a-z0-9][a-z0-9_-]{{0,31}}"
                )));
            }
        }
        if !is_version_text(&input.version) {
            return Err(invalid(format!(
                "version {:?} is not SemVer",
                input.version
            )));
        }
        let pub_date = match &input.pub_date {
            Some(date) => {
                date.parse::<jiff::Timestamp>()
                    .map_err(|e| invalid(format!("pub_date {date:?} is not RFC 3339: {e}")))?;
                date.clone()
            }
            None => jiff::Timestamp::now().to_string(),
        };
        let signature = input.signature.trim().to_owned();
        if signature.is_empty() {
            return Err(invalid("the signature is empty".into()));
        }
        let artifact = match (&input.url, &input.artifact) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(invalid("give exactly one of --url and --artifact".into()));
            }
            (Some(_), None) => None,
            (None, Some(path)) => {
                let digest =
                    self.put_blob_from_file(path)
                        .map_err(|source| AppImportError::Io {
                            path: path.clone(),
                            source,
                        })?;
                Some(Artifact {
                    sha256: digest.sha256,
                    size: digest.size,
                })
            }
        };
        let release = AppRelease {
            version: input.version.clone(),
            notes: input.notes.clone(),
            pub_date,
            signature,
            url: input.url.clone(),
            artifact,
        };
        let dest =
            platform_dir(self, &input.target, &input.arch).join(format!("{}.json", input.version));
        let bytes = crate::store::to_json_bytes(&release);
        tooldelta_core::fs::write_atomic(&dest, &bytes).map_err(|source| AppImportError::Io {
            path: dest.clone(),
            source,
        })?;
        Ok(release)
    }

    /// The highest release for a platform, if it is newer than `current`.
    /// Blocking.
    pub fn app_update(
        &self,
        target: &str,
        arch: &str,
        current: &semver::Version,
    ) -> io::Result<Option<AppRelease>> {
        if !is_platform_name(target) || !is_platform_name(arch) {
            return Ok(None);
        }
        let dir = platform_dir(self, target, arch);
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut best: Option<(semver::Version, String)> = None;
        for entry in entries {
            let name = entry?.file_name().into_string().unwrap_or_default();
            let Some(version) = name.strip_suffix(".json").filter(|v| is_version_text(v)) else {
                continue;
            };
            let Ok(parsed) = parse_version(version) else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _)| parsed > *b) {
                best = Some((parsed, name.clone()));
            }
        }
        let Some((version, name)) = best.filter(|(v, _)| v > current) else {
            return Ok(None);
        };
        let rel = Path::new("app").join(target).join(arch).join(&name);
        let Some((file, _)) = fsutil::open_inside(self.root(), &rel)? else {
            return Ok(None);
        };
        let mut text = String::new();
        Read::take(file, 1 << 20).read_to_string(&mut text)?;
        let release: AppRelease = serde_json::from_str(&text)
            .map_err(|e| io::Error::other(format!("app release {name} ({version}): {e}")))?;
        Ok(Some(release))
    }

    /// Copies a file into `blobs/` under its SHA-256 (temp file, fsync, rename).
    pub fn put_blob_from_file(&self, source: &Path) -> io::Result<ContentDigest> {
        let mut src = File::open(source)?;
        let (file, temp) = fsutil::create_temp(&self.tmp_dir(), "artifact")?;
        let result = (|| {
            let mut writer = HashingWriter::new(file);
            let mut buf = vec![0; HASH_BUF_SIZE];
            loop {
                let n = src.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                writer.write_all(&buf[..n])?;
            }
            let (file, digest) = writer.finish();
            file.sync_all()?;
            std::fs::set_permissions(&temp, Permissions::from_mode(0o444))?;
            tooldelta_core::fs::persist(&temp, &self.blob_path(&digest.sha256))?;
            Ok(digest)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }
}

impl AppRelease {
    /// The plugin's JSON; `base` is the mirror's public URL, used when the
    /// artifact is one of its blobs.
    pub fn to_updater(&self, base: &str) -> UpdaterResponse {
        let url = match (&self.url, &self.artifact) {
            (Some(url), _) => url.clone(),
            (None, Some(a)) => format!(
                "{}/{}",
                base.trim_end_matches('/'),
                tooldelta_core::api::blob(&a.sha256)
            ),
            (None, None) => String::new(),
        };
        UpdaterResponse {
            version: self.version.clone(),
            notes: self.notes.clone(),
            pub_date: self.pub_date.clone(),
            url,
            signature: self.signature.clone(),
        }
    }
}
