import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import Inspector from '../views/Inspector.svelte';
import { createStore } from '../lib/store.svelte';
import type { VerifyReport } from '../lib/bindings';
import { mockCommands, tool } from './ipc';

const bad: VerifyReport = {
  tool_id: 'llama-cpp',
  version: '1.0.0',
  ok: false,
  files: [
    { path: 'bin/run.sh', status: 'modified', expected_sha256: 'a'.repeat(64), actual_sha256: 'b'.repeat(64), expected_size: 10, actual_size: 12 },
    { path: 'model.gguf', status: 'ok', expected_sha256: 'c'.repeat(64), actual_sha256: 'c'.repeat(64), expected_size: 2048, actual_size: 2048 },
    { path: 'notes.txt', status: 'extra', expected_sha256: null, actual_sha256: 'd'.repeat(64), expected_size: null, actual_size: 5 },
  ],
};

describe('integrity inspector', () => {
  it('verifies on open, filters files, repairs, exports and shows history', async () => {
    const calls = mockCommands({
      list_tools: () => [tool()],
      verify_tool: () => bad,
      repair_tool: () => ({
        tool_id: 'llama-cpp',
        version: '1.0.0',
        files_repaired: ['bin/run.sh'],
        files_removed: ['notes.txt'],
        files_downloaded: 1,
        bytes_downloaded: 10,
        bytes_resumed: 0,
        verify: { ...bad, ok: true, files: bad.files.filter((f) => f.status === 'ok') },
        duration_ms: 3,
      }),
      tool_history: () => [
        { version: '1.0.0', manifest_hash: 'h', from_version: null, action: 'update', at: '2026-11-20T10:00:00Z' },
      ],
      export_report: () => ({ path: '/home/u/tooldelta-llama-cpp-verify.json' }),
    });
    const store = createStore();
    await store.refresh();
    render(Inspector, { store, toolId: 'llama-cpp' });

    await waitFor(() => expect(screen.getAllByTestId('file-row')).toHaveLength(3));
    expect(screen.getByTestId('verify-verdict').textContent).toContain('2 files with problems');
    await fireEvent.click(screen.getByTestId('filter-modified'));
    const rows = screen.getAllByTestId('file-row');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.textContent).toContain('bin/run.sh');
    expect(rows[0]?.textContent).toContain('aaaaaaaaaaaa');
    expect(rows[0]?.textContent).toContain('bbbbbbbbbbbb');

    const history = screen.getByTestId('history-table');
    expect(within(history).getByText('update')).toBeTruthy();

    await fireEvent.click(screen.getByTestId('export-button'));
    expect((await screen.findByTestId('export-path')).textContent).toContain('tooldelta-llama-cpp-verify.json');
    expect((calls.export_report?.[0]?.report as VerifyReport).files).toHaveLength(3);

    await fireEvent.click(screen.getByTestId('repair-button'));
    await waitFor(() => expect(screen.getByTestId('verify-verdict').textContent).toContain('All files intact'));
    expect(calls.repair_tool).toHaveLength(1);
  });
});
