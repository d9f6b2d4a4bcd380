//! The publisher's half: a tool folder in, a signed manifest out.
//!
//! Files are hashed in parallel (one rayon task per file, one fixed buffer per
//! task, so memory stays bounded by the core count, not by file sizes), and the
//! output is deterministic: the same tree, id, version and key give the same
//! bytes.
//!
//! Files at least [`ChunkOptions::threshold`] bytes large also get a chunk
//! index ([`crate::chunks`]): a second core cuts and hashes chunks while the
//! first hashes the whole file, the index object is written into
//! [`ChunkOptions::out_dir`] under its SHA-256, and the manifest entry names
//! it in `chunks`, where `manifest_hash` and the signature cover it.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rayon::prelude::*;

use crate::chunks::index_file;
use crate::hash::{ContentDigest, hash_bytes, hash_file};
use crate::manifest::{
    ChunksRef, FileEntry, MANIFEST_VERSION, Manifest, RuleViolation, check_path,
};

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
    /// `release_notes`: plain text or simple Markdown for people, signed
    /// with the rest (at most [`MAX_RELEASE_NOTES_BYTES`](crate::manifest::MAX_RELEASE_NOTES_BYTES)).
    pub release_notes: Option<String>,
    /// Chunk indexes for large files; `None` publishes none.
    pub chunks: Option<ChunkOptions>,
}

/// Which files get a chunk index, whether small files are packed, and where
/// those objects go.
#[derive(Debug, Clone)]
pub struct ChunkOptions {
    /// Files of at least this many bytes are chunked.
    pub threshold: u64,
    /// Index objects (and packs) are written here as `<sha256 hex>`
    /// (created if missing). A mirror's `import` looks for them there.
    pub out_dir: PathBuf,
    /// Also group the small files into packs ([`crate::packs`]), listed in
    /// the manifest's `packs`.
    pub packs: bool,
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
            let (digest, chunks) = hash_and_index(&full, opts.chunks.as_ref())
                .map_err(|source| PublishError::Io { path: full, source })?;
            Ok(FileEntry {
                url: opts
                    .base_url
                    .as_deref()
                    .map(|base| file_url(base, opts, rel)),
                path: rel.clone(),
                sha256: digest.sha256,
                size: digest.size,
                chunks,
                extra: std::collections::BTreeMap::new(),
            })
        })
        .collect::<Result<Vec<_>, PublishError>>()?;
    let packs = match opts.chunks.as_ref().filter(|c| c.packs) {
        Some(c) => {
            crate::packs::write_packs(&opts.tool_dir, &files, &c.out_dir).map_err(|source| {
                PublishError::Io {
                    path: c.out_dir.clone(),
                    source,
                }
            })?
        }
        None => Vec::new(),
    };
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION.to_owned(),
        tool_id: opts.tool_id.clone(),
        tool_version: opts.version.clone(),
        created_at: opts.created_at.clone(),
        expires_at: opts.expires_at.clone(),
        release_notes: opts.release_notes.clone(),
        files,
        packs: (!packs.is_empty()).then_some(packs),
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

/// Hashes one file and, when it is large enough, writes its chunk index
/// object and returns its reference.
fn hash_and_index(
    path: &Path,
    chunks: Option<&ChunkOptions>,
) -> std::io::Result<(ContentDigest, Option<ChunksRef>)> {
    let size = fs_err::metadata(path)?.len();
    let Some(chunks) = chunks.filter(|c| size >= c.threshold && size > 0) else {
        return Ok((hash_file(path)?, None));
    };
    let (digest, index) = index_file(path)?;
    let bytes = index.encode();
    let object = hash_bytes(&bytes);
    let dest = chunks.out_dir.join(&object.sha256);
    // Content-addressed: an object of this name and size is this index.
    if !fs_err::metadata(&dest).is_ok_and(|m| m.len() == object.size) {
        fs_err::create_dir_all(&chunks.out_dir)?;
        crate::fs::write_atomic(&dest, &bytes)?;
    }
    let reference = ChunksRef {
        sha256: object.sha256,
        size: object.size,
    };
    Ok((digest, Some(reference)))
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
            chunks: None,
            release_notes: None,
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
    fn large_files_get_a_bound_chunk_index_object() {
        let dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(dir.path().join("big.bin"), &big).unwrap();
        std::fs::write(dir.path().join("small.txt"), b"tiny").unwrap();
        let mut o = opts(dir.path());
        o.chunks = Some(ChunkOptions {
            threshold: 1 << 20,
            out_dir: out.path().join("chunks"),
            packs: false,
        });
        let key = SigningKey::from_bytes(&[1; 32]);
        let m = publish(&o, &key).unwrap();
        assert!(m.file("small.txt").unwrap().chunks.is_none());
        let entry = m.file("big.bin").unwrap();
        let chunks = entry.chunks.as_ref().unwrap();
        let bytes = std::fs::read(out.path().join("chunks").join(&chunks.sha256)).unwrap();
        assert_eq!(hash_bytes(&bytes).sha256, chunks.sha256);
        assert_eq!(bytes.len() as u64, chunks.size);
        let index = crate::chunks::ChunkIndex::parse(&bytes).unwrap();
        index.check_bound_to(&entry.sha256, entry.size).unwrap();
        let mut at = 0usize;
        for chunk in &index.chunks {
            let end = at + chunk.len as usize;
            assert_eq!(crate::chunks::chunk_sha256(&big[at..end]), chunk.sha256);
            at = end;
        }
        assert_eq!(
            publish(&o, &key).unwrap().to_pretty_json(),
            m.to_pretty_json()
        );
        o.chunks = None;
        assert!(
            publish(&o, &key)
                .unwrap()
                .file("big.bin")
                .unwrap()
                .chunks
                .is_none()
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
