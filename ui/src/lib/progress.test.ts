import { describe, expect, it } from 'vitest';
import type { Event, UpdateReport } from './bindings';
import { EventBatcher, isFinished, newRun, reduce, upstreamWaitText } from './progress';

const report: UpdateReport = {
  tool_id: 't',
  from_version: '1.0.0',
  to_version: '1.1.0',
  files_downloaded: 1,
  files_verified: 3,
  files_deleted: 0,
  files_unchanged: 2,
  bytes_downloaded: 100,
  bytes_saved: 900,
  bytes_resumed: 0,
  bytes_from_local_chunks: 0,
  manifest_hash: 'h',
  signature: { status: 'valid', public_key_id: 'k' },
  duration_ms: 5,
  download_only: false,
};

describe('reduce', () => {
  it('follows an update from plan to report', () => {
    const events: Event[] = [
      {
        event: 'plan_ready',
        tool_id: 't',
        from_version: '1.0.0',
        to_version: '1.1.0',
        files_to_fetch: 1,
        bytes_to_fetch: 100,
        files_reused: 2,
        bytes_saved: 900,
        files_to_remove: 0,
      },
      { event: 'phase', tool_id: 't', phase: 'fetch' },
      { event: 'file_started', tool_id: 't', path: 'model.gguf', size: 100, resume_from: 0 },
      { event: 'progress', tool_id: 't', bytes_done: 60, bytes_total: 100, bytes_per_sec: 30 },
    ];
    let s = events.reduce((acc, e) => reduce(acc, e, 10), newRun('t', 'update', 0));
    expect(s).toMatchObject({
      toVersion: '1.1.0',
      phase: 'fetch',
      currentFile: 'model.gguf',
      bytesDone: 60,
      bytesTotal: 100,
      bytesSaved: 900,
    });
    expect(isFinished(s)).toBe(false);
    s = reduce(s, { event: 'done', report }, 20);
    expect(s.report).toBe(report);
    expect(s.bytesDone).toBe(100);
    expect(isFinished(s)).toBe(true);
  });

  it('never moves progress backwards when a lossy event arrives late', () => {
    let s = newRun('t', 'update');
    s = reduce(s, { event: 'progress', tool_id: 't', bytes_done: 80, bytes_total: 100, bytes_per_sec: 1 });
    s = reduce(s, { event: 'progress', tool_id: 't', bytes_done: 40, bytes_total: 100, bytes_per_sec: 1 });
    expect(s.bytesDone).toBe(80);
  });

  it("shows a site mirror's upstream progress while the run waits, and drops it once bytes flow", () => {
    const waiting: Event = {
      event: 'mirror_fetching',
      tool_id: 't',
      path: 'model.gguf',
      mirror: 'http://site:8080',
      upstream: 'https://hq',
      bytes_done: 37,
      size: 100,
    };
    let s = reduce(newRun('t', 'update'), { event: 'phase', tool_id: 't', phase: 'fetch' });
    expect(upstreamWaitText(s)).toBeNull();
    s = reduce(s, waiting);
    expect(s.currentFile).toBe('model.gguf');
    expect(upstreamWaitText(s)).toBe('Site mirror fetching from upstream: 37 %');
    s = reduce(s, { ...waiting, bytes_done: 99 });
    expect(upstreamWaitText(s)).toBe('Site mirror fetching from upstream: 99 %');
    s = reduce(s, { event: 'progress', tool_id: 't', bytes_done: 10, bytes_total: 100, bytes_per_sec: 5 });
    expect(upstreamWaitText(s)).toBeNull();
    s = reduce(reduce(s, waiting), { event: 'file_verified', tool_id: 't', path: 'model.gguf' });
    expect(s.upstreamWait).toBeNull();
  });

  it('says when a run is limited by the bandwidth cap, and when it no longer is', () => {
    let s = newRun('t', 'update');
    s = reduce(s, { event: 'progress', tool_id: 't', bytes_done: 1, bytes_total: 9, bytes_per_sec: 1, max_rate: 20971520 });
    expect(s.maxRate).toBe(20971520);
    s = reduce(s, { event: 'progress', tool_id: 't', bytes_done: 2, bytes_total: 9, bytes_per_sec: 1, max_rate: null });
    expect(s.maxRate).toBeNull();
  });

  it('keeps the error of a failed run', () => {
    const error = { kind: 'network' as const, message: 'cannot reach http://m', retryable: true, chain: [], hint: null };
    const s = reduce(newRun('t', 'update'), { event: 'failed', tool_id: 't', error }, 5);
    expect(s.error).toEqual(error);
    expect(isFinished(s)).toBe(true);
  });
});

describe('EventBatcher', () => {
  it('applies a burst of events in one batch, in order', () => {
    const batches: number[][] = [];
    const scheduled: (() => void)[] = [];
    const b = new EventBatcher<number>(
      (events) => batches.push(events),
      (cb) => scheduled.push(cb),
    );
    for (let i = 0; i < 100; i++) b.push(i);
    expect(scheduled).toHaveLength(1);
    scheduled[0]?.();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual([...Array(100).keys()]);
  });
});
