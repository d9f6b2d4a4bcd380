//! What the app knows about each tool's integrity: the last verification and
//! the changes the watcher saw since. Keyed by the version checked, so a tool
//! updated by another process starts over as `unknown`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use tooldelta_core::report::{FileStatus, VerifyReport};

use crate::dto::Integrity;

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug, Clone)]
struct Entry {
    version: Option<String>,
    integrity: Integrity,
    paths: BTreeSet<String>,
    last_verified_ms: Option<u64>,
}

/// The integrity of one tool as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The verdict.
    pub integrity: Integrity,
    /// Paths known to be bad or changed, sorted.
    pub paths: Vec<String>,
    /// When it was last verified (Unix ms).
    pub last_verified_ms: Option<u64>,
}

/// The book, shared by commands and the watcher.
#[derive(Debug, Default)]
pub struct IntegrityBook {
    map: Mutex<HashMap<String, Entry>>,
}

impl IntegrityBook {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> R) -> R {
        f(&mut self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The watcher saw `paths` of `tool_id` change.
    pub fn mark_modified(&self, tool_id: &str, paths: &[String]) {
        self.with(|map| {
            let entry = map.entry(tool_id.to_owned()).or_insert_with(|| Entry {
                version: None,
                integrity: Integrity::Unknown,
                paths: BTreeSet::new(),
                last_verified_ms: None,
            });
            entry.integrity = Integrity::Modified;
            entry.paths.extend(paths.iter().cloned());
        });
    }

    /// A verification (or the one that ends a repair) finished.
    pub fn record_verify(&self, report: &VerifyReport) {
        let bad: BTreeSet<String> = report
            .files
            .iter()
            .filter(|f| f.status != FileStatus::Ok)
            .map(|f| f.path.clone())
            .collect();
        self.set(
            &report.tool_id,
            Some(report.version.clone()),
            if report.ok {
                Integrity::Ok
            } else {
                Integrity::Modified
            },
            bad,
        );
    }

    /// An update verified every file of the release it activated.
    pub fn record_update(&self, tool_id: &str, version: &str) {
        self.set(
            tool_id,
            Some(version.to_owned()),
            Integrity::Ok,
            BTreeSet::new(),
        );
    }

    /// Forgets what was known (a rollback switched releases unverified).
    pub fn forget(&self, tool_id: &str) {
        self.with(|map| map.remove(tool_id));
    }

    fn set(
        &self,
        tool_id: &str,
        version: Option<String>,
        integrity: Integrity,
        paths: BTreeSet<String>,
    ) {
        self.with(|map| {
            map.insert(
                tool_id.to_owned(),
                Entry {
                    version,
                    integrity,
                    paths,
                    last_verified_ms: Some(now_ms()),
                },
            )
        });
    }

    /// What is known of `tool_id` at `installed_version`. A verdict about
    /// another version is stale, unless it is a change the watcher saw.
    pub fn known(&self, tool_id: &str, installed_version: Option<&str>) -> Known {
        self.with(|map| match map.get(tool_id) {
            Some(e) if e.version.is_none() || e.version.as_deref() == installed_version => Known {
                integrity: e.integrity,
                paths: e.paths.iter().cloned().collect(),
                last_verified_ms: e.last_verified_ms,
            },
            _ => Known {
                integrity: Integrity::Unknown,
                paths: Vec::new(),
                last_verified_ms: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tooldelta_core::report::FileCheck;

    fn report(ok: bool) -> VerifyReport {
        VerifyReport {
            tool_id: "t".into(),
            version: "1.0.0".into(),
            ok,
            files: vec![FileCheck {
                path: "a".into(),
                status: if ok {
                    FileStatus::Ok
                } else {
                    FileStatus::Missing
                },
                expected_sha256: None,
                actual_sha256: None,
                expected_size: None,
                actual_size: None,
                shared_links: None,
            }],
        }
    }

    #[test]
    fn a_watched_change_overrides_a_clean_verify_until_the_next_verify() {
        let book = IntegrityBook::default();
        book.record_verify(&report(true));
        assert_eq!(book.known("t", Some("1.0.0")).integrity, Integrity::Ok);
        book.mark_modified("t", &["a".into()]);
        let k = book.known("t", Some("1.0.0"));
        assert_eq!(
            (k.integrity, k.paths),
            (Integrity::Modified, vec!["a".to_owned()])
        );
        book.record_verify(&report(false));
        assert_eq!(book.known("t", Some("1.0.0")).paths, ["a"]);
        book.record_verify(&report(true));
        assert_eq!(book.known("t", Some("1.0.0")).integrity, Integrity::Ok);
    }

    #[test]
    fn a_verdict_about_another_version_is_unknown() {
        let book = IntegrityBook::default();
        book.record_update("t", "1.0.0");
        assert_eq!(book.known("t", Some("2.0.0")).integrity, Integrity::Unknown);
        assert_eq!(book.known("nope", None).integrity, Integrity::Unknown);
    }
}
