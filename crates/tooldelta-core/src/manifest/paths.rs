//! Path rules for `files[].path` (CONTRACT §1).
//!
//! A manifest path names a file inside a release folder. It must never be able
//! to name anything outside it, on Linux today or on Windows later, so the rules
//! are stricter than what POSIX alone would need: no `..`, no absolute paths, no
//! backslashes or drive letters, no control characters, no Windows reserved
//! names, and no two paths that one case-insensitive or Unicode-normalizing
//! filesystem would store as the same file.

use std::collections::HashMap;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// The longest path accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;
/// The longest path component accepted, in bytes (`NAME_MAX`).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Names Windows reserves in every folder, with or without an extension.
const WINDOWS_RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Which path rule a path breaks. The `Display` form is the rule's stable name,
/// also used to name the hostile fixtures that exercise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRule {
    /// The path is the empty string.
    Empty,
    /// The path starts with `/`.
    Absolute,
    /// A component is `..`.
    DotDot,
    /// A component is `.`.
    Dot,
    /// Two slashes in a row, or a trailing slash.
    EmptyComponent,
    /// The path contains `\`.
    Backslash,
    /// The path contains NUL or another control character.
    ControlChar,
    /// The path starts with a drive letter (`C:`) or contains `:` elsewhere
    /// (an NTFS alternate data stream).
    DriveLetter,
    /// A component is a Windows reserved device name (`CON`, `nul.txt`, …).
    WindowsReserved,
    /// A component ends with `.` or a space, which Windows silently strips.
    TrailingDotOrSpace,
    /// The path or one of its components is too long.
    TooLong,
}

impl PathRule {
    /// The rule's stable, kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "path-empty",
            Self::Absolute => "path-absolute",
            Self::DotDot => "path-dotdot",
            Self::Dot => "path-dot",
            Self::EmptyComponent => "path-empty-component",
            Self::Backslash => "path-backslash",
            Self::ControlChar => "path-control-char",
            Self::DriveLetter => "path-drive-letter",
            Self::WindowsReserved => "path-windows-reserved",
            Self::TrailingDotOrSpace => "path-trailing-dot-or-space",
            Self::TooLong => "path-too-long",
        }
    }

    fn explain(self) -> &'static str {
        match self {
            Self::Empty => "the path is empty",
            Self::Absolute => "the path is absolute",
            Self::DotDot => "a component is `..`",
            Self::Dot => "a component is `.`",
            Self::EmptyComponent => "the path has an empty component",
            Self::Backslash => "the path contains a backslash",
            Self::ControlChar => "the path contains NUL or a control character",
            Self::DriveLetter => "the path contains a drive letter or `:`",
            Self::WindowsReserved => "a component is a Windows reserved name",
            Self::TrailingDotOrSpace => "a component ends with `.` or a space",
            Self::TooLong => "the path or a component is too long",
        }
    }
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.explain(), self.name())
    }
}

/// Checks one manifest path against every rule that needs only the path itself.
pub fn check_path(path: &str) -> Result<(), PathRule> {
    if path.is_empty() {
        return Err(PathRule::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathRule::TooLong);
    }
    if path.chars().any(char::is_control) {
        return Err(PathRule::ControlChar);
    }
    if path.contains('\\') {
        return Err(PathRule::Backslash);
    }
    if path.starts_with('/') {
        return Err(PathRule::Absolute);
    }
    if path.contains(':') {
        return Err(PathRule::DriveLetter);
    }
    path.split('/').try_for_each(check_component)
}

fn check_component(component: &str) -> Result<(), PathRule> {
    match component {
        "" => return Err(PathRule::EmptyComponent),
        "." => return Err(PathRule::Dot),
        ".." => return Err(PathRule::DotDot),
        _ => {}
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(PathRule::TooLong);
    }
    if component.ends_with('.') || component.ends_with(' ') {
        return Err(PathRule::TrailingDotOrSpace);
    }
    let stem = component.split('.').next().unwrap_or(component).trim_end();
    if WINDOWS_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(stem))
    {
        return Err(PathRule::WindowsReserved);
    }
    Ok(())
}

/// The form under which a case-insensitive, normalizing filesystem (NTFS, APFS)
/// would store a path: NFC, then lower case.
pub fn collision_key(path: &str) -> String {
    path.nfc().collect::<String>().to_lowercase()
}

/// Finds the first pair of paths that differ but would name the same file on a
/// case-insensitive or Unicode-normalizing filesystem.
///
/// The keys are remembered by a 64-bit hash, not as strings: for a
/// 100,000-file manifest that is 3 MB instead of 10. Two keys that share a
/// hash are told apart by the exact check.
pub fn find_collision<'a>(paths: impl IntoIterator<Item = &'a str>) -> Option<(&'a str, &'a str)> {
    let paths: Vec<&'a str> = paths.into_iter().collect();
    let mut seen: HashMap<u64, &'a str> = HashMap::with_capacity(paths.len());
    for &path in &paths {
        let key = collision_key(path);
        if let Some(first) = seen.insert(key_hash(&key), path) {
            if collision_key(first) == key {
                return Some((first, path));
            }
            return find_collision_exact(&paths);
        }
    }
    None
}

fn find_collision_exact<'a>(paths: &[&'a str]) -> Option<(&'a str, &'a str)> {
    let mut seen: HashMap<String, &'a str> = HashMap::new();
    for &path in paths {
        if let Some(first) = seen.insert(collision_key(path), path) {
            return Some((first, path));
        }
    }
    None
}

/// A collision key's 64-bit hash (fixed keys: the same in every run).
pub(super) fn key_hash(key: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for p in [
            "a",
            "src/main.py",
            "models/x-Q4_K_M.gguf",
            ".env",
            "a/.hidden/b",
            "ñandú/ö",
        ] {
            assert_eq!(check_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn refuses_each_hostile_path_with_its_rule() {
        let cases = [
            ("", PathRule::Empty),
            ("/etc/passwd", PathRule::Absolute),
            ("../x", PathRule::DotDot),
            ("a/../../x", PathRule::DotDot),
            ("a/./b", PathRule::Dot),
            ("a//b", PathRule::EmptyComponent),
            ("a/", PathRule::EmptyComponent),
            ("a\\b", PathRule::Backslash),
            ("..\\x", PathRule::Backslash),
            ("C:x", PathRule::DriveLetter),
            ("c:/windows", PathRule::DriveLetter),
            ("a\0b", PathRule::ControlChar),
            ("a\nb", PathRule::ControlChar),
            ("a\u{7f}", PathRule::ControlChar),
            ("CON", PathRule::WindowsReserved),
            ("dir/nul.txt", PathRule::WindowsReserved),
            ("Com1.log", PathRule::WindowsReserved),
            ("name.", PathRule::TrailingDotOrSpace),
            ("name ", PathRule::TrailingDotOrSpace),
        ];
        for (path, rule) in cases {
            assert_eq!(check_path(path), Err(rule), "{path:?}");
        }
        assert_eq!(check_path(&"a/".repeat(3000)), Err(PathRule::TooLong));
        assert_eq!(check_path(&"a".repeat(256)), Err(PathRule::TooLong));
    }

    #[test]
    fn finds_case_and_normalization_collisions() {
        assert_eq!(
            find_collision(["README", "readme"]),
            Some(("README", "readme"))
        );
        // "é" precomposed vs "e" + combining acute accent.
        assert!(find_collision(["caf\u{e9}", "cafe\u{301}"]).is_some());
        assert_eq!(find_collision(["a", "b", "a/b"]), None);
    }
}
