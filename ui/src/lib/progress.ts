// Folds the engine's event stream of one run into what a progress view shows.
// Pure functions (unit-tested); the coalescing below keeps a fast stream from
// re-rendering more than once per animation frame.

import type { ErrorInfo, Event, Operation, Phase, RunSnapshot, UpdateReport } from './bindings';

export interface FileFailure {
  path: string;
  error: ErrorInfo;
  willRetry: boolean;
}

/** A site mirror still fetching a file from its upstream while the run waits. */
export interface UpstreamWait {
  path: string;
  mirror: string;
  upstream: string;
  bytesDone: number;
  size: number;
}

export interface RunState {
  toolId: string;
  operation: Operation;
  fromVersion: string | null;
  toVersion: string | null;
  phase: Phase | null;
  filesToFetch: number;
  filesStarted: number;
  filesVerified: number;
  currentFile: string | null;
  upstreamWait: UpstreamWait | null;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSec: number;
  /** The bandwidth cap in force (`max_rate`), bytes per second; null when not limited. */
  maxRate: number | null;
  bytesSaved: number;
  failures: FileFailure[];
  report: UpdateReport | null;
  error: ErrorInfo | null;
  startedMs: number;
  finishedMs: number | null;
}

export function newRun(toolId: string, operation: Operation, nowMs = Date.now()): RunState {
  return {
    toolId,
    operation,
    fromVersion: null,
    toVersion: null,
    phase: null,
    filesToFetch: 0,
    filesStarted: 0,
    filesVerified: 0,
    currentFile: null,
    upstreamWait: null,
    bytesDone: 0,
    bytesTotal: 0,
    bytesPerSec: 0,
    maxRate: null,
    bytesSaved: 0,
    failures: [],
    report: null,
    error: null,
    startedMs: nowMs,
    finishedMs: null,
  };
}

/**
 * A run seen only through its snapshot (another process's, such as the
 * agent's, or one started in another window): what the progress views draw.
 * Per-file detail (current file, failures) is not in a snapshot.
 */
export function fromSnapshot(s: RunSnapshot): RunState {
  return {
    ...newRun(s.tool_id, s.operation, s.started_ms),
    toVersion: s.to_version,
    phase: s.phase,
    filesVerified: s.files_verified,
    bytesDone: s.bytes_done,
    bytesTotal: s.bytes_total,
    bytesPerSec: s.bytes_per_sec,
    maxRate: s.max_rate ?? null,
    upstreamWait:
      s.upstream_percent === null
        ? null
        : { path: '', mirror: '', upstream: '', bytesDone: s.upstream_percent, size: 100 },
  };
}

/** Applies one event; returns a new state (the old one is not changed). */
export function reduce(state: RunState, event: Event, nowMs = Date.now()): RunState {
  switch (event.event) {
    case 'plan_ready':
      return {
        ...state,
        fromVersion: event.from_version,
        toVersion: event.to_version,
        filesToFetch: event.files_to_fetch,
        bytesTotal: event.bytes_to_fetch,
        bytesSaved: event.bytes_saved,
      };
    case 'phase':
      return { ...state, phase: event.phase };
    case 'file_started':
      return { ...state, filesStarted: state.filesStarted + 1, currentFile: event.path };
    case 'mirror_fetching':
      return {
        ...state,
        currentFile: event.path,
        upstreamWait: {
          path: event.path,
          mirror: event.mirror,
          upstream: event.upstream,
          bytesDone: event.bytes_done,
          size: event.size,
        },
      };
    case 'progress':
      return {
        ...state,
        // Bytes flow again: the site mirror has the file.
        upstreamWait: null,
        // Progress is lossy and may arrive out of step with retries: never go back.
        bytesDone: Math.max(state.bytesDone, event.bytes_done),
        bytesTotal: event.bytes_total,
        bytesPerSec: event.bytes_per_sec,
        maxRate: event.max_rate ?? null,
      };
    case 'file_progress':
      return state.currentFile === event.path ? state : { ...state, currentFile: event.path };
    case 'file_verified':
      return {
        ...state,
        filesVerified: state.filesVerified + 1,
        upstreamWait: state.upstreamWait?.path === event.path ? null : state.upstreamWait,
      };
    case 'file_failed':
      return {
        ...state,
        failures: [
          ...state.failures,
          { path: event.path, error: event.error, willRetry: event.will_retry },
        ].slice(-20),
      };
    case 'done':
      return {
        ...state,
        report: event.report,
        toVersion: event.report.to_version,
        bytesDone: Math.max(state.bytesDone, state.bytesTotal),
        bytesPerSec: 0,
        currentFile: null,
        upstreamWait: null,
        finishedMs: nowMs,
      };
    case 'failed':
      return {
        ...state,
        error: event.error,
        bytesPerSec: 0,
        currentFile: null,
        upstreamWait: null,
        finishedMs: nowMs,
      };
  }
}

/** `Site mirror fetching from upstream: 37 %`, or null when the run is not waiting on one. */
export function upstreamWaitText(state: RunState): string | null {
  const wait = state.upstreamWait;
  if (!wait) return null;
  const pct = wait.size > 0 ? Math.min(100, Math.floor((wait.bytesDone / wait.size) * 100)) : 100;
  return `Site mirror fetching from upstream: ${pct} %`;
}

/** Whether the run has ended (with a report or an error). */
export function isFinished(state: RunState): boolean {
  return state.finishedMs !== null;
}

export const PHASE_LABELS: Record<Phase, string> = {
  manifest: 'Checking the signed manifest',
  plan: 'Comparing with the installed files',
  fetch: 'Downloading',
  stage: 'Preparing the new release',
  activate: 'Switching to the new release',
  cleanup: 'Cleaning up',
  verify: 'Verifying files',
  repair: 'Repairing files',
};

/**
 * Collects events and hands them to `apply` at most once per frame, in order,
 * so a burst of events costs one render. `schedule` is injectable for tests.
 */
export class EventBatcher<E> {
  private queue: E[] = [];
  private pending = false;

  constructor(
    private readonly apply: (events: E[]) => void,
    private readonly schedule: (cb: () => void) => void = (cb) => {
      if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => cb());
      else setTimeout(cb, 16);
    },
  ) {}

  push(event: E): void {
    this.queue.push(event);
    if (this.pending) return;
    this.pending = true;
    this.schedule(() => this.flush());
  }

  /** Applies everything queued now (also used when a run ends). */
  flush(): void {
    this.pending = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.apply(batch);
  }
}
