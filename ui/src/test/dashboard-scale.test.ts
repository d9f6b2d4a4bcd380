// The dashboard with thirty tools: summary, attention order, search, the
// remembered layout, and Update all.
import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import App from '../App.svelte';
import { LAYOUT_KEY } from '../lib/store.svelte';
import type { ToolView } from '../lib/bindings';
import { appInfo, mockCommands, thirtyTools, updateReport } from './ipc';

const rowIds = () =>
  [...screen.getByTestId('tool-list').querySelectorAll('[data-tool-id]')].map((e) => e.getAttribute('data-tool-id'));

describe('dashboard at workstation scale', () => {
  it('sums up thirty tools: states, bytes to download, bytes saved, mirror, last check', async () => {
    mockCommands({ app_info: () => appInfo(), list_tools: () => thirtyTools() });
    render(App);
    const summary = await screen.findByTestId('summary');
    const value = (id: string) => within(summary).getByTestId(id).dataset.value;
    expect(summary.dataset.total).toBe('30');
    expect([value('count-failed'), value('count-modified'), value('count-updating')]).toEqual(['1', '1', '0']);
    expect([value('count-pending'), value('count-held'), value('count-current')]).toEqual(['3', '0', '25']);
    expect(value('summary-download')).toBe(String(56 * 1024));
    expect(within(summary).getByTestId('summary-download').textContent).toContain('56 KiB for 3 updates');
    expect(within(summary).getByTestId('summary-saved-last').textContent).toBe('30 MiB');
    expect(within(summary).getByTestId('summary-saved-total').textContent).toBe('90 MiB');
    expect(value('summary-mirror')).toBe('reachable');
    expect(within(summary).getByTestId('last-refresh').textContent).toBe('just now');
  });

  it('starts in the compact list with the tools needing attention first', async () => {
    mockCommands({ app_info: () => appInfo(), list_tools: () => thirtyTools() });
    render(App);
    await screen.findByTestId('tool-row-refused');
    expect(screen.getByTestId('dashboard').dataset.layout).toBe('list');
    const ids = rowIds();
    expect(ids).toHaveLength(30);
    expect(ids.slice(0, 5)).toEqual(['refused', 'changed', 'pending-a', 'pending-b', 'pending-c']);
    const refused = screen.getByTestId('tool-row-refused');
    expect(refused.dataset.state).toBe('failed');
    expect(refused.textContent).toContain('refused: signed by an unknown key');
    expect(screen.getByTestId('tool-row-changed').textContent).toContain('bin/run.sh');
    expect(within(screen.getByTestId('tool-row-pending-a')).getByTestId('row-update')).not.toHaveProperty('disabled', true);
    expect(within(screen.getByTestId('tool-row-tool-00')).getByTestId('row-update')).toHaveProperty('disabled', true);
  });

  it('filters by search and says when nothing matches', async () => {
    mockCommands({ app_info: () => appInfo(), list_tools: () => thirtyTools() });
    render(App);
    const search = await screen.findByRole('searchbox', { name: 'Search tools' });
    await fireEvent.input(search, { target: { value: 'pending' } });
    expect(rowIds()).toEqual(['pending-a', 'pending-b', 'pending-c']);
    expect(screen.getByTestId('shown-count').textContent).toBe('3 of 30 tools');
    await fireEvent.input(search, { target: { value: 'no-such-tool' } });
    expect(screen.getByTestId('no-match').textContent).toContain('no-such-tool');
  });

  it('remembers the layout the user picked', async () => {
    mockCommands({ app_info: () => appInfo(), list_tools: () => thirtyTools() });
    const first = render(App);
    await screen.findByTestId('tool-row-refused');
    await fireEvent.click(screen.getByTestId('layout-cards'));
    expect(screen.getByTestId('tool-card-refused')).toBeTruthy();
    expect(localStorage.getItem(LAYOUT_KEY)).toBe('cards');
    first.unmount();

    render(App);
    await screen.findByTestId('tool-card-refused');
    expect(screen.getByTestId('dashboard').dataset.layout).toBe('cards');
    expect(screen.getByTestId('layout-cards').getAttribute('aria-pressed')).toBe('true');
  });

  it('Update all runs the pending updates one after another; a failure does not stop the rest', async () => {
    const started: string[] = [];
    let running = 0;
    let overlapped = false;
    const updated = new Set<string>();
    mockCommands({
      app_info: () => appInfo(),
      list_tools: () =>
        thirtyTools().map((t): ToolView =>
          updated.has(t.tool_id) ? { ...t, up_to_date: true, available_version: '1.0.0', delta: null } : t,
        ),
      start_update: async (args) => {
        const id = args.toolId as string;
        started.push(id);
        running += 1;
        overlapped ||= running > 1;
        await new Promise((r) => setTimeout(r, 30));
        running -= 1;
        if (id === 'pending-b') throw { kind: 'network', message: 'pending-b: mirror went away', retryable: true, chain: [], hint: null };
        updated.add(id);
        return updateReport({ tool_id: id });
      },
    });
    render(App);
    await screen.findByTestId('tool-row-pending-a');
    const button = screen.getByTestId('update-all');
    expect(button.textContent).toBe('Update all (3)');
    await fireEvent.click(button);
    await waitFor(() => expect(screen.getByTestId('update-all').textContent).toBe('Update all (1)'), { timeout: 4000 });
    expect(started).toEqual(['pending-a', 'pending-b', 'pending-c']);
    expect(overlapped).toBe(false);
    expect(screen.getByTestId('tool-row-pending-b').dataset.state).toBe('failed');
    expect(screen.getByTestId('tool-row-pending-a').dataset.state).toBe('current');
  });
});
