// Test helpers over `@tauri-apps/api/mocks`: a command table instead of one
// big switch, and a way to push messages into a `Channel` the UI passed.

import type { Channel } from '@tauri-apps/api/core';
import { mockIPC } from '@tauri-apps/api/mocks';
import type { AppInfo, ToolView, UpdateReport } from '../lib/bindings';

type Handler = (args: Record<string, unknown>) => unknown;

export interface Calls {
  [command: string]: Record<string, unknown>[];
}

/** Routes commands to `handlers`; unknown commands reject like a missing Tauri command. */
export function mockCommands(handlers: Record<string, Handler>): Calls {
  const calls: Calls = {};
  mockIPC(
    (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      (calls[cmd] ??= []).push(a);
      const handler = handlers[cmd];
      if (!handler) return Promise.reject(`command ${cmd} not found`);
      return handler(a);
    },
    { shouldMockEvents: true },
  );
  return calls;
}

/** Delivers `messages` on a channel the UI handed to a command. */
export function sendOnChannel(channel: unknown, messages: unknown[]): void {
  const id = (channel as Channel<unknown>).id;
  const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback: (id: number, data: unknown) => void } })
    .__TAURI_INTERNALS__;
  messages.forEach((message, index) => internals.runCallback(id, { message, index }));
}

export const settings = {
  root: '/var/lib/tooldelta',
  mirrors: ['http://127.0.0.1:8080'],
  trust: [{ path: '/etc/tooldelta/hq.pub.pem', key_id: '0123456789abcdef', error: null }],
  keep_releases: 2,
  config_path: '/home/u/.config/tooldelta/config.toml',
  overridden: [],
};

export function appInfo(kiosk = false): AppInfo {
  return { version: '0.1.0', kiosk, settings, startup_error: null };
}

export function tool(overrides: Partial<ToolView> = {}): ToolView {
  return {
    tool_id: 'llama-cpp',
    installed_version: '1.0.0',
    available_version: '1.1.0',
    up_to_date: false,
    signature: { status: 'valid', public_key_id: '0123456789abcdef' },
    delta: {
      files_to_fetch: 1,
      bytes_to_fetch: 24 * 1024,
      bytes_resumable: 0,
      files_reused: 3,
      bytes_saved: 4.7 * 1024 ** 3,
      files_to_remove: 0,
    },
    integrity: 'unknown',
    modified_paths: [],
    last_verified_ms: null,
    releases: ['1.0.0'],
    updater_running: false,
    run: null,
    check_error: null,
    ...overrides,
  };
}

export function updateReport(overrides: Partial<UpdateReport> = {}): UpdateReport {
  return {
    tool_id: 'llama-cpp',
    from_version: '1.0.0',
    to_version: '1.1.0',
    files_downloaded: 1,
    files_verified: 4,
    files_deleted: 0,
    files_unchanged: 3,
    bytes_downloaded: 24 * 1024,
    bytes_saved: 4.7 * 1024 ** 3,
    bytes_resumed: 0,
    manifest_hash: 'f'.repeat(64),
    signature: { status: 'valid', public_key_id: '0123456789abcdef' },
    duration_ms: 1200,
    ...overrides,
  };
}
