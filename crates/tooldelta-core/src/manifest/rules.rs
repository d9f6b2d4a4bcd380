//! The rules of CONTRACT §1, each with a stable name an error can cite.

use super::paths::key_hash;
use super::{
    ChunksRef, MANIFEST_VERSION, MAX_FILE_SIZE, Manifest, PathRule, check_path, collision_key,
    find_collision,
};

/// A broken rule of CONTRACT §1, naming the field or file at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    /// `manifest_version` is not `1.0`.
    #[error("unsupported-version: manifest_version is {0:?}, expected \"1.0\"")]
    UnsupportedVersion(String),
    /// `tool_id` does not match `^[a-z0-9][a-z0-9._-]{{0,63}}$`.
    #[error("bad-tool-id: tool_id {0:?} must match ^[a-z0-9][a-z0-9._-]{{0,63}}$")]
    BadToolId(String),
    /// `tool_version` is not SemVer 2.0.
    #[error("bad-tool-version: tool_version {value:?} is not SemVer 2.0 ({cause})")]
    BadToolVersion {
        /// The version as written.
        value: String,
        /// The parser's complaint.
        cause: String,
    },
    /// `created_at` or `expires_at` is not RFC 3339.
    #[error("bad-timestamp: {field} {value:?} is not an RFC 3339 timestamp")]
    BadTimestamp {
        /// Which field.
        field: &'static str,
        /// The value as written.
        value: String,
    },
    /// A path breaks a path rule.
    #[error("{rule}: file {path:?} is refused: {rule}", rule = .rule.name())]
    Path {
        /// The offending path.
        path: String,
        /// The rule it breaks.
        rule: PathRule,
    },
    /// `sha256` is not 64 lowercase hex characters.
    #[error("bad-sha256: file {path:?} has sha256 {value:?}, expected 64 lowercase hex characters")]
    BadSha256 {
        /// The file.
        path: String,
        /// The value as written.
        value: String,
    },
    /// A size too large to be represented exactly in canonical JSON.
    #[error("bad-size: file {path:?} has size {size}, larger than 2^53")]
    BadSize {
        /// The file.
        path: String,
        /// The size.
        size: u64,
    },
    /// `chunks` does not name a possible chunk index object.
    #[error("bad-chunks: file {path:?} has a chunks field that {cause}")]
    BadChunks {
        /// The file.
        path: String,
        /// What is wrong with it.
        cause: &'static str,
    },
    /// `packs` does not name possible pack index objects.
    #[error("bad-packs: pack {index} {cause}")]
    BadPacks {
        /// Position in `packs`.
        index: usize,
        /// What is wrong with it.
        cause: &'static str,
    },
    /// `files` is not sorted by path in byte order.
    #[error("unsorted: files must be sorted by path; {next:?} comes after {prev:?}")]
    Unsorted {
        /// The earlier entry.
        prev: String,
        /// The entry that should have come first.
        next: String,
    },
    /// The same path is listed twice.
    #[error("path-duplicate: file {0:?} is listed twice")]
    Duplicate(String),
    /// Two paths name one file on a case-insensitive or normalizing filesystem.
    #[error(
        "path-case-collision: files {0:?} and {1:?} differ only in case or Unicode normalization"
    )]
    CaseCollision(String, String),
    /// A path is a file and, through another path, also a folder: no folder
    /// tree can hold both, on any file system.
    #[error(
        "path-file-folder-conflict: file {file:?} is also the folder of {other:?} (compared ignoring case and Unicode normalization)"
    )]
    FileFolderConflict {
        /// The path listed as a file.
        file: String,
        /// The path that needs it to be a folder.
        other: String,
    },
    /// `release_notes` is too long or holds control characters.
    #[error("release-notes: release_notes {0}")]
    ReleaseNotes(&'static str),
    /// `manifest_hash` is not 64 lowercase hex characters.
    #[error("bad-manifest-hash: manifest_hash {0:?} is not 64 lowercase hex characters")]
    BadManifestHash(String),
}

impl RuleViolation {
    /// The rule's stable kebab-case name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::UnsupportedVersion(_) => "unsupported-version",
            Self::BadToolId(_) => "bad-tool-id",
            Self::BadToolVersion { .. } => "bad-tool-version",
            Self::BadTimestamp { .. } => "bad-timestamp",
            Self::Path { rule, .. } => rule.name(),
            Self::BadSha256 { .. } => "bad-sha256",
            Self::BadSize { .. } => "bad-size",
            Self::BadChunks { .. } => "bad-chunks",
            Self::BadPacks { .. } => "bad-packs",
            Self::Unsorted { .. } => "unsorted",
            Self::Duplicate(_) => "path-duplicate",
            Self::CaseCollision(..) => "path-case-collision",
            Self::FileFolderConflict { .. } => "path-file-folder-conflict",
            Self::BadManifestHash(_) => "bad-manifest-hash",
            Self::ReleaseNotes(_) => "release-notes",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Strictness {
    Full,
    IgnoreOrder,
}

pub(super) fn check(m: &Manifest, strictness: Strictness) -> Result<(), RuleViolation> {
    if m.manifest_version != MANIFEST_VERSION {
        return Err(RuleViolation::UnsupportedVersion(
            m.manifest_version.clone(),
        ));
    }
    if !is_valid_tool_id(&m.tool_id) {
        return Err(RuleViolation::BadToolId(m.tool_id.clone()));
    }
    m.version()?;
    check_timestamp("created_at", m.created_at.as_deref())?;
    check_timestamp("expires_at", m.expires_at.as_deref())?;
    check_release_notes(m.release_notes.as_deref())?;
    check_packs(m.packs.as_deref().unwrap_or_default())?;
    if !m.manifest_hash.is_empty() && !is_sha256_hex(&m.manifest_hash) {
        return Err(RuleViolation::BadManifestHash(m.manifest_hash.clone()));
    }
    for file in &m.files {
        check_path(&file.path).map_err(|rule| RuleViolation::Path {
            path: file.path.clone(),
            rule,
        })?;
        if !is_sha256_hex(&file.sha256) {
            return Err(RuleViolation::BadSha256 {
                path: file.path.clone(),
                value: file.sha256.clone(),
            });
        }
        if file.size > MAX_FILE_SIZE {
            return Err(RuleViolation::BadSize {
                path: file.path.clone(),
                size: file.size,
            });
        }
        if let Some(chunks) = &file.chunks {
            check_chunks(&file.path, file.size, chunks)?;
        }
    }
    check_order(m, strictness)?;
    if let Some((a, b)) = find_collision(m.files.iter().map(|f| f.path.as_str())) {
        return Err(RuleViolation::CaseCollision(a.to_owned(), b.to_owned()));
    }
    check_file_folder(m)
}

/// Refuses a path that is a file and also a parent folder of another path
/// (`a` and `a/b`), as a case-insensitive, normalizing file system sees them:
/// otherwise the manifest passes verification and the release can only fail
/// half-way through staging, after the downloads.
/// Keys are held by their hash (see [`find_collision`]): the keys of the
/// files are distinct here, so two files sharing a hash is a true hash
/// collision, decided by the exact check.
fn check_file_folder(m: &Manifest) -> Result<(), RuleViolation> {
    let mut files = std::collections::HashMap::with_capacity(m.files.len());
    for f in &m.files {
        if files
            .insert(key_hash(&collision_key(&f.path)), f.path.as_str())
            .is_some()
        {
            return check_file_folder_exact(m);
        }
    }
    let is_file = |up: &str| {
        files
            .get(&key_hash(up))
            .copied()
            .filter(|file| collision_key(file) == up)
    };
    first_file_folder_conflict(m, is_file)
}

fn check_file_folder_exact(m: &Manifest) -> Result<(), RuleViolation> {
    let files: std::collections::HashMap<String, &str> = m
        .files
        .iter()
        .map(|f| (collision_key(&f.path), f.path.as_str()))
        .collect();
    first_file_folder_conflict(m, |up| files.get(up).copied())
}

/// The first file whose folder (by collision key) is a listed file.
fn first_file_folder_conflict<'a>(
    m: &Manifest,
    is_file: impl Fn(&str) -> Option<&'a str>,
) -> Result<(), RuleViolation> {
    for f in &m.files {
        let key = collision_key(&f.path);
        let mut parent = key.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            if let Some(file) = is_file(up) {
                return Err(RuleViolation::FileFolderConflict {
                    file: file.to_owned(),
                    other: f.path.clone(),
                });
            }
            parent = up;
        }
    }
    Ok(())
}

/// A chunk index is named by a proper hash and has a size the format allows:
/// a header and at least one entry, whole entries, at most the index cap.
fn check_packs(packs: &[super::PackRef]) -> Result<(), RuleViolation> {
    use crate::packs::{ENTRY_LEN, HEADER_LEN, MAX_PACK_INDEX_BYTES, MAX_PACKS};
    if packs.len() > MAX_PACKS {
        return Err(RuleViolation::BadPacks {
            index: MAX_PACKS,
            cause: "is past the limit on the number of packs",
        });
    }
    for (index, p) in packs.iter().enumerate() {
        let bad = |cause| Err(RuleViolation::BadPacks { index, cause });
        if !is_sha256_hex(&p.sha256) {
            return bad("has a sha256 that is not 64 lowercase hex characters");
        }
        let entries = p.size.checked_sub(HEADER_LEN as u64);
        if p.size > MAX_PACK_INDEX_BYTES
            || entries.is_none_or(|e| e == 0 || e % ENTRY_LEN as u64 != 0)
        {
            return bad("has a size no pack index can have");
        }
    }
    Ok(())
}

fn check_chunks(path: &str, file_size: u64, chunks: &ChunksRef) -> Result<(), RuleViolation> {
    use crate::chunks::{ENTRY_LEN, HEADER_LEN, MAX_INDEX_BYTES};
    let bad = |cause| {
        Err(RuleViolation::BadChunks {
            path: path.to_owned(),
            cause,
        })
    };
    if !is_sha256_hex(&chunks.sha256) {
        return bad("has a sha256 that is not 64 lowercase hex characters");
    }
    if chunks.size > MAX_INDEX_BYTES {
        return bad("names an index larger than the 64 MiB limit");
    }
    let entries = chunks.size.checked_sub(HEADER_LEN as u64);
    if !entries.is_some_and(|n| n >= ENTRY_LEN as u64 && n % ENTRY_LEN as u64 == 0) {
        return bad("names an index whose size is not a header plus whole chunk entries");
    }
    if file_size == 0 {
        return bad("is set on an empty file");
    }
    Ok(())
}

fn check_order(m: &Manifest, strictness: Strictness) -> Result<(), RuleViolation> {
    let mut paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    if strictness == Strictness::IgnoreOrder {
        paths.sort_unstable();
    }
    for pair in paths.windows(2) {
        let (prev, next) = (pair[0], pair[1]);
        match prev.as_bytes().cmp(next.as_bytes()) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => return Err(RuleViolation::Duplicate(next.to_owned())),
            std::cmp::Ordering::Greater => {
                return Err(RuleViolation::Unsorted {
                    prev: prev.to_owned(),
                    next: next.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// Notes are text for people: bounded, and free of control characters other
/// than tab and line breaks (no terminal escapes, no NUL).
fn check_release_notes(notes: Option<&str>) -> Result<(), RuleViolation> {
    let Some(notes) = notes else {
        return Ok(());
    };
    if notes.len() > super::MAX_RELEASE_NOTES_BYTES {
        return Err(RuleViolation::ReleaseNotes("is longer than 16 KiB"));
    }
    if notes
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(RuleViolation::ReleaseNotes(
            "holds control characters (only tab and line breaks are allowed)",
        ));
    }
    Ok(())
}

fn check_timestamp(field: &'static str, value: Option<&str>) -> Result<(), RuleViolation> {
    match value {
        Some(text) if text.parse::<jiff::Timestamp>().is_err() => {
            Err(RuleViolation::BadTimestamp {
                field,
                value: text.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// Whether `id` matches `^[a-z0-9][a-z0-9._-]{0,63}$`.
pub fn is_valid_tool_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// Whether `s` is 64 lowercase hex characters.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
