//! Watches the active release of every tool and reports files that change on
//! disk, debounced: a burst of writes becomes one report per tool.
//!
//! Only content changes count (create, remove, rename, write); opening and
//! reading files (a verify hashes every file) and metadata changes do not.
//! Knows no Tauri: the owner turns a report into an event.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

/// How long the watcher waits for a burst of changes to settle before reporting.
pub const DEBOUNCE: Duration = Duration::from_millis(400);

/// Changed paths of one tool, relative to its release folder, sorted.
pub type Changes = (String, Vec<String>);

/// Watches release folders; `on_change` runs on the watcher's own thread.
pub struct ReleaseWatcher {
    watcher: RecommendedWatcher,
    /// Canonical release folder → tool id.
    watched: Arc<Mutex<HashMap<PathBuf, String>>>,
}

impl std::fmt::Debug for ReleaseWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseWatcher").finish_non_exhaustive()
    }
}

impl ReleaseWatcher {
    /// Starts the watcher thread. `on_change` receives each debounced report.
    pub fn start(on_change: impl Fn(Changes) + Send + 'static) -> notify::Result<Self> {
        let folders: Arc<Mutex<HashMap<PathBuf, String>>> = Arc::default();
        let (tx, rx) = mpsc::channel::<PathBuf>();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res
                && changes_content(event.kind)
            {
                for path in event.paths {
                    // The receiver lives as long as the watcher; a failed send means shutdown.
                    let _ = tx.send(path);
                }
            }
        })?;
        let map = Arc::clone(&folders);
        std::thread::Builder::new()
            .name("tooldelta-watcher".to_owned())
            .spawn(move || debounce_loop(&rx, &map, &on_change))
            .map_err(notify::Error::io)?;
        Ok(Self {
            watcher,
            watched: folders,
        })
    }

    /// Watches exactly `releases` (tool id → its `current` link or folder):
    /// new ones are added, gone or moved ones dropped. Returns the folders
    /// that could not be watched, with the reason.
    pub fn sync(&mut self, releases: &[(String, PathBuf)]) -> Vec<(String, String)> {
        let mut wanted = HashMap::new();
        let mut failures = Vec::new();
        for (tool_id, link) in releases {
            // Watch the folder `current` points at: it is swapped on update.
            match std::fs::canonicalize(link) {
                Ok(dir) => {
                    wanted.insert(dir, tool_id.clone());
                }
                Err(err) => failures.push((tool_id.clone(), format!("{}: {err}", link.display()))),
            }
        }
        let mut watched = self.watched.lock().expect("watcher map poisoned");
        let stale: Vec<PathBuf> = watched
            .keys()
            .filter(|dir| !wanted.contains_key(*dir))
            .cloned()
            .collect();
        for dir in stale {
            // The folder may be gone already (pruned release); nothing to undo then.
            let _ = self.watcher.unwatch(&dir);
            watched.remove(&dir);
        }
        for (dir, tool_id) in wanted {
            if watched.contains_key(&dir) {
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::Recursive) {
                Ok(()) => {
                    watched.insert(dir, tool_id);
                }
                Err(err) => failures.push((tool_id, format!("{}: {err}", dir.display()))),
            }
        }
        failures
    }
}

/// Whether an event can mean different bytes on disk.
fn changes_content(kind: EventKind) -> bool {
    match kind {
        EventKind::Modify(ModifyKind::Metadata(_))
        | EventKind::Access(_)
        | EventKind::Any
        | EventKind::Other => {
            matches!(
                kind,
                EventKind::Access(AccessKind::Close(AccessMode::Write))
            )
        }
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(_) => true,
    }
}

fn debounce_loop(
    rx: &mpsc::Receiver<PathBuf>,
    watched: &Mutex<HashMap<PathBuf, String>>,
    on_change: &dyn Fn(Changes),
) {
    let mut pending: BTreeSet<PathBuf> = BTreeSet::new();
    loop {
        let next = if pending.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(DEBOUNCE)
        };
        match next {
            Ok(path) => {
                pending.insert(path);
            }
            Err(RecvTimeoutError::Timeout) => {
                let map = watched.lock().expect("watcher map poisoned").clone();
                for change in group_by_tool(std::mem::take(&mut pending), &map) {
                    on_change(change);
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Maps absolute paths to (tool, relative paths) through the watched folders.
fn group_by_tool(paths: BTreeSet<PathBuf>, watched: &HashMap<PathBuf, String>) -> Vec<Changes> {
    let mut by_tool: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in paths {
        if let Some((dir, tool_id)) = watched.iter().find(|(dir, _)| path.starts_with(dir)) {
            let rel = relative(&path, dir);
            by_tool.entry(tool_id.clone()).or_default().insert(rel);
        }
    }
    by_tool
        .into_iter()
        .map(|(tool, paths)| (tool, paths.into_iter().collect()))
        .collect()
}

fn relative(path: &Path, dir: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    let text = rel.to_string_lossy().replace('\\', "/");
    if text.is_empty() {
        ".".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::sync::mpsc::Receiver;

    fn next_change(rx: &Receiver<Changes>) -> Changes {
        // Bounded wait: inotify delivers within milliseconds; 10 s only guards a hang.
        rx.recv_timeout(Duration::from_secs(10))
            .expect("no change reported")
    }

    fn release_with_link(root: &Path) -> PathBuf {
        let release = root.join("releases/1.0.0");
        std::fs::create_dir_all(release.join("bin")).unwrap();
        std::fs::write(release.join("bin/run.sh"), "echo hi\n").unwrap();
        let link = root.join("current");
        std::os::unix::fs::symlink(&release, &link).unwrap();
        link
    }

    #[test]
    fn appending_to_a_file_of_the_active_release_is_reported_with_its_relative_path() {
        let dir = tempfile::tempdir().unwrap();
        let link = release_with_link(dir.path());
        let (tx, rx) = mpsc::channel();
        let mut watcher = ReleaseWatcher::start(move |c| tx.send(c).unwrap()).unwrap();
        assert!(watcher.sync(&[("demo".into(), link.clone())]).is_empty());

        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(link.join("bin/run.sh"))
            .unwrap();
        f.write_all(b"tampered\n").unwrap();
        drop(f);

        let (tool, paths) = next_change(&rx);
        assert_eq!(tool, "demo");
        assert_eq!(paths, ["bin/run.sh"]);
    }

    #[test]
    fn reading_files_is_not_a_change_but_a_new_file_is() {
        let dir = tempfile::tempdir().unwrap();
        let link = release_with_link(dir.path());
        let (tx, rx) = mpsc::channel();
        let mut watcher = ReleaseWatcher::start(move |c| tx.send(c).unwrap()).unwrap();
        watcher.sync(&[("demo".into(), link.clone())]);

        // A read (as verify does) first, then a real change: the first report
        // must be the change alone.
        assert_eq!(
            std::fs::read(link.join("bin/run.sh")).unwrap(),
            b"echo hi\n"
        );
        std::fs::write(link.join("extra.txt"), "x").unwrap();
        let (_, paths) = next_change(&rx);
        assert_eq!(paths, ["extra.txt"]);
    }

    #[test]
    fn a_dropped_release_is_no_longer_watched() {
        let dir = tempfile::tempdir().unwrap();
        let link = release_with_link(dir.path());
        let other = tempfile::tempdir().unwrap();
        let other_link = release_with_link(other.path());
        let (tx, rx) = mpsc::channel();
        let mut watcher = ReleaseWatcher::start(move |c| tx.send(c).unwrap()).unwrap();
        watcher.sync(&[("a".into(), link.clone()), ("b".into(), other_link.clone())]);
        watcher.sync(&[("b".into(), other_link.clone())]);

        std::fs::write(link.join("bin/run.sh"), "changed").unwrap();
        std::fs::write(other_link.join("bin/run.sh"), "changed").unwrap();
        let (tool, _) = next_change(&rx);
        assert_eq!(tool, "b");
    }
}
