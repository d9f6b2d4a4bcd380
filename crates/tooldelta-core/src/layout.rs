//! Where everything lives under the install root (CONTRACT §3).
//!
//! ```text
//! ROOT/objects/sha256/ab/<hex>          verified content, read-only, shared by all tools
//! ROOT/objects/partial/<hex>.partial    an interrupted download, named by digest
//! ROOT/objects/partial/<hex>.etag       the validator sent with it (for If-Range)
//! ROOT/objects/.gc.lock                 shared by updaters, exclusive for GC
//! ROOT/tools/<id>/current               relative symlink -> releases/<version>
//! ROOT/tools/<id>/releases/<version>/   a release: exactly the manifest's files
//! ROOT/tools/<id>/manifests/<version>.json  the verified manifest bytes
//! ROOT/tools/<id>/staging/              a release being built (cleared on start)
//! ROOT/tools/<id>/state.json            highest accepted version, history
//! ROOT/tools/<id>/.lock                 one updater per tool
//! ROOT/tools/<id>/in-use.lock           held shared by running jobs, exclusive by a switch
//! ROOT/tools/<id>/progress.json         live progress of the running (or last) operation
//! ROOT/agent/status.json                the agent's last cycle and next window
//! ROOT/logs/agent.log                   the agent's log (rotated: agent.log.1 …)
//! ```

use std::path::{Path, PathBuf};

/// Paths under one install root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    /// The install root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ROOT/tools`.
    pub fn tools_dir(&self) -> PathBuf {
        self.root.join("tools")
    }

    /// `ROOT/tools/<id>`.
    pub fn tool_dir(&self, tool_id: &str) -> PathBuf {
        self.tools_dir().join(tool_id)
    }

    /// `ROOT/tools/<id>/current`.
    pub fn current_link(&self, tool_id: &str) -> PathBuf {
        self.tool_dir(tool_id).join("current")
    }

    /// `ROOT/tools/<id>/releases`.
    pub fn releases_dir(&self, tool_id: &str) -> PathBuf {
        self.tool_dir(tool_id).join("releases")
    }

    /// `ROOT/tools/<id>/releases/<version>`.
    pub fn release_dir(&self, tool_id: &str, version: &str) -> PathBuf {
        self.releases_dir(tool_id).join(version)
    }

    /// What `current` points to for `version`: relative, so a root can move.
    pub fn current_target(version: &str) -> PathBuf {
        Path::new("releases").join(version)
    }

    /// `ROOT/tools/<id>/manifests`.
    pub fn manifests_dir(&self, tool_id: &str) -> PathBuf {
        self.tool_dir(tool_id).join("manifests")
    }

    /// `ROOT/tools/<id>/manifests/<version>.json`.
    pub fn manifest_path(&self, tool_id: &str, version: &str) -> PathBuf {
        self.manifests_dir(tool_id).join(format!("{version}.json"))
    }

    /// `ROOT/tools/<id>/staging`.
    pub fn staging_dir(&self, tool_id: &str) -> PathBuf {
        self.tool_dir(tool_id).join("staging")
    }

    /// `ROOT/tools/<id>/state.json`.
    pub fn state_path(&self, tool_id: &str) -> PathBuf {
        self.tool_dir(tool_id).join("state.json")
    }

    /// `ROOT/tools/<id>/.lock`.
    pub fn lock_path(&self, tool_id: &str) -> PathBuf {
        self.tool_dir(tool_id).join(".lock")
    }

    /// `ROOT/tools/<id>/in-use.lock`: jobs hold it shared while they run
    /// from a release (`tooldelta run`, `flock -s`); a switch of `current`
    /// takes it exclusive (docs/agent.md).
    pub fn in_use_lock_path(&self, tool_id: &str) -> PathBuf {
        self.tool_dir(tool_id).join("in-use.lock")
    }

    /// `ROOT/tools/<id>/progress.json`: the live progress snapshot.
    pub fn progress_path(&self, tool_id: &str) -> PathBuf {
        self.tool_dir(tool_id).join("progress.json")
    }

    /// `ROOT/agent/status.json`: what the agent did last and plans next.
    pub fn agent_status_path(&self) -> PathBuf {
        self.root.join("agent").join("status.json")
    }

    /// `ROOT/logs`: the agent's log files.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// `ROOT/objects`.
    pub fn objects_dir(&self) -> PathBuf {
        self.root.join("objects")
    }

    /// `ROOT/objects/sha256`.
    pub fn objects_sha256_dir(&self) -> PathBuf {
        self.objects_dir().join("sha256")
    }

    /// `ROOT/objects/sha256/ab/<hex>`.
    pub fn object_path(&self, sha256: &str) -> PathBuf {
        self.objects_sha256_dir().join(&sha256[..2]).join(sha256)
    }

    /// `ROOT/objects/partial`.
    pub fn partial_dir(&self) -> PathBuf {
        self.objects_dir().join("partial")
    }

    /// `ROOT/objects/partial/<hex>.partial`.
    pub fn partial_path(&self, sha256: &str) -> PathBuf {
        self.partial_dir().join(format!("{sha256}.partial"))
    }

    /// `ROOT/objects/partial/<hex>.segments`: which ranges of a segmented
    /// download's partial are written.
    pub fn segments_path(&self, sha256: &str) -> PathBuf {
        self.partial_dir().join(format!("{sha256}.segments"))
    }

    /// `ROOT/objects/partial/<hex>.etag`.
    pub fn etag_path(&self, sha256: &str) -> PathBuf {
        self.partial_dir().join(format!("{sha256}.etag"))
    }

    /// `ROOT/objects/journal`: the journals of runs writing objects without
    /// their own fsync (see [`crate::fs::Journal`]).
    pub fn journal_dir(&self) -> PathBuf {
        self.objects_dir().join("journal")
    }

    /// `ROOT/objects/journal/<tool_id>`: one per tool (its lock makes one
    /// writer at a time).
    pub fn journal_path(&self, tool_id: &str) -> PathBuf {
        self.journal_dir().join(tool_id)
    }

    /// `ROOT/objects/.gc.lock`.
    pub fn gc_lock_path(&self) -> PathBuf {
        self.objects_dir().join(".gc.lock")
    }
}
