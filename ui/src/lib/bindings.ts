// Generated from the Rust types by `make app-types` (src-tauri/src/bindings.rs).
// Do not edit: change the Rust type and regenerate.

export type Phase = "manifest" | "plan" | "fetch" | "stage" | "activate" | "cleanup" | "verify" | "repair";

export type ErrorKind = "usage" | "input" | "config" | "invalid_settings" | "network" | "certificate" | "trust" | "integrity" | "io" | "disk_full" | "corrupt" | "locked" | "busy" | "in_use" | "not_downloaded" | "not_installed" | "no_previous_release" | "cancelled" | "app_update" | "ipc" | "internal";

export type ErrorInfo = { 
/**
 * The machine-readable class, e.g. `integrity`, `network`, `trust`.
 */
kind: ErrorKind, 
/**
 * One line naming the tool, the file, the URL and the cause.
 */
message: string, 
/**
 * Whether trying again later can help.
 */
retryable: boolean, 
/**
 * Every distinct cause below the message, outermost first, each once.
 */
chain: Array<string>, 
/**
 * What to try next, when the cause is a usual mistake.
 */
hint: string | null, };

export type Event = { "event": "plan_ready", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The active version, if any.
 */
from_version: string | null, 
/**
 * The target version.
 */
to_version: string, 
/**
 * Files to download.
 */
files_to_fetch: number, 
/**
 * Bytes to download (before any resume).
 */
bytes_to_fetch: number, 
/**
 * Files already present.
 */
files_reused: number, 
/**
 * Bytes already present.
 */
bytes_saved: number, 
/**
 * Files the new release drops.
 */
files_to_remove: number, } | { "event": "phase", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The phase.
 */
phase: Phase, } | { "event": "file_started", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * Path in the release.
 */
path: string, 
/**
 * Its size.
 */
size: number, 
/**
 * Bytes reused from a partial download.
 */
resume_from: number, } | { "event": "progress", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * Bytes present so far, resumed bytes included.
 */
bytes_done: number, 
/**
 * Bytes the fetch phase needs in total.
 */
bytes_total: number, 
/**
 * Recent download rate.
 */
bytes_per_sec: number, 
/**
 * The bandwidth cap in force (`max_rate`), bytes per second; `null`
 * when the run is not limited.
 */
max_rate?: number | null, } | { "event": "file_progress", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * Path in the release.
 */
path: string, 
/**
 * Bytes of the file present, resumed bytes included.
 */
bytes_done: number, 
/**
 * The file's size.
 */
size: number, } | { "event": "mirror_fetching", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * Path in the release.
 */
path: string, 
/**
 * The site mirror (scheme, host and port).
 */
mirror: string, 
/**
 * Its upstream, as the site mirror names it.
 */
upstream: string, 
/**
 * Bytes the site mirror has received from upstream.
 */
bytes_done: number, 
/**
 * The file's size.
 */
size: number, } | { "event": "file_verified", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * Path in the release.
 */
path: string, } | { "event": "file_failed", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * Path in the release.
 */
path: string, 
/**
 * What went wrong.
 */
error: ErrorInfo, 
/**
 * Whether another attempt follows.
 */
will_retry: boolean, } | { "event": "done", 
/**
 * The final report.
 */
report: UpdateReport, } | { "event": "failed", 
/**
 * The tool.
 */
tool_id: string, 
/**
 * What went wrong.
 */
error: ErrorInfo, };

export type SignatureStatus = "valid" | "invalid" | "unsigned" | "unknown_key";

export type SignatureCheck = { 
/**
 * The verdict.
 */
status: SignatureStatus, 
/**
 * The key id the manifest claims, if signed.
 */
public_key_id: string | null, };

export type UpdateReport = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The version active before, `None` on a first install.
 */
from_version: string | null, 
/**
 * The version active now.
 */
to_version: string, 
/**
 * Files fetched from a mirror in this run.
 */
files_downloaded: number, 
/**
 * Files of the new release whose content was verified by SHA-256 (all of them).
 */
files_verified: number, 
/**
 * Files of the old release that the new one no longer lists.
 */
files_deleted: number, 
/**
 * Files of the new release not fetched because their content was already present.
 */
files_unchanged: number, 
/**
 * Payload bytes fetched in this run.
 */
bytes_downloaded: number, 
/**
 * Sizes of the target files not fetched because they were already present.
 */
bytes_saved: number, 
/**
 * Bytes of partial downloads reused from an interrupted run.
 */
bytes_resumed: number, 
/**
 * Bytes of changed files rebuilt from chunks already on disk (old
 * versions, other tools) instead of being downloaded.
 */
bytes_from_local_chunks: number, 
/**
 * `manifest_hash` of the installed manifest.
 */
manifest_hash: string, 
/**
 * The signature verdict and key id.
 */
signature: SignatureCheck, 
/**
 * Wall time of the run.
 */
duration_ms: number, 
/**
 * `true` when `to_version` was only downloaded, not switched to
 * (`--download-only`): it is then pending, and `from_version` stays active.
 */
download_only: boolean, };

export type FileStatus = "ok" | "modified" | "missing" | "extra";

export type FileCheck = { 
/**
 * Path inside the release.
 */
path: string, 
/**
 * The verdict.
 */
status: FileStatus, 
/**
 * From the manifest (`None` for an extra file).
 */
expected_sha256: string | null, 
/**
 * From disk (`None` for a missing file).
 */
actual_sha256: string | null, 
/**
 * From the manifest.
 */
expected_size: number | null, 
/**
 * From disk.
 */
actual_size: number | null, 
/**
 * For a modified file: how many other paths share its inode (the store
 * object, kept releases, other tools' releases). An in-place edit of a
 * hard link changed them all; `repair` heals them together.
 */
shared_links?: number, };

export type VerifyReport = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The active version that was checked.
 */
version: string, 
/**
 * Whether every file is `ok` and nothing is extra.
 */
ok: boolean, 
/**
 * One entry per file, sorted by path.
 */
files: Array<FileCheck>, };

export type Delta = { 
/**
 * Files whose content must be downloaded.
 */
files_to_fetch: number, 
/**
 * Bytes to download, before resume: for files with a chunk index, the
 * index and the missing chunks only (exact, from the index).
 */
bytes_to_fetch: number, 
/**
 * Bytes of the files to fetch that will be rebuilt from chunks already
 * on disk instead of downloaded.
 */
bytes_from_local_chunks: number, 
/**
 * Bytes already downloaded in `.partial` files that a run would resume.
 */
bytes_resumable: number, 
/**
 * Files whose content is already present.
 */
files_reused: number, 
/**
 * Their bytes: what the delta saves over a full download.
 */
bytes_saved: number, 
/**
 * Files of the active release the new one drops.
 */
files_to_remove: number, };

export type ChannelDecision = { 
/**
 * The channel followed.
 */
channel: string, 
/**
 * Its `sequence`.
 */
sequence: number, 
/**
 * The version the channel offers.
 */
offered: string, 
/**
 * Whether this workstation is in the rollout of `offered`.
 */
in_rollout: boolean, 
/**
 * The version this workstation should run (`None`: nothing installed
 * and nothing offered to it).
 */
target: string | null, 
/**
 * Whether reaching `target` is a signed rollback (the floor moves down).
 */
rollback: boolean, 
/**
 * The withdrawn versions (never installed).
 */
withdrawn: Array<string>, };

export type Hold = { 
/**
 * The version the tool is held at (`None`: whatever is active).
 */
version: string | null, 
/**
 * RFC 3339 time the hold was set (`None` for a hold from the settings).
 */
at: string | null, };

export type UpdateCheck = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The active version, if installed.
 */
installed_version: string | null, 
/**
 * The version the mirror offers (verified).
 */
available_version: string, 
/**
 * Whether the offered manifest is exactly the installed one.
 */
up_to_date: boolean, 
/**
 * `manifest_hash` of the offered manifest.
 */
manifest_hash: string, 
/**
 * Signature verdict of the offered manifest (always `valid`: others are errors).
 */
signature: SignatureCheck, 
/**
 * The offered version's `release_notes` (signed; inert text, never HTML).
 */
release_notes: string | null, 
/**
 * What the tool's channel decided for this workstation, when one is published.
 */
channel: ChannelDecision | null, 
/**
 * The technician's hold, when the tool is held.
 */
hold: Hold | null, 
/**
 * A downloaded version waiting to be switched to, if any.
 */
pending: Pending | null, 
/**
 * Whether running jobs hold the tool's in-use lock right now.
 */
in_use: boolean, 
/**
 * Files whose content must be downloaded.
 */
files_to_fetch: number, 
/**
 * Bytes to download, before resume: for files with a chunk index, the
 * index and the missing chunks only (exact, from the index).
 */
bytes_to_fetch: number, 
/**
 * Bytes of the files to fetch that will be rebuilt from chunks already
 * on disk instead of downloaded.
 */
bytes_from_local_chunks: number, 
/**
 * Bytes already downloaded in `.partial` files that a run would resume.
 */
bytes_resumable: number, 
/**
 * Files whose content is already present.
 */
files_reused: number, 
/**
 * Their bytes: what the delta saves over a full download.
 */
bytes_saved: number, 
/**
 * Files of the active release the new one drops.
 */
files_to_remove: number, };

export type RepairReport = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The active version that was repaired.
 */
version: string, 
/**
 * Paths found `modified` or `missing` and replaced, sorted.
 */
files_repaired: Array<string>, 
/**
 * Paths found `extra` and removed, sorted.
 */
files_removed: Array<string>, 
/**
 * Files whose content had to be downloaded.
 */
files_downloaded: number, 
/**
 * Payload bytes downloaded.
 */
bytes_downloaded: number, 
/**
 * Bytes of partial downloads reused.
 */
bytes_resumed: number, 
/**
 * Bytes of repaired files rebuilt from chunks already on disk (the
 * damaged file's own intact chunks, other objects) instead of downloaded.
 */
bytes_from_local_chunks: number, 
/**
 * Files of other releases (kept ones, other tools) that shared a
 * damaged inode and were put back too.
 */
also_repaired: Array<SharedRepair>, 
/**
 * The verification after the repair.
 */
verify: VerifyReport, 
/**
 * Wall time.
 */
duration_ms: number, };

export type SharedRepair = { 
/**
 * The tool whose release it is (maybe another tool listing the same content).
 */
tool_id: string, 
/**
 * The release (version) that held the damaged file.
 */
release: string, 
/**
 * The file's path in that release.
 */
path: string, };

export type RollbackReport = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The version active before.
 */
from_version: string, 
/**
 * The version active now.
 */
to_version: string, 
/**
 * `manifest_hash` of the release now active.
 */
manifest_hash: string, 
/**
 * Files of the target release that were damaged and put back before
 * the switch (from the store, or fetched from the mirror).
 */
repaired: Array<string>, 
/**
 * Unlisted files removed from the target release before the switch.
 */
removed: Array<string>, 
/**
 * Objects fetched from the mirror to heal the target.
 */
files_downloaded: number, 
/**
 * Their payload bytes.
 */
bytes_downloaded: number, };

export type HistoryEntry = { 
/**
 * The version made active.
 */
version: string, 
/**
 * Its `manifest_hash`.
 */
manifest_hash: string, 
/**
 * The version active before, if any.
 */
from_version: string | null, 
/**
 * `update`, `rollback` or `repair`.
 */
action: string, 
/**
 * RFC 3339 time of the activation.
 */
at: string, 
/**
 * Bytes an `update` downloaded (resumed bytes included); absent for
 * other actions and in state files written before it was recorded.
 */
bytes_downloaded?: number | null, 
/**
 * Bytes an `update` reused instead of downloading: what the delta saved.
 */
bytes_saved?: number | null, };

export type Pending = { 
/**
 * The downloaded version.
 */
version: string, 
/**
 * Its `manifest_hash`, as verified when it was downloaded: `activate`
 * refuses a stored manifest that hashes to anything else.
 */
manifest_hash: string, 
/**
 * RFC 3339 time the download finished.
 */
downloaded_at: string, 
/**
 * Bytes that download carried over the network.
 */
bytes_downloaded: number, 
/**
 * Whether it is a signed channel rollback (allowed below the floor).
 */
rollback?: boolean, 
/**
 * Why it is not active yet: `download_only` or `in_use`.
 */
reason: string, };

export type Policy = "auto" | "download" | "notify" | "manual";

export type Outcome = "updated" | "downloaded" | "available" | "up_to_date" | "waiting" | "deferred" | "held" | "manual" | "failed";

export type ToolOutcome = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * Its policy.
 */
policy: Policy, 
/**
 * What happened.
 */
outcome: Outcome, 
/**
 * The version active after the cycle.
 */
installed_version: string | null, 
/**
 * The version the mirrors offer.
 */
offered_version: string | null, 
/**
 * A downloaded version waiting to be switched to.
 */
pending_version: string | null, 
/**
 * One line for people (`1.2.0 downloaded, waiting for the window`).
 */
message: string, 
/**
 * RFC 3339: when its switching window next opens (absent: no window).
 */
next_window: string | null, 
/**
 * Bytes this cycle downloaded for it.
 */
bytes_downloaded: number, 
/**
 * Why it failed.
 */
error: ErrorInfo | null, };

export type AgentStatus = { 
/**
 * [`AGENT_STATUS_VERSION`].
 */
v: number, 
/**
 * The agent's process.
 */
pid: number, 
/**
 * Whether a cycle is under way.
 */
running: boolean, 
/**
 * RFC 3339 start of the last (or current) cycle.
 */
cycle_started_at: string, 
/**
 * RFC 3339 end of the last finished cycle.
 */
cycle_finished_at: string | null, 
/**
 * RFC 3339: when the next cycle is due (absent for `--once`).
 */
next_check_at: string | null, 
/**
 * RFC 3339: the earliest opening of a switching window among the tools
 * the agent may switch (absent when none has a window).
 */
next_window: string | null, 
/**
 * Per tool, sorted by id.
 */
tools: Array<ToolOutcome>, };

export type Integrity = "unknown" | "ok" | "modified";

export type Savings = { 
/**
 * Bytes the most recent update reused instead of downloading, if one recorded it.
 */
last_saved: number | null, 
/**
 * When that update happened (RFC 3339).
 */
last_at: string | null, 
/**
 * Bytes saved by every recorded update.
 */
total_saved: number, 
/**
 * Bytes downloaded by every recorded update.
 */
total_downloaded: number, };

export type Operation = "update" | "verify" | "repair" | "rollback";

export type RunSnapshot = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * What is running.
 */
operation: Operation, 
/**
 * The target version, once the plan is known.
 */
to_version: string | null, 
/**
 * The current phase, once one began.
 */
phase: Phase | null, 
/**
 * Bytes present so far in the fetch phase.
 */
bytes_done: number, 
/**
 * Bytes the fetch phase needs.
 */
bytes_total: number, 
/**
 * Recent download rate.
 */
bytes_per_sec: number, 
/**
 * The bandwidth cap limiting this run (`max_rate`), bytes per second.
 */
max_rate?: number | null, 
/**
 * Files verified so far.
 */
files_verified: number, 
/**
 * Unix time (ms) the run started.
 */
started_ms: number, 
/**
 * While the run waits on a site mirror still fetching a file from its
 * upstream: how far that fetch has come, in percent.
 */
upstream_percent: number | null, 
/**
 * The process running it when that is not this app (the agent, a CLI).
 */
by_pid: number | null, };

export type ToolView = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The active version.
 */
installed_version: string | null, 
/**
 * The version the mirror offers, when it could be checked.
 */
available_version: string | null, 
/**
 * Whether the offered manifest is the installed one.
 */
up_to_date: boolean | null, 
/**
 * Signature verdict of the offered manifest (with the key id), when known.
 */
signature: SignatureCheck | null, 
/**
 * What an update would fetch and reuse, when an update is pending.
 */
delta: Delta | null, 
/**
 * Integrity of the active release.
 */
integrity: Integrity, 
/**
 * Paths the watcher saw change, sorted (empty unless `modified`).
 */
modified_paths: Array<string>, 
/**
 * Unix time (ms) of the last verification in this app, if any.
 */
last_verified_ms: number | null, 
/**
 * Versions kept on disk, newest first (rollback targets).
 */
releases: Array<string>, 
/**
 * Whether some updater (this app or another process) holds the tool's lock.
 */
updater_running: boolean, 
/**
 * Whether a technician holds the tool (`tooldelta hold`): updates leave it alone.
 */
held: boolean, 
/**
 * The version it is held at, when the hold names one.
 */
held_version: string | null, 
/**
 * The offered version's signed `release_notes`: plain text, shown as text
 * (never rendered as HTML).
 */
release_notes: string | null, 
/**
 * Bytes saved and downloaded by its updates so far.
 */
savings: Savings, 
/**
 * The run on the tool (this app's, or another process's such as the agent), if any.
 */
run: RunSnapshot | null, 
/**
 * What the agent may do with it (`[tools.ID] policy`, else the global one).
 */
policy: Policy, 
/**
 * A downloaded version waiting for activation, if any.
 */
pending_version: string | null, 
/**
 * Why the mirror check failed, if it did.
 */
check_error: ErrorInfo | null, };

export type TrustedKey = { 
/**
 * The PEM file.
 */
path: string, 
/**
 * Its key id (16 hex), when the file is a valid Ed25519 public key.
 */
key_id: string | null, 
/**
 * Why it could not be read, otherwise.
 */
error: string | null, };

export type SettingsView = { 
/**
 * The install root.
 */
root: string | null, 
/**
 * Mirror base URLs, tried in order.
 */
mirrors: Array<string>, 
/**
 * Trusted keys.
 */
trust: Array<TrustedKey>, 
/**
 * Previous releases kept for rollback.
 */
keep_releases: number, 
/**
 * The settings file the app reads and saves.
 */
config_path: string, 
/**
 * Settings given by a flag or a `TOOLDELTA_*` variable, which win over
 * the file at the next start (`root`, `mirrors`, `trust`, `max_rate`, …).
 */
overridden: Array<string>, 
/**
 * Bandwidth cap, connections, proxy and private CA.
 */
network?: NetworkView | null, 
/**
 * Whether OS notifications are shown (updates available, applied, failed).
 */
notifications: boolean, };

export type NetworkView = { 
/**
 * Bandwidth cap: `20MiB`, or `09:00-18:00=10MiB,unlimited`.
 */
max_rate: string | null, 
/**
 * Connections for one large file.
 */
connections: number | null, 
/**
 * Proxy URL (else `HTTPS_PROXY` / `HTTP_PROXY`).
 */
proxy: string | null, 
/**
 * Hosts reached without the proxy (else `NO_PROXY`).
 */
no_proxy: string | null, 
/**
 * PEM file of a private CA.
 */
ca_cert: string | null, };

export type SettingsInput = { 
/**
 * Mirror base URLs, tried in order.
 */
mirrors: Array<string>, 
/**
 * Trusted public key files (SPKI PEM).
 */
trust: Array<string>, 
/**
 * Previous releases kept for rollback.
 */
keep_releases: number, 
/**
 * Network settings; absent: left as they are.
 */
network?: NetworkView | null, 
/**
 * Whether OS notifications are shown; absent: left as it is.
 */
notifications?: boolean | null, };

export type AppInfo = { 
/**
 * The app's version.
 */
version: string, 
/**
 * Whether the app runs in kiosk mode (`--kiosk`).
 */
kiosk: boolean, 
/**
 * Seconds the kiosk shows each page of tools (`--kiosk-page-seconds`).
 */
kiosk_page_seconds: number, 
/**
 * The settings in force.
 */
settings: SettingsView, 
/**
 * A problem found at start-up (an unreadable settings file), if any.
 */
startup_error: ErrorInfo | null, };

export type AppUpdateView = { 
/**
 * The running version.
 */
current_version: string, 
/**
 * The offered version.
 */
version: string, 
/**
 * Release notes.
 */
notes: string | null, 
/**
 * Publication date (RFC 3339), if given.
 */
pub_date: string | null, };

export type AppUpdateStatus = { "status": "up_to_date", 
/**
 * The running version.
 */
current_version: string, } | { "status": "available", 
/**
 * What is offered.
 */
update: AppUpdateView, };

export type AppUpdateEvent = { "event": "progress", 
/**
 * Received.
 */
bytes_done: number, 
/**
 * Announced length, if the server sent one.
 */
bytes_total: number | null, } | { "event": "installing" };

export type ExportedFile = { 
/**
 * The file written.
 */
path: string, };

export type ToolModified = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * Paths inside the release that changed, sorted.
 */
paths: Array<string>, };

export type ReleaseUsage = { 
/**
 * The version.
 */
version: string, 
/**
 * Whether it is the active release.
 */
active: boolean, 
/**
 * Sum of its files' sizes (what it holds, shared or not).
 */
bytes: number, };

export type ToolUsage = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The active version.
 */
active: string | null, 
/**
 * Releases on disk, newest first.
 */
releases: Array<ReleaseUsage>, 
/**
 * Bytes of stored objects only this tool lists: what `remove` frees.
 */
unique_bytes: number, 
/**
 * Bytes of stored objects this tool lists together with another tool:
 * they stay when this tool is removed.
 */
shared_bytes: number, 
/**
 * Bytes of stored objects only non-active kept releases list: what
 * dropping kept releases frees.
 */
kept_only_bytes: number, };

export type DiskUsage = { 
/**
 * The install root.
 */
root: string, 
/**
 * Every file under the root, each inode counted once.
 */
total_bytes: number, 
/**
 * Stored objects (verified content).
 */
objects_bytes: number, 
/**
 * Number of stored objects.
 */
objects: number, 
/**
 * Stored objects no stored manifest lists: what `gc` frees.
 */
unreferenced_bytes: number, 
/**
 * Interrupted downloads (`.partial` files): what `gc --partials` frees.
 */
partial_bytes: number, 
/**
 * Number of `.partial` files.
 */
partials: number, 
/**
 * Free bytes on the file system of the root.
 */
free_bytes: number | null, 
/**
 * Per tool, sorted by id.
 */
tools: Array<ToolUsage>, };

export type GcReport = { 
/**
 * Kept (non-active) releases dropped, as `tool@version`.
 */
releases_removed: Array<string>, 
/**
 * Unreferenced objects removed.
 */
objects_removed: number, 
/**
 * Their bytes.
 */
objects_bytes: number, 
/**
 * `.partial` files removed (with their `.etag`).
 */
partials_removed: number, 
/**
 * Their bytes.
 */
partials_bytes: number, 
/**
 * Whether objects and partials were left alone because an update was
 * running (it holds the store lock); run `gc` again later.
 */
skipped_busy: boolean, };

export type RemoveReport = { 
/**
 * The tool.
 */
tool_id: string, 
/**
 * The version that was active.
 */
version: string | null, 
/**
 * Every release removed, newest first.
 */
releases_removed: Array<string>, 
/**
 * What the collection after it freed (objects other tools list stay).
 */
gc: GcReport, };
