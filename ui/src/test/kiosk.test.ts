import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import App from '../App.svelte';
import Kiosk from '../views/Kiosk.svelte';
import { createStore } from '../lib/store.svelte';
import type { AgentStatus, RunSnapshot } from '../lib/bindings';
import { appInfo, currentTool, mockCommands, thirtyTools, tool } from './ipc';

function snapshot(done: number): RunSnapshot {
  return {
    tool_id: 'llama-cpp',
    operation: 'update',
    to_version: '1.1.0',
    phase: 'fetch',
    bytes_done: done,
    bytes_total: 4 * 1024 ** 3,
    bytes_per_sec: 100 * 1024 ** 2,
    files_verified: 1,
    started_ms: 0,
    upstream_percent: null,
    by_pid: null,
  };
}

function agentStatus(nextWindow: string | null): AgentStatus {
  return {
    v: 1,
    pid: 4242,
    running: false,
    cycle_started_at: '2026-12-02T01:00:00Z',
    cycle_finished_at: '2026-12-02T01:00:05Z',
    next_check_at: null,
    next_window: nextWindow,
    tools: [],
  };
}

describe('kiosk mode', () => {
  it('renders every tool with its state and the summary, with no controls', async () => {
    mockCommands({
      app_info: () => appInfo(true),
      list_tools: () => [tool(), currentTool('whisper', { installed_version: '2.0.0', available_version: '2.0.0' })],
    });
    render(App);
    const kiosk = await screen.findByTestId('kiosk');
    const pending = await within(kiosk).findByTestId('kiosk-tool-llama-cpp');
    expect(pending.dataset.state).toBe('pending');
    expect(pending.textContent).toContain('1.0.0 → 1.1.0');
    expect(pending.textContent).toContain('4.7 GiB saved');
    expect(within(kiosk).getByTestId('kiosk-tool-whisper').textContent).toContain('Up to date');
    expect(within(kiosk).getByTestId('count-pending').dataset.value).toBe('1');
    expect(within(kiosk).getByTestId('count-current').dataset.value).toBe('1');
    expect(within(kiosk).getByTestId('summary-download').dataset.value).toBe(String(24 * 1024));
    expect(kiosk.querySelectorAll('button, input, a')).toHaveLength(0);
  });

  it('re-lists by itself: a tool updated elsewhere turns from pending to up to date', async () => {
    let lists = 0;
    const calls = mockCommands({
      app_info: () => appInfo(true),
      list_tools: () => {
        lists += 1;
        return lists === 1 ? [tool()] : [currentTool('llama-cpp', { installed_version: '1.1.0', available_version: '1.1.0' })];
      },
      runs: () => [],
    });
    const store = createStore();
    await store.init();
    render(Kiosk, { store, listEveryMs: 500 });
    expect((await screen.findByTestId('kiosk-tool-llama-cpp')).dataset.state).toBe('pending');
    await waitFor(() => expect(screen.getByTestId('kiosk-tool-llama-cpp').dataset.state).toBe('current'), { timeout: 4000 });
    expect(screen.getByTestId('kiosk-tool-llama-cpp').textContent).toContain('1.1.0');
    expect(calls.list_tools?.length).toBeGreaterThanOrEqual(2);
  });

  it('shows a running update with big live progress, then returns it to the grid', async () => {
    let polls = 0;
    mockCommands({
      app_info: () => appInfo(true),
      list_tools: () => [tool()],
      runs: () => {
        polls += 1;
        if (polls === 1) return [snapshot(1024 ** 3)];
        if (polls === 2) return [snapshot(3 * 1024 ** 3)];
        return [];
      },
    });
    const store = createStore();
    await store.init();
    render(Kiosk, { store, listEveryMs: 60_000 });
    const strip = await screen.findByTestId('kiosk-running', {}, { timeout: 3000 });
    const run = within(strip).getByTestId('kiosk-tool-llama-cpp');
    expect(run.dataset.state).toBe('updating');
    expect(within(run).getByTestId('kiosk-run-percent').textContent).toBe('25 %');
    // The next poll a second later moves the same bar on.
    await waitFor(() => expect(within(strip).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('75'), {
      timeout: 3000,
    });
    expect(strip.textContent).toContain('100 MiB/s');
    expect(strip.textContent).toContain('3.0 GiB of 4.0 GiB');
    // Finished: no strip, the tool is back among the tiles.
    await waitFor(() => expect(screen.queryByTestId('kiosk-running')).toBeNull(), { timeout: 3000 });
    expect(within(screen.getByTestId('kiosk-list')).getByTestId('kiosk-tool-llama-cpp')).toBeTruthy();
  });

  it("says when a run waits on its site mirror's upstream fetch", async () => {
    mockCommands({
      app_info: () => appInfo(true),
      list_tools: () => [tool()],
      runs: () => [{ ...snapshot(0), upstream_percent: 37 }],
    });
    const store = createStore();
    await store.init();
    render(Kiosk, { store, listEveryMs: 60_000 });
    const strip = await screen.findByTestId('kiosk-running', {}, { timeout: 3000 });
    expect(within(strip).getByTestId('kiosk-run-upstream').textContent).toBe('Site mirror fetching from upstream: 37 %');
  });

  it("shows the agent's run live, then the next update window when idle", async () => {
    let polls = 0;
    const later = new Date(Date.now() + 3 * 3_600_000);
    later.setMinutes(0, 0, 0);
    mockCommands({
      app_info: () => appInfo(true),
      list_tools: () => [tool()],
      agent_status: () => agentStatus(later.toISOString()),
      runs: () => {
        polls += 1;
        // Published by the agent's process, not this app's.
        if (polls === 1) return [{ ...snapshot(2 * 1024 ** 3), by_pid: 4242 }];
        return [];
      },
    });
    const store = createStore();
    await store.init();
    render(Kiosk, { store, listEveryMs: 60_000 });
    const idle = await screen.findByTestId('kiosk-next-window');
    const hm = `${String(later.getHours()).padStart(2, '0')}:00`;
    expect(idle.textContent).toMatch(new RegExp(`^Next update window: (today|tomorrow) ${hm}$`));
    const strip = await screen.findByTestId('kiosk-running', {}, { timeout: 3000 });
    expect(within(strip).getByTestId('kiosk-run-percent').textContent).toBe('50 %');
    expect(strip.textContent).toContain('run by process 4242');
    expect(screen.queryByTestId('kiosk-next-window')).toBeNull();
    await waitFor(() => expect(screen.queryByTestId('kiosk-running')).toBeNull(), { timeout: 3000 });
    expect(screen.getByTestId('kiosk-next-window')).toBeTruthy();
  });

  it('pages through thirty tools by itself, attention first, every tool within one cycle', async () => {
    mockCommands({ app_info: () => appInfo(true), list_tools: () => thirtyTools(), runs: () => [] });
    const store = createStore();
    await store.init();
    render(Kiosk, { store, listEveryMs: 60_000, pageEveryMs: 150 });
    const list = await screen.findByTestId('kiosk-list');
    expect(list.dataset.pages).toBe('3');
    expect(screen.getByTestId('kiosk-page').textContent).toBe('Page 1 of 3');
    const first = [...list.querySelectorAll('[data-testid^="kiosk-tool-"]')].map((e) => e.getAttribute('data-state'));
    expect(first.slice(0, 5)).toEqual(['failed', 'modified', 'pending', 'pending', 'pending']);

    const seen = new Set<string>();
    const pagesSeen = new Set<string>();
    await waitFor(
      () => {
        const tiles = list.querySelectorAll('[data-testid^="kiosk-tool-"]');
        expect(tiles.length).toBeLessThanOrEqual(12);
        tiles.forEach((t) => seen.add(t.getAttribute('data-testid') as string));
        pagesSeen.add(list.dataset.page as string);
        expect(pagesSeen.size).toBe(3);
      },
      { timeout: 3000, interval: 20 },
    );
    expect(seen.size).toBe(30);
  });
});
