import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { emit } from '@tauri-apps/api/event';
import App from '../App.svelte';
import { appInfo, mockCommands, sendOnChannel, tool, updateReport } from './ipc';

describe('tools dashboard', () => {
  it('shows id, versions, signature, and the pending delta with bytes saved', async () => {
    mockCommands({ app_info: () => appInfo(), list_tools: () => [tool()] });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    const c = within(card);
    expect(c.getByTestId('tool-id').textContent).toBe('llama-cpp');
    expect(c.getByTestId('installed-version').textContent).toBe('1.0.0');
    expect(c.getByTestId('available-version').textContent).toBe('1.1.0');
    expect(c.getByTestId('signature-badge').textContent).toContain('valid');
    expect(c.getByTestId('signature-badge').getAttribute('title')).toContain('0123456789abcdef');
    expect(c.getByTestId('delta-summary').textContent?.replace(/\s+/g, ' ').trim()).toBe(
      '1 file · 24 KiB to download · 4.7 GiB saved',
    );
    const update = c.getByRole('button', { name: 'Update' });
    expect((update as HTMLButtonElement).disabled).toBe(false);
  });

  it('shows signed release notes as inert text, and a hold', async () => {
    const notes = '<img src=x onerror="alert(1)"><script>alert(2)</script>\n* fixed the chat template';
    mockCommands({
      app_info: () => appInfo(),
      list_tools: () => [tool({ release_notes: notes, held: true, held_version: '1.0.0' })],
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    const details = within(card).getByTestId('release-notes');
    expect(details.querySelector('pre')?.textContent).toBe(notes);
    expect(card.querySelector('script, img')).toBeNull();
    expect(within(card).getByTestId('held').textContent).toBe('Held at 1.0.0');
  });

  it("edits the agent's policy and activates a downloaded version", async () => {
    let lists = 0;
    const calls = mockCommands({
      app_info: () => appInfo(),
      list_tools: () => {
        lists += 1;
        return lists === 1
          ? [tool({ policy: 'download', pending_version: '1.1.0' })]
          : [tool({ installed_version: '1.1.0', up_to_date: true, delta: null, policy: 'auto' })];
      },
      set_policy: (args) => args.policy,
      activate_tool: () => updateReport({ bytes_downloaded: 0 }),
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    const c = within(card);
    const select = c.getByTestId('policy-select') as HTMLSelectElement;
    expect(select.value).toBe('download');
    expect(c.getByTestId('pending-version').textContent).toBe('1.1.0 downloaded, waiting');
    await fireEvent.change(select, { target: { value: 'auto' } });
    await waitFor(() => expect(calls.set_policy).toEqual([{ toolId: 'llama-cpp', policy: 'auto' }]));
    await fireEvent.click(c.getByTestId('activate-button'));
    await waitFor(() => expect(calls.activate_tool?.[0]?.toolId).toBe('llama-cpp'));
    await waitFor(() => expect(within(screen.getByTestId('tool-card-llama-cpp')).getByTestId('installed-version').textContent).toBe('1.1.0'));
    expect(screen.queryByTestId('activate-button')).toBeNull();
  });

  it('disables Update for a tool that is up to date', async () => {
    mockCommands({
      app_info: () => appInfo(),
      list_tools: () => [tool({ up_to_date: true, available_version: '1.0.0', delta: null })],
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    expect((within(card).getByRole('button', { name: 'Update' }) as HTMLButtonElement).disabled).toBe(true);
    expect(within(card).getByTestId('delta-summary').textContent).toContain('Up to date');
  });

  it('streams progress from the channel, then shows the final report and refreshes', async () => {
    let release: (r: unknown) => void = () => {};
    let channel: unknown;
    let lists = 0;
    const calls = mockCommands({
      app_info: () => appInfo(),
      list_tools: () => {
        lists += 1;
        return lists === 1 ? [tool()] : [tool({ installed_version: '1.1.0', up_to_date: true, delta: null })];
      },
      start_update: (args) => {
        channel = args.onEvent;
        return new Promise((resolve) => (release = resolve));
      },
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    await fireEvent.click(within(card).getByRole('button', { name: 'Update' }));
    expect(calls.start_update?.[0]?.toolId).toBe('llama-cpp');

    sendOnChannel(channel, [
      { event: 'phase', tool_id: 'llama-cpp', phase: 'fetch' },
      {
        event: 'mirror_fetching',
        tool_id: 'llama-cpp',
        path: 'model.gguf',
        mirror: 'http://site:8080',
        upstream: 'https://hq',
        bytes_done: 37,
        size: 100,
      },
    ]);
    const progress = await within(card).findByTestId('run-progress');
    // A cold site mirror: the card says what the run waits for.
    await waitFor(() =>
      expect(within(progress).getByTestId('run-upstream-wait').textContent?.trim()).toBe(
        'Site mirror fetching from upstream: 37 %',
      ),
    );
    sendOnChannel(
      channel,
      [{ event: 'progress', tool_id: 'llama-cpp', bytes_done: 12 * 1024, bytes_total: 24 * 1024, bytes_per_sec: 1024 }],
      2,
    );
    await waitFor(() => expect(within(progress).queryByTestId('run-upstream-wait')).toBeNull());
    await waitFor(() => expect(within(progress).getByTestId('run-phase').textContent).toBe('Downloading'));
    expect(within(progress).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('50');
    expect(within(progress).getByTestId('run-bytes').textContent).toBe('12 KiB of 24 KiB');
    expect(within(progress).getByTestId('run-eta').textContent).toBe('12 s left');

    release(updateReport());
    const report = await within(card).findByTestId('update-report');
    expect(within(report).getByTestId('report-files-downloaded').textContent).toBe('1');
    expect(within(report).getByTestId('report-bytes-saved').textContent).toBe('4.7 GiB');
    await waitFor(() => expect(within(card).getByTestId('installed-version').textContent).toBe('1.1.0'));
  });

  it('shows a typed error naming the cause, and Retry runs the update again', async () => {
    let attempts = 0;
    mockCommands({
      app_info: () => appInfo(),
      list_tools: () => [tool()],
      start_update: () => {
        attempts += 1;
        return attempts === 1
          ? Promise.reject({ kind: 'network', message: 'llama-cpp: cannot fetch manifest http://m/x: refused', retryable: true })
          : updateReport();
      },
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    await fireEvent.click(within(card).getByRole('button', { name: 'Update' }));
    const alert = await within(card).findByTestId('tool-error');
    expect(alert.textContent).toContain('cannot fetch manifest http://m/x');
    expect(alert.dataset.kind).toBe('network');
    await fireEvent.click(within(alert).getByRole('button', { name: 'Retry' }));
    await within(card).findByTestId('update-report');
    expect(attempts).toBe(2);
  });

  it('keeps the hint and the cause chain collapsed under the first line, each cause once', async () => {
    mockCommands({
      app_info: () => appInfo(),
      list_tools: () => [tool()],
      start_update: () =>
        Promise.reject({
          kind: 'network',
          message: 'llama-cpp: cannot fetch manifest http://m/x: Connection refused (os error 111)',
          retryable: true,
          chain: ['error sending request for url (http://m/x)', 'tcp connect error', 'Connection refused (os error 111)'],
          hint: 'nothing accepts connections at m:80: check that the mirror is running (`curl http://m/healthz`)',
        }),
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    await fireEvent.click(within(card).getByRole('button', { name: 'Update' }));
    const alert = await within(card).findByTestId('tool-error');
    const details = within(alert).getByTestId('tool-error-details') as HTMLDetailsElement;
    expect(details.open).toBe(false);
    expect(within(alert).getByTestId('tool-error-hint').textContent).toContain('curl http://m/healthz');
    const causes = within(alert)
      .getByTestId('tool-error-chain')
      .querySelectorAll('li');
    expect([...causes].map((li) => li.textContent)).toEqual([
      'error sending request for url (http://m/x)',
      'tcp connect error',
    ]);
    expect(alert.textContent?.match(/Connection refused/g)?.length).toBe(1);
  });

  it('shows no details for an error with neither hint nor chain', async () => {
    mockCommands({
      app_info: () => appInfo(),
      list_tools: () => [tool()],
      start_update: () => Promise.reject({ kind: 'locked', message: 'llama-cpp: another tooldelta process is updating this tool', retryable: true, chain: [], hint: null }),
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    await fireEvent.click(within(card).getByRole('button', { name: 'Update' }));
    const alert = await within(card).findByTestId('tool-error');
    expect(within(alert).queryByTestId('tool-error-details')).toBeNull();
  });

  it('shows a rollback as a run with progress and Cancel, like an update', async () => {
    let release: (r: unknown) => void = () => {};
    let channel: unknown;
    const calls = mockCommands({
      app_info: () => appInfo(),
      list_tools: () => [tool({ installed_version: '1.1.0', releases: ['1.1.0', '1.0.0'], up_to_date: true, delta: null })],
      rollback_tool: (args) => {
        channel = args.onEvent;
        return new Promise((resolve) => (release = resolve));
      },
      cancel_run: () => true,
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    await fireEvent.click(within(card).getByTestId('rollback-button'));
    expect(calls.rollback_tool?.[0]?.toolId).toBe('llama-cpp');
    sendOnChannel(channel, [{ event: 'phase', tool_id: 'llama-cpp', phase: 'verify' }]);
    await waitFor(() => expect(within(card).getByTestId('run-phase').textContent).toBe('Verifying files'));
    await fireEvent.click(within(card).getByTestId('cancel-button'));
    expect(calls.cancel_run?.[0]?.toolId).toBe('llama-cpp');
    release({ tool_id: 'llama-cpp', from_version: '1.1.0', to_version: '1.0.0' });
    await waitFor(() => expect(within(card).queryByTestId('run-progress')).toBeNull());
  });

  it("runs Update all when the tray's Update all is chosen", async () => {
    const calls = mockCommands({
      app_info: () => appInfo(),
      list_tools: () => [tool()],
      start_update: () => updateReport(),
    });
    render(App);
    await screen.findByTestId('tool-card-llama-cpp');
    expect(calls.start_update).toBeUndefined();
    await emit('update-all-requested', null);
    await waitFor(() => expect(calls.start_update?.map((a) => a.toolId)).toEqual(['llama-cpp']));
  });

  it('turns the integrity badge to modified when the watcher reports a change', async () => {
    mockCommands({ app_info: () => appInfo(), list_tools: () => [tool({ integrity: 'ok' })] });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    expect(within(card).getByTestId('integrity-badge').textContent).toContain('intact');
    await emit('tool-modified', { tool_id: 'llama-cpp', paths: ['bin/run.sh'] });
    await waitFor(() => expect(within(card).getByTestId('integrity-badge').textContent).toContain('modified'));
    const notice = within(card).getByTestId('modified-notice');
    expect(notice.textContent).toContain('bin/run.sh');
    expect(within(notice).getByRole('button', { name: 'Repair' })).toBeTruthy();
  });

  it("shows another process's run live on the card, then the version it installed", async () => {
    let polls = 0;
    const agentRun = {
      tool_id: 'llama-cpp',
      operation: 'update' as const,
      to_version: '1.1.0',
      phase: 'fetch' as const,
      bytes_done: 3 * 1024 ** 2,
      bytes_total: 4 * 1024 ** 2,
      bytes_per_sec: 1024 ** 2,
      files_verified: 1,
      started_ms: 0,
      upstream_percent: null,
      by_pid: 4242,
    };
    let lists = 0;
    mockCommands({
      app_info: () => appInfo(),
      list_tools: () => {
        lists += 1;
        return lists === 1
          ? [tool({ updater_running: true, run: { ...agentRun, bytes_done: 0 } })]
          : [tool({ installed_version: '1.1.0', up_to_date: true, delta: null })];
      },
      runs: () => {
        polls += 1;
        return polls === 1 ? [agentRun] : [];
      },
    });
    render(App);
    const card = await screen.findByTestId('tool-card-llama-cpp');
    // The poll moves the card's bar to the agent's 75 %, not an indeterminate one.
    await waitFor(() => expect(within(card).getByTestId('progress-bar').getAttribute('aria-valuenow')).toBe('75'), {
      timeout: 3000,
    });
    const run = within(card).getByTestId('external-run');
    expect(run.textContent).toContain('3.0 MiB of 4.0 MiB');
    expect(run.textContent).toContain('Run by process 4242');
    expect(within(card).queryByTestId('cancel-button')).toBeNull();
    expect((within(card).getByTestId('update-button') as HTMLButtonElement).disabled).toBe(true);
    // The run over: the card shows what the agent installed.
    await waitFor(() => expect(within(card).getByTestId('installed-version').textContent).toBe('1.1.0'), {
      timeout: 3000,
    });
    expect(within(card).queryByTestId('external-run')).toBeNull();
  });

  it('says so when nothing is installed', async () => {
    mockCommands({ app_info: () => appInfo(), list_tools: () => [] });
    render(App);
    expect((await screen.findByTestId('no-tools')).textContent).toContain('/var/lib/tooldelta');
  });
});
