import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import Storage from '../views/Storage.svelte';
import { createStore } from '../lib/store.svelte';
import { mockCommands } from './ipc';

const MiB = 1024 * 1024;

function usage(tools: string[], partials = 1) {
  return {
    root: '/var/lib/tooldelta',
    total_bytes: 300 * MiB,
    objects_bytes: 290 * MiB,
    objects: 6,
    unreferenced_bytes: 0,
    partial_bytes: partials * 10 * MiB,
    partials,
    free_bytes: 50 * 1024 * MiB,
    tools: tools.map((tool_id) => ({
      tool_id,
      active: '1.1.0',
      releases: [
        { version: '1.1.0', active: true, bytes: 100 * MiB },
        { version: '1.0.0', active: false, bytes: 100 * MiB },
      ],
      unique_bytes: 120 * MiB,
      shared_bytes: 30 * MiB,
      kept_only_bytes: 20 * MiB,
    })),
  };
}

const gc = { releases_removed: [], objects_removed: 0, objects_bytes: 0, partials_removed: 0, partials_bytes: 0, skipped_busy: false };

describe('storage', () => {
  it('shows where the disk went per tool, as du does', async () => {
    mockCommands({ disk_usage: () => usage(['llama-chat', 'whisper']), list_tools: () => [] });
    render(Storage, { store: createStore() });
    const table = await screen.findByTestId('storage-tools');
    const row = within(table).getByText('llama-chat').closest('tr') as HTMLElement;
    expect(within(row).getByTestId('unique').textContent).toContain('120');
    expect(within(row).getByTestId('shared').textContent).toContain('30');
    expect(within(row).getByTestId('kept-only').textContent).toContain('20');
    expect(screen.getByTestId('partials').textContent).toContain('1');
  });

  it('removes a tool only after a confirmation, then shows the new figures', async () => {
    let tools = ['llama-chat', 'whisper'];
    const calls = mockCommands({
      disk_usage: () => usage(tools),
      list_tools: () => [],
      remove_tool: (args) => {
        tools = tools.filter((t) => t !== args.toolId);
        return { tool_id: args.toolId, version: '1.1.0', releases_removed: ['1.1.0', '1.0.0'], gc: { ...gc, objects_bytes: 120 * MiB } };
      },
    });
    render(Storage, { store: createStore() });
    await fireEvent.click(await screen.findByRole('button', { name: 'Remove whisper' }));
    expect(calls.remove_tool).toBeUndefined();
    await fireEvent.click(screen.getByRole('button', { name: 'Remove whisper now' }));
    expect((await screen.findByTestId('storage-message')).textContent).toContain('Removed whisper');
    expect(calls.remove_tool?.[0]).toEqual({ toolId: 'whisper' });
    await waitFor(() => expect(screen.queryByText('whisper')).toBeNull());
    expect(screen.getByText('llama-chat')).toBeTruthy();
  });

  it('drops kept releases and clears partial downloads through gc', async () => {
    let partials = 1;
    const calls = mockCommands({
      disk_usage: () => usage(['llama-chat'], partials),
      list_tools: () => [],
      collect_garbage: (args) => {
        if (args.partials) {
          partials = 0;
          return { ...gc, partials_removed: 1, partials_bytes: 10 * MiB };
        }
        return { ...gc, releases_removed: ['llama-chat@1.0.0'], objects_bytes: 20 * MiB };
      },
    });
    render(Storage, { store: createStore() });
    await fireEvent.click(await screen.findByTestId('drop-kept'));
    expect((await screen.findByTestId('storage-message')).textContent).toContain('Dropped 1 kept releases');
    expect(calls.collect_garbage?.[0]).toEqual({ partials: false, releases: true });
    await fireEvent.click(screen.getByTestId('clear-partials'));
    await screen.findByText(/Cleared 1 partial downloads/);
    expect(calls.collect_garbage?.[1]).toEqual({ partials: true, releases: false });
    await waitFor(() => expect((screen.getByTestId('clear-partials') as HTMLButtonElement).disabled).toBe(true));
  });

  it('shows why the figures could not be read', async () => {
    mockCommands({
      disk_usage: () => Promise.reject({ kind: 'io', message: 'measure /var/lib/tooldelta: permission denied', retryable: false }),
    });
    render(Storage, { store: createStore() });
    expect((await screen.findByTestId('storage-error')).textContent).toContain('permission denied');
  });
});
