// What a glance at thirty tools needs: one state per tool, the order that puts
// the tools needing attention first, the search filter, and the figures of the
// summary header. Pure functions over the listing, shared by the dashboard and
// the kiosk so both say the same thing.

import type { ErrorInfo, ToolView } from './bindings';
import { updatePending } from './labels';

/**
 * One state per tool, the first that applies in this order: a run in progress,
 * a failure, files changed on disk, held back, an update offered, the mirror
 * not reached, up to date.
 */
export type ToolState = 'updating' | 'failed' | 'modified' | 'held' | 'pending' | 'unchecked' | 'current';

/** Attention first: failed, modified, updating, pending, then the rest. */
export const ATTENTION: readonly ToolState[] = ['failed', 'modified', 'updating', 'pending', 'held', 'unchecked', 'current'];

export const STATE_LABELS: Record<ToolState, string> = {
  updating: 'Updating',
  failed: 'Failed',
  modified: 'Modified',
  held: 'Held',
  pending: 'Update pending',
  unchecked: 'Not checked',
  current: 'Up to date',
};

/** What the app knows beyond the listing: a run of its own, an action that failed. */
export interface LocalState {
  running: boolean;
  failure: ErrorInfo | null;
}

/** A mirror that did not answer is not the tool's failure: the tool is only unchecked. */
export function isUnreachable(error: ErrorInfo | null): boolean {
  return !!error && error.kind === 'network' && error.retryable;
}

export function toolState(tool: ToolView, local: LocalState): ToolState {
  if (local.running || tool.updater_running) return 'updating';
  if (local.failure || (tool.check_error && !isUnreachable(tool.check_error))) return 'failed';
  if (tool.integrity === 'modified') return 'modified';
  if (tool.held) return 'held';
  if (updatePending(tool)) return 'pending';
  if (tool.check_error) return 'unchecked';
  return 'current';
}

export interface Row {
  tool: ToolView;
  state: ToolState;
}

/** Attention order, then by id (stable across refreshes, so nothing jumps without cause). */
export function attentionOrder(rows: Row[]): Row[] {
  const rank = (s: ToolState) => ATTENTION.indexOf(s);
  return [...rows].sort((a, b) => rank(a.state) - rank(b.state) || a.tool.tool_id.localeCompare(b.tool.tool_id));
}

/** Case-insensitive match of every word of `query` against the id, versions and state. */
export function matches(row: Row, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hay = [row.tool.tool_id, row.tool.installed_version, row.tool.available_version, STATE_LABELS[row.state]]
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
  return words.every((w) => hay.includes(w));
}

export type MirrorState = 'reachable' | 'unreachable' | 'unknown';

export interface Summary {
  total: number;
  counts: Record<ToolState, number>;
  /** Bytes every pending (not held) update would download. */
  bytesToDownload: number;
  /** Bytes the most recent update of each tool saved. */
  savedLast: number;
  /** Bytes saved by every recorded update of every tool. */
  savedTotal: number;
  mirror: MirrorState;
}

export function summarize(rows: Row[]): Summary {
  const counts = Object.fromEntries(ATTENTION.map((s) => [s, 0])) as Record<ToolState, number>;
  let bytesToDownload = 0;
  let savedLast = 0;
  let savedTotal = 0;
  for (const { tool, state } of rows) {
    counts[state] += 1;
    if (updatePending(tool) && !tool.held && tool.delta) bytesToDownload += tool.delta.bytes_to_fetch;
    savedLast += tool.savings.last_saved ?? 0;
    savedTotal += tool.savings.total_saved;
  }
  return { total: rows.length, counts, bytesToDownload, savedLast, savedTotal, mirror: mirrorState(rows) };
}

/** Reachable when any check got an answer; unreachable when every check failed to connect. */
function mirrorState(rows: Row[]): MirrorState {
  const checked = rows.filter(({ tool }) => tool.installed_version !== null);
  if (checked.some(({ tool }) => tool.up_to_date !== null || (tool.check_error && !isUnreachable(tool.check_error)))) {
    return 'reachable';
  }
  if (checked.some(({ tool }) => isUnreachable(tool.check_error))) return 'unreachable';
  return 'unknown';
}

/** `"1.0.0 → 1.1.0"` when another version is offered, else the installed one. */
export function versions(tool: ToolView): string {
  const installed = tool.installed_version ?? '—';
  const offered = tool.available_version;
  return offered && offered !== tool.installed_version ? `${installed} → ${offered}` : installed;
}
