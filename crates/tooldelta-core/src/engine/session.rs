//! A tool session: what every operation that changes a tool works within.
//! It holds the tool's cross-process lock for its lifetime, the shared store,
//! the reporter and the cancellation token; it runs the fetch phase and
//! records activations in the tool's history. Update, repair and rollback
//! each open one; none of them borrows another's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio_util::sync::CancellationToken;

use super::env::Env;
use crate::diff::{Plan, PlannedFile};
use crate::error::{FetchError, UpdateError};
use crate::events::{Event, Phase, Reporter};
use crate::fetch::{Fetched, FetchedManifest, ObjectJob};
use crate::fs::Durability;
use crate::lock::FileLock;
use crate::state::{HistoryEntry, ToolState};
use crate::store::Store;
use crate::throttle::Progress;

/// One operation on one tool, under the tool's lock.
pub(crate) struct Session<'a> {
    pub env: &'a Env,
    pub tool_id: &'a str,
    pub reporter: &'a dyn Reporter,
    pub cancel: &'a CancellationToken,
    pub store: Store,
    started: Instant,
    _lock: FileLock,
}

impl<'a> Session<'a> {
    /// Creates the tool and store folders and takes the tool's lock; fails
    /// with `Locked` when another updater holds it.
    pub async fn open(
        env: &'a Env,
        tool_id: &'a str,
        reporter: &'a dyn Reporter,
        cancel: &'a CancellationToken,
    ) -> Result<Self, UpdateError> {
        let started = Instant::now();
        Env::check_tool_id(tool_id)?;
        let layout = &env.layout;
        let io = |op, path: &PathBuf| UpdateError::io(tool_id, op, path.clone());
        let tool_dir = layout.tool_dir(tool_id);
        fs_err::create_dir_all(&tool_dir).map_err(io("create", &tool_dir))?;
        let store = Store::new(layout);
        store
            .ensure_dirs()
            .map_err(io("create", &layout.objects_dir()))?;
        let lock_path = layout.lock_path(tool_id);
        let lock = FileLock::exclusive(&lock_path)
            .await
            .map_err(io("lock", &lock_path))?
            .ok_or(UpdateError::Locked {
                tool_id: tool_id.to_owned(),
                path: lock_path,
            })?;
        Ok(Self {
            env,
            tool_id,
            reporter,
            cancel,
            store,
            started,
            _lock: lock,
        })
    }

    /// Emits a phase event.
    pub fn phase(&self, phase: Phase) {
        self.reporter.report(&Event::Phase {
            tool_id: self.tool_id.to_owned(),
            phase,
        });
    }

    /// An I/O error of this tool, naming the operation and the path.
    pub fn io(
        &self,
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> UpdateError {
        UpdateError::io(self.tool_id, op, path)
    }

    /// The error of a cancelled operation.
    pub fn cancelled(&self) -> UpdateError {
        UpdateError::Cancelled {
            tool_id: self.tool_id.to_owned(),
        }
    }

    /// Milliseconds since the session opened.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Holds the store shared, so no tool's garbage collection removes
    /// objects this session fetched before its release links them.
    pub async fn gc_guard(&self) -> Result<FileLock, UpdateError> {
        let path = self.env.layout.gc_lock_path();
        loop {
            if let Some(lock) = FileLock::shared(&path)
                .await
                .map_err(self.io("lock", &path))?
            {
                return Ok(lock);
            }
            if self.cancel.is_cancelled() {
                return Err(self.cancelled());
            }
        }
    }

    /// Fetches every object the plan lacks, a few at once; the first failure
    /// stops the others (their partials stay for the next run). Each job
    /// (its URLs, its future) is made only when a slot frees up, so memory
    /// follows the concurrency, not the file count.
    pub async fn fetch_all(
        &self,
        plan: &Plan,
        version: &str,
        manifest: Option<&FetchedManifest>,
        durability: Durability,
    ) -> Result<Fetched, UpdateError> {
        self.fetch_phase(plan, version, manifest, durability, None)
            .await
    }

    /// [`Session::fetch_all`] for a repair of `release`: the damaged files
    /// still in it (at the plan's paths) lend their intact chunks, so only
    /// the damaged chunks are fetched.
    pub async fn fetch_repair(
        &self,
        plan: &Plan,
        version: &str,
        release: &Path,
    ) -> Result<Fetched, UpdateError> {
        self.fetch_phase(plan, version, None, Durability::Each, Some(release))
            .await
    }

    async fn fetch_phase(
        &self,
        plan: &Plan,
        version: &str,
        manifest: Option<&FetchedManifest>,
        durability: Durability,
        in_place: Option<&Path>,
    ) -> Result<Fetched, UpdateError> {
        // Objects an earlier phase (packs) already brought in are skipped.
        let objects: Vec<&PlannedFile> = plan
            .objects_to_fetch()
            .into_iter()
            .filter(|f| !self.store.contains(&f.sha256, f.size))
            .collect();
        self.check_space(&objects)?;
        let paths = PathsByContent::new(plan);
        let ctx = JobContext {
            version,
            manifest_url: manifest.map(|m| &m.url),
            durability,
            in_place,
            paths: &paths,
            progress: Progress::new(self.tool_id, objects.iter().map(|f| f.size).sum())
                .capped(self.env.fetcher.rate()),
            cancel: self.cancel.child_token(),
        };
        let mut queue = objects.iter();
        let mut running = FuturesUnordered::new();
        let mut sum = Fetched::default();
        let mut failure = None;
        loop {
            while running.len() < self.env.config.concurrency.max(1) {
                let Some(file) = queue.next() else { break };
                running.push(self.fetch_job(file, &ctx));
            }
            match running.next().await {
                None => break,
                Some(Ok(f)) => sum += f,
                // The first failure stops the others (dropped below).
                Some(Err(e)) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(running);
        let totals = failure.map_or(Ok(sum), |e| Err(self.disk_full_or(e, &objects)));
        ctx.cancel.cancel();
        ctx.progress.emit(self.reporter);
        totals
    }

    /// One object, then `file_verified` for every path that lists it.
    async fn fetch_job(
        &self,
        file: &PlannedFile,
        ctx: &JobContext<'_>,
    ) -> Result<Fetched, UpdateError> {
        let fetcher = &self.env.fetcher;
        let job = ObjectJob {
            tool_id: self.tool_id,
            file,
            sources: fetcher.sources(self.tool_id, ctx.version, file, ctx.manifest_url),
            durability: match ctx.durability {
                Durability::Batched => Durability::for_object(file.size),
                Durability::Each => Durability::Each,
            },
        };
        let in_place = ctx.in_place.map(|release| release.join(&file.path));
        let done = self
            .fetch_object(&job, &ctx.progress, &ctx.cancel, in_place.as_deref())
            .await
            .map_err(|source| self.fetch_error(&job, source))?;
        for path in ctx.paths.of(&file.sha256) {
            self.reporter.report(&Event::FileVerified {
                tool_id: self.tool_id.to_owned(),
                path: path.to_owned(),
            });
        }
        Ok(done)
    }

    /// One object: from local chunks plus ranges when it has a chunk index
    /// and that pays, else (or after a delta that could not finish) whole.
    async fn fetch_object(
        &self,
        job: &ObjectJob<'_>,
        progress: &Progress,
        cancel: &CancellationToken,
        in_place: Option<&Path>,
    ) -> Result<Fetched, FetchError> {
        let delta = crate::delta::DeltaJob {
            fetcher: &self.env.fetcher,
            layout: &self.env.layout,
            store: &self.store,
            job,
            progress,
            reporter: self.reporter,
            cancel,
            in_place,
        };
        let attempt = delta.run().await?;
        if attempt.stored {
            return Ok(attempt.fetched);
        }
        let whole = self
            .env
            .fetcher
            .fetch_object(&self.store, job, progress, self.reporter, cancel)
            .await?;
        Ok(Fetched {
            downloaded: attempt.fetched.downloaded + whole.downloaded,
            resumed: whole.resumed,
            from_local_chunks: 0,
        })
    }

    fn fetch_error(&self, job: &ObjectJob<'_>, source: FetchError) -> UpdateError {
        if matches!(source, FetchError::Cancelled) {
            return self.cancelled();
        }
        UpdateError::Fetch {
            tool_id: self.tool_id.to_owned(),
            path: job.file.path.clone(),
            source: Box::new(source),
        }
    }

    /// Bytes still to download for `objects` (partials count as done).
    fn bytes_needed(&self, objects: &[&PlannedFile]) -> u64 {
        objects
            .iter()
            .map(|f| f.size.saturating_sub(self.store.partial_len(&f.sha256)))
            .sum()
    }

    /// A download that failed for lack of space says how much is needed and
    /// free, as the check before the download does (the disk may fill up
    /// after it, e.g. through another program).
    fn disk_full_or(&self, err: UpdateError, objects: &[&PlannedFile]) -> UpdateError {
        let full = matches!(&err, UpdateError::Fetch { source, .. }
            if matches!(&**source, FetchError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::StorageFull));
        if !full {
            return err;
        }
        UpdateError::DiskFull {
            tool_id: self.tool_id.to_owned(),
            path: self.env.layout.objects_dir(),
            needed: self.bytes_needed(objects),
            free: self.store.free_space().unwrap_or(0),
        }
    }

    fn check_space(&self, objects: &[&PlannedFile]) -> Result<(), UpdateError> {
        let needed = self.bytes_needed(objects);
        if needed == 0 {
            return Ok(());
        }
        let dir = self.env.layout.objects_dir();
        let free = self.store.free_space().map_err(self.io("statvfs", &dir))?;
        if needed > free {
            return Err(UpdateError::DiskFull {
                tool_id: self.tool_id.to_owned(),
                path: dir,
                needed,
                free,
            });
        }
        Ok(())
    }

    /// Appends an activation to the history and saves the state (after the
    /// commit point).
    pub fn record(&self, state: &mut ToolState, activation: Activation<'_>) {
        state.record(
            HistoryEntry {
                version: activation.version.to_owned(),
                manifest_hash: activation.hash.to_owned(),
                from_version: activation.from_version,
                action: activation.action.to_owned(),
                at: jiff::Timestamp::now().to_string(),
                bytes_downloaded: activation.transfer.map(|t| t.0),
                bytes_saved: activation.transfer.map(|t| t.1),
            },
            activation.raise_floor,
        );
        let path = self.env.layout.state_path(self.tool_id);
        // Past the commit point: the new release is active, so a failed state
        // write must not turn the update into a reported failure (CONTRACT §3:
        // a failed update leaves `current` as it was). The floor survives it:
        // the next run takes the active version as a floor too.
        if let Err(e) = state.save(&path) {
            tracing::warn!("{}: cannot write {}: {e}", self.tool_id, path.display());
        }
    }
}

/// What every job of one fetch phase shares.
struct JobContext<'a> {
    version: &'a str,
    manifest_url: Option<&'a reqwest::Url>,
    durability: Durability,
    /// The release being repaired, whose damaged files lend intact chunks.
    in_place: Option<&'a Path>,
    paths: &'a PathsByContent<'a>,
    progress: Progress,
    cancel: CancellationToken,
}

/// The paths of the plan's fetched files by content, found by binary
/// search (a content may be listed under several paths).
struct PathsByContent<'a> {
    plan: &'a Plan,
    by_sha: Vec<u32>,
}

impl<'a> PathsByContent<'a> {
    fn new(plan: &'a Plan) -> Self {
        let mut by_sha: Vec<u32> = (0..plan.fetch.len() as u32).collect();
        by_sha.sort_unstable_by(|a, b| {
            plan.fetch[*a as usize]
                .sha256
                .cmp(&plan.fetch[*b as usize].sha256)
        });
        Self { plan, by_sha }
    }

    fn of(&self, sha256: &'a str) -> impl Iterator<Item = &'a str> + '_ {
        let sha = |i: &u32| self.plan.fetch[*i as usize].sha256.as_str();
        let start = self.by_sha.partition_point(|i| sha(i) < sha256);
        self.by_sha[start..]
            .iter()
            .take_while(move |i| sha(i) == sha256)
            .map(|i| self.plan.fetch[*i as usize].path.as_str())
    }
}

/// One activation, as the history records it.
pub(crate) struct Activation<'a> {
    /// The version made active.
    pub version: &'a str,
    /// Its `manifest_hash`.
    pub hash: &'a str,
    /// The version active before.
    pub from_version: Option<String>,
    /// `update`, `rollback` or `repair`.
    pub action: &'a str,
    /// Whether the no-rollback floor rises to `version` (a rollback, the
    /// user's choice, never lowers it and never raises it).
    pub raise_floor: bool,
    /// For an update: bytes downloaded (resumed ones included) and bytes
    /// the delta saved, so screens can total what updates cost and saved.
    pub transfer: Option<(u64, u64)>,
}
