//! The publisher's half: a tool folder in, a signed manifest out.
//!
//! Files are hashed in parallel (one rayon task per file, one fixed buffer per
//! task, so memory stays bounded by the core count, not by file sizes), and the
//! output is deterministic: the same tree, id, version and key give the same
//! bytes.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rayon::prelude::*;

use crate::hash::hash_file;
use crate::manifest::{FileEntry, MANIFEST_VERSION, Manifest, RuleViolation, check_path};

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The tool's folder.
    pub tool_dir: PathBuf,
    /// `tool_id` of the manifest.
    pub tool_id: String,
    /// `tool_version` of the manifest.
    pub version: String,
    /// When set, each file gets `url = {base}/api/v1/tools/{id}/{version}/files/{path}`.
    pub base_url: Option<String>,
    /// `created_at`, only when asked for (it makes output time-dependent).
    pub created_at: Option<String>,
    /// `expires_at`, after which clients refuse the manifest.
    pub expires_at: Option<String>,
}

/// Why a tool folder could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A symlink: a manifest lists regular files only.
    #[error("{path} is a symlink; a release holds regular files only")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A name that is not UTF-8 cannot be written in a manifest.
    #[error("{path} has a name that is not UTF-8")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The manifest would break a rule (a hostile file name, a bad id or version).
    #[error("cannot publish {tool_dir}: {source}")]
    Rule {
        /// The tool folder.
        tool_dir: PathBuf,
        /// The rule.
        #[source]
        source: RuleViolation,
    },
}

/// Builds the unsigned manifest of a tool folder.
pub fn build_manifest(opts: &PublishOptions) -> Result<Manifest, PublishError> {
    let mut paths = list_files(&opts.tool_dir)?;
    paths.sort_unstable();
    let files = paths
        .par_iter()
        .map(|rel| {
            let full = opts.tool_dir.join(rel);
            let digest =
                hash_file(&full).map_err(|source| PublishError::Io { path: full, source })?;
            Ok(FileEntry {
                url: opts
                    .base_url
                    .as_deref()
                    .map(|base| file_url(base, opts, rel)),
                path: rel.clone(),
                sha256: digest.sha256,
                size: digest.size,
                extra: std::collections::BTreeMap::new(),
            })
        })
        .collect::<Result<Vec<_>, PublishError>>()?;
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION.to_owned(),
        tool_id: opts.tool_id.clone(),
        tool_version: opts.version.clone(),
        created_at: opts.created_at.clone(),
        expires_at: opts.expires_at.clone(),
        files,
        manifest_hash: String::new(),
        signature: None,
        extra: std::collections::BTreeMap::new(),
    };
    manifest
        .check_rules()
        .map_err(|source| PublishError::Rule {
            tool_dir: opts.tool_dir.clone(),
            source,
        })?;
    Ok(manifest)
}

/// Builds and signs the manifest of a tool folder.
pub fn publish(opts: &PublishOptions, key: &SigningKey) -> Result<Manifest, PublishError> {
    let mut manifest = build_manifest(opts)?;
    crate::signing::sign(&mut manifest, key);
    Ok(manifest)
}

/// The mirror route of a file, with each path segment percent-encoded.
pub fn file_url(base: &str, opts: &PublishOptions, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        crate::api::file(&opts.tool_id, &opts.version, path)
    )
}

/// Every regular file under `root`, as manifest paths; refuses symlinks and
/// names a manifest could not carry.
fn list_files(root: &Path) -> Result<Vec<String>, PublishError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false).min_depth(1) {
        let entry = entry.map_err(|e| PublishError::Io {
            path: e.path().unwrap_or(root).to_owned(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
        })?;
        let kind = entry.file_type();
        if kind.is_dir() {
            continue;
        }
        let path = entry.path();
        if kind.is_symlink() {
            return Err(PublishError::Symlink {
                path: path.to_owned(),
            });
        }
        let rel = path
            .strip_prefix(root)
            .expect("walkdir stays under its root");
        let rel = rel.to_str().ok_or_else(|| PublishError::NotUtf8 {
            path: path.to_owned(),
        })?;
        let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
        check_path(&rel).map_err(|rule| PublishError::Rule {
            tool_dir: root.to_owned(),
            source: RuleViolation::Path {
                path: rel.clone(),
                rule,
            },
        })?;
        out.push(rel);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path) -> PublishOptions {
        PublishOptions {
            tool_dir: dir.to_owned(),
            tool_id: "demo".into(),
            version: "1.0.0".into(),
            base_url: Some("https://hq.example/".into()),
            created_at: None,
            expires_at: None,
        }
    }

    #[test]
    fn sorted_by_bytes_with_urls_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::create_dir_all(dir.path().join("a-b")).unwrap();
        std::fs::write(dir.path().join("a/x"), b"1").unwrap();
        std::fs::write(dir.path().join("a-b/x y"), b"22").unwrap();
        let key = SigningKey::from_bytes(&[1; 32]);
        let m = publish(&opts(dir.path()), &key).unwrap();
        let paths: Vec<_> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a-b/x y", "a/x"]);
        assert_eq!(
            m.files[0].url.as_deref(),
            Some("https://hq.example/api/v1/tools/demo/1.0.0/files/a-b/x%20y")
        );
        assert_eq!(m.files[0].size, 2);
        assert_eq!(
            publish(&opts(dir.path()), &key).unwrap().to_pretty_json(),
            m.to_pretty_json()
        );
    }

    #[test]
    fn refuses_symlinks_and_colliding_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Readme"), b"1").unwrap();
        std::fs::write(dir.path().join("README"), b"2").unwrap();
        let err = build_manifest(&opts(dir.path())).unwrap_err();
        assert!(err.to_string().contains("path-case-collision"), "{err}");
        std::fs::remove_file(dir.path().join("README")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        assert!(matches!(
            build_manifest(&opts(dir.path())),
            Err(PublishError::Symlink { .. })
        ));
    }
}
