import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import Settings from '../views/Settings.svelte';
import { createStore } from '../lib/store.svelte';
import { mockCommands, settings } from './ipc';

describe('settings', () => {
  it('shows mirrors and key ids, and saves what was edited', async () => {
    const calls = mockCommands({
      get_settings: () => settings,
      list_tools: () => [],
      save_settings: (args) => {
        const input = args.input as { mirrors: string[]; trust: string[]; keep_releases: number };
        return {
          ...settings,
          mirrors: input.mirrors,
          keep_releases: input.keep_releases,
          trust: input.trust.map((path) => ({ path, key_id: 'fedcba9876543210', error: null })),
        };
      },
    });
    render(Settings, { store: createStore() });
    const keys = await screen.findByTestId('trusted-keys');
    expect((await within(keys).findByTestId('key-id')).textContent).toBe('key 0123456789abcdef');
    expect((screen.getByTestId('mirror-input') as HTMLInputElement).value).toBe('http://127.0.0.1:8080');

    await fireEvent.input(screen.getByLabelText('Add a mirror'), { target: { value: 'http://backup:8080' } });
    await fireEvent.click(screen.getAllByRole('button', { name: 'Add' })[0] as HTMLElement);
    await fireEvent.click(screen.getByRole('button', { name: 'Remove key /etc/tooldelta/hq.pub.pem' }));
    await fireEvent.input(screen.getByTestId('keep-releases'), { target: { value: '4' } });
    const notifications = screen.getByTestId('notifications') as HTMLInputElement;
    expect(notifications.checked).toBe(true);
    await fireEvent.click(notifications);
    await fireEvent.click(screen.getByTestId('save-settings'));

    await screen.findByText('Saved');
    expect(calls.save_settings?.[0]?.input).toEqual({
      mirrors: ['http://127.0.0.1:8080', 'http://backup:8080'],
      trust: [],
      keep_releases: 4,
      // Untouched network settings are saved as they were (unset).
      network: { max_rate: null, connections: null, proxy: null, no_proxy: null, ca_cert: null },
      // Turned off: the app stops showing OS notifications.
      notifications: false,
    });
  });

  it('shows why a save was refused', async () => {
    mockCommands({
      get_settings: () => settings,
      save_settings: () =>
        Promise.reject({ kind: 'invalid_settings', message: 'mirror "ftp://x" is not an http:// or https:// URL', retryable: false }),
    });
    render(Settings, { store: createStore() });
    await screen.findByTestId('trusted-keys');
    await fireEvent.click(screen.getByTestId('save-settings'));
    const err = await screen.findByTestId('settings-error');
    expect(err.textContent).toContain('ftp://x');
    expect(within(err).queryByRole('button', { name: 'Retry' })).toBeNull();
  });

  it('checks for app updates and shows the offered version', async () => {
    mockCommands({
      get_settings: () => settings,
      check_app_update: () => ({
        status: 'available',
        update: { current_version: '0.1.0', version: '0.2.0', notes: 'Faster', pub_date: null },
      }),
    });
    render(Settings, { store: createStore() });
    await fireEvent.click(await screen.findByTestId('check-app-update'));
    expect((await screen.findByTestId('app-update-version')).textContent).toBe('0.2.0');
  });
});
