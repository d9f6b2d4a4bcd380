import { describe, expect, it } from 'vitest';
import { attentionOrder, matches, summarize, toolState } from './summary';
import type { ErrorInfo } from './bindings';
import { currentTool, pendingTool, thirtyTools, tool } from '../test/ipc';

const idle = { running: false, failure: null };
const rows = (tools = thirtyTools()) => attentionOrder(tools.map((t) => ({ tool: t, state: toolState(t, idle) })));

describe('toolState', () => {
  it('puts a run before anything else, a failure before a change on disk, a hold before a pending update', () => {
    const modifiedPending = pendingTool('x', 1, { integrity: 'modified' });
    expect(toolState(modifiedPending, { running: true, failure: null })).toBe('updating');
    expect(toolState(tool({ updater_running: true }), idle)).toBe('updating');
    const failure: ErrorInfo = { kind: 'integrity', message: 'x: hash mismatch', retryable: false, chain: [], hint: null };
    expect(toolState(modifiedPending, { running: false, failure })).toBe('failed');
    expect(toolState(modifiedPending, idle)).toBe('modified');
    expect(toolState(pendingTool('x', 1, { held: true }), idle)).toBe('held');
    expect(toolState(pendingTool('x', 1), idle)).toBe('pending');
    expect(toolState(currentTool('x'), idle)).toBe('current');
  });

  it('counts a refused offer as failed, an unreachable mirror only as unchecked', () => {
    const refused: ErrorInfo = { kind: 'trust', message: 'x: unknown key', retryable: false, chain: [], hint: null };
    const down: ErrorInfo = { kind: 'network', message: 'x: connection refused', retryable: true, chain: [], hint: null };
    expect(toolState(tool({ check_error: refused, up_to_date: null, delta: null }), idle)).toBe('failed');
    expect(toolState(tool({ check_error: down, up_to_date: null, delta: null }), idle)).toBe('unchecked');
  });
});

describe('attentionOrder', () => {
  it('lists failed, modified, then pending tools before the ones up to date', () => {
    const ids = rows().map((r) => r.tool.tool_id);
    expect(ids.slice(0, 5)).toEqual(['refused', 'changed', 'pending-a', 'pending-b', 'pending-c']);
    expect(ids.slice(5)).toEqual([...ids.slice(5)].sort());
    expect(ids).toHaveLength(30);
  });
});

describe('matches', () => {
  it('finds tools by any word of id, version or state', () => {
    const all = rows();
    expect(all.filter((r) => matches(r, 'PENDING')).map((r) => r.tool.tool_id)).toEqual(['pending-a', 'pending-b', 'pending-c']);
    expect(all.filter((r) => matches(r, 'tool-1')).length).toBe(10);
    expect(all.filter((r) => matches(r, '  ')).length).toBe(30);
    expect(all.filter((r) => matches(r, 'tool-1 nothing')).length).toBe(0);
  });
});

describe('summarize', () => {
  it('counts tools by state and adds up bytes to download and bytes saved', () => {
    const s = summarize(rows());
    expect(s.total).toBe(30);
    expect(s.counts).toEqual({ failed: 1, modified: 1, updating: 0, pending: 3, held: 0, unchecked: 0, current: 25 });
    expect(s.bytesToDownload).toBe((8 + 16 + 32) * 1024);
    expect(s.savedLast).toBe(30 * 1024 ** 2);
    expect(s.savedTotal).toBe(90 * 1024 ** 2);
    expect(s.mirror).toBe('reachable');
  });

  it('leaves a held update out of the bytes to download', () => {
    const s = summarize(rows([pendingTool('a', 8), pendingTool('b', 16, { held: true })]));
    expect(s.bytesToDownload).toBe(8 * 1024);
    expect(s.counts.held).toBe(1);
  });

  it('calls the mirror unreachable only when no check got an answer', () => {
    const down: ErrorInfo = { kind: 'network', message: 'connection refused', retryable: true, chain: [], hint: null };
    const unchecked = (id: string) => tool({ tool_id: id, check_error: down, up_to_date: null, available_version: null, delta: null });
    expect(summarize(rows([unchecked('a'), unchecked('b')])).mirror).toBe('unreachable');
    expect(summarize(rows([unchecked('a'), currentTool('b')])).mirror).toBe('reachable');
    expect(summarize(rows([])).mirror).toBe('unknown');
  });
});
