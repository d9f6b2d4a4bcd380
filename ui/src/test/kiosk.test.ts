import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import App from '../App.svelte';
import Kiosk from '../views/Kiosk.svelte';
import { createStore } from '../lib/store.svelte';
import { appInfo, mockCommands, tool } from './ipc';

describe('kiosk mode', () => {
  it('renders every tool with no controls', async () => {
    mockCommands({
      app_info: () => appInfo(true),
      list_tools: () => [
        tool(),
        tool({ tool_id: 'whisper', up_to_date: true, available_version: '2.0.0', installed_version: '2.0.0', delta: null }),
      ],
    });
    render(App);
    const kiosk = await screen.findByTestId('kiosk');
    await within(kiosk).findByTestId('kiosk-tool-llama-cpp');
    expect(within(kiosk).getByTestId('kiosk-tool-llama-cpp').dataset.state).toBe('pending');
    expect(within(kiosk).getByTestId('kiosk-tool-llama-cpp').textContent).toContain('4.7 GiB saved');
    expect(within(kiosk).getByTestId('kiosk-tool-whisper').textContent).toContain('Up to date');
    expect(kiosk.querySelectorAll('button, input, a')).toHaveLength(0);
  });

  it('refreshes by itself and shows the progress of a running update', async () => {
    let running = false;
    mockCommands({
      app_info: () => appInfo(true),
      list_tools: () => [tool()],
      runs: () => {
        running = true;
        return [
          {
            tool_id: 'llama-cpp',
            operation: 'update',
            to_version: '1.1.0',
            phase: 'fetch',
            bytes_done: 3 * 1024 ** 3,
            bytes_total: 4 * 1024 ** 3,
            bytes_per_sec: 100 * 1024 ** 2,
            files_verified: 1,
            started_ms: 0,
          },
        ];
      },
    });
    const store = createStore();
    await store.init();
    render(Kiosk, { store, listEveryMs: 60_000 });
    const row = await screen.findByTestId('kiosk-tool-llama-cpp');
    await waitFor(() => expect(row.dataset.state).toBe('running'), { timeout: 3000 });
    expect(running).toBe(true);
    expect(row.textContent).toContain('75 %');
    expect(row.textContent).toContain('100 MiB/s');
    expect(within(row).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('75');
  });
});
