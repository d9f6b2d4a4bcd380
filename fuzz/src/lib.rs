//! The properties the fuzz targets check, as plain functions of the input
//! bytes: each panics when tooldelta's handling of untrusted input breaks a
//! promise, and returns quietly otherwise.
//!
//! libFuzzer drives them through `fuzz_targets/*` (`make fuzz`); the e2e
//! crate includes this file as a module and drives the same functions with a
//! seeded mutator over the seed corpus as a normal test (the smoke run of
//! `make test`), so the properties are checked on stable without nightly.

use std::path::{Component, Path};
use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use tooldelta_core::fetch::resume::{Resume, decide, parse_content_range};
use tooldelta_core::manifest::{Manifest, check_path, collision_key, find_collision};
use tooldelta_core::signing::{TrustPolicy, TrustStore, VerifiedManifest, sign};

/// The tool the fuzzed manifests are verified for.
const TOOL: &str = "fuzz-tool";

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_bytes(b"tooldelta FUZZ ONLY signing seed"))
}

fn trust() -> &'static TrustStore {
    static TRUST: OnceLock<TrustStore> = OnceLock::new();
    TRUST.get_or_init(|| {
        let mut t = TrustStore::new();
        t.add(key().verifying_key());
        t
    })
}

/// Manifest bytes as a hostile mirror would send them.
///
/// - parsing never panics and is deterministic;
/// - nothing unsigned by a trusted key ever verifies;
/// - a manifest that passes the rules keeps every path inside its release,
///   survives our own serialization unchanged, and, once signed, either
///   verifies for its own tool or is refused with a typed error.
pub fn manifest_parse(data: &[u8]) {
    // Raw bytes are never trusted without a signature from a trusted key.
    let policy = TrustPolicy {
        trust: trust(),
        tool_id: TOOL,
        version: None,
        highest_accepted: None,
        allow_downgrade: false,
        now: jiff_now(),
    };
    let raw = VerifiedManifest::verify(data, &policy);
    let Ok(parsed) = Manifest::parse(data) else {
        assert!(raw.is_err(), "unparseable bytes verified");
        return;
    };
    let again = Manifest::parse(data).expect("parsing is deterministic");
    assert_eq!(again.computed_hash, parsed.computed_hash);
    let mut manifest = parsed.manifest;
    if manifest.check_rules().is_err() {
        assert!(raw.is_err(), "a manifest that breaks the rules verified");
        return;
    }
    for file in &manifest.files {
        assert_confined(&file.path);
    }
    let text = manifest.to_pretty_json();
    let back = Manifest::parse(text.as_bytes()).expect("our own JSON parses");
    assert_eq!(
        back.manifest, manifest,
        "serialization changed the manifest"
    );

    // Signed by the trusted key, it must verify unless tool, expiry or the
    // floor say no; verified, it must be what was asked for.
    sign(&mut manifest, key());
    let signed = manifest.to_pretty_json();
    let floor = semver::Version::new(1, 0, 0);
    let policy = TrustPolicy {
        tool_id: TOOL,
        highest_accepted: Some(&floor),
        ..policy
    };
    match VerifiedManifest::verify(signed.as_bytes(), &policy) {
        Ok(v) => {
            assert_eq!(v.manifest().tool_id, TOOL);
            assert!(*v.version() >= floor, "a rollback verified");
            assert_eq!(v.hash(), v.manifest().manifest_hash);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fn jiff_now() -> jiff::Timestamp {
    // A fixed "now", so a run replays exactly.
    jiff::Timestamp::from_second(1_800_000_000).expect("a valid timestamp")
}

/// A manifest path (and a second one after a `|`, for collisions).
///
/// - a path the rules accept names a file strictly inside the release on
///   Linux and on Windows: only normal components, no `..`, no root, no
///   drive, no backslash, no control character, no reserved device name;
/// - collision detection is symmetric and agrees with the collision key.
pub fn path_rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if check_path(text).is_ok() {
        assert_confined(text);
    }
    if let Some((a, b)) = text.split_once('|') {
        let ab = find_collision([a, b]).is_some();
        let ba = find_collision([b, a]).is_some();
        assert_eq!(ab, ba, "collision detection is not symmetric");
        assert_eq!(ab, collision_key(a) == collision_key(b));
    }
}

/// Panics unless `path` stays inside any folder it is joined to, on Linux and
/// on Windows.
pub fn assert_confined(path: &str) {
    assert!(!path.is_empty());
    assert!(!path.chars().any(char::is_control), "{path:?}");
    assert!(!path.contains('\\') && !path.contains(':'), "{path:?}");
    let base = Path::new("/install/tools/t/releases/1.0.0");
    let joined = base.join(path);
    let mut depth = 0usize;
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => {
                depth += 1;
                let name = name.to_str().expect("UTF-8 in, UTF-8 out");
                assert!(!name.ends_with('.') && !name.ends_with(' '), "{path:?}");
                let stem = name.split('.').next().unwrap_or(name).trim_end();
                assert!(!is_reserved(stem), "{path:?} has a reserved name");
            }
            other => panic!("{path:?} has a {other:?} component"),
        }
    }
    assert!(depth > 0);
    assert!(joined.starts_with(base) && joined != base, "{path:?}");
}

fn is_reserved(stem: &str) -> bool {
    let upper = stem.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ["COM", "LPT"].iter().any(|p| {
            upper
                .strip_prefix(p)
                .is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit() && n != "0")
        })
}

/// A response to a (possibly ranged) request: 8 bytes of offset, 8 of file
/// size, 1 selecting the status, then the `Content-Range` value.
///
/// - a parsed `Content-Range` is internally consistent;
/// - the resume decision appends only a 206 that starts exactly at the
///   partial's end and stays within the manifest size, restarts from zero only
///   on a 200, and reports every error status as it is.
pub fn content_range(data: &[u8]) {
    if data.len() < 17 {
        return;
    }
    let word = |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().expect("8 bytes"));
    // Small numbers are where the edge cases are; keep most inputs there.
    let offset = word(0) % 4096;
    let size = word(8) % 8192;
    let status = [200, 206, 416, 404, 503, 304, 302][usize::from(data[16]) % 7];
    let Ok(value) = std::str::from_utf8(&data[17..]) else {
        return;
    };
    let parsed = parse_content_range(value);
    if let Some(r) = parsed {
        assert!(r.start <= r.end, "{value:?}");
        assert!(r.total.is_none_or(|t| r.end < t), "{value:?}");
    }
    match decide(offset, status, Some(value), size) {
        Resume::Append { offset: at } => {
            assert_eq!(status, 206);
            assert_eq!(at, offset);
            let r = parsed.expect("a 206 is appended only with a valid Content-Range");
            assert_eq!(r.start, offset, "{value:?}");
            assert!(r.total.is_none_or(|t| t == size), "{value:?}");
            assert!(r.end < size, "{value:?} runs past the {size}-byte file");
        }
        Resume::FromZero => assert_eq!(status, 200),
        Resume::Reissue => assert!(status == 206 || (status == 416 && offset > 0)),
        Resume::Status(s) => {
            assert_eq!(s, status);
            assert!(s != 200 && s != 206);
        }
    }
}

/// A `Range` request header as a client sends it to the mirror: 8 bytes of
/// file size, then the header value. The mirror parses it with
/// `http-range-header` and validates it against the size; whatever it
/// accepts must lie inside the file.
pub fn range_header(data: &[u8]) {
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().expect("8 bytes")) % (1 << 24);
    let Ok(value) = std::str::from_utf8(&data[8..]) else {
        return;
    };
    let Ok(parsed) = http_range_header::parse_range_header(value) else {
        return;
    };
    if let Ok(ranges) = parsed.validate(size) {
        // No range at all only for an empty file (the mirror then sends it whole).
        assert!(
            !ranges.is_empty() || size == 0,
            "{value:?}: accepted with no range"
        );
        for r in ranges {
            assert!(r.start() <= r.end(), "{value:?} -> {r:?}");
            assert!(
                *r.end() < size,
                "{value:?} -> {r:?} outside a {size}-byte file"
            );
        }
    }
}
