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

/** Delivers `messages` on a channel the UI handed to a command (indices from `firstIndex`: a later batch continues the count). */
export function sendOnChannel(channel: unknown, messages: unknown[], firstIndex = 0): void {
  const id = (channel as Channel<unknown>).id;
  const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback: (id: number, data: unknown) => void } })
    .__TAURI_INTERNALS__;
  messages.forEach((message, index) => internals.runCallback(id, { message, index: firstIndex + index }));
}

export const settings = {
  root: '/var/lib/tooldelta',
  mirrors: ['http://127.0.0.1:8080'],
  trust: [{ path: '/etc/tooldelta/hq.pub.pem', key_id: '0123456789abcdef', error: null }],
  keep_releases: 2,
  config_path: '/home/u/.config/tooldelta/config.toml',
  overridden: [],
  notifications: true,
};

export function appInfo(kiosk = false): AppInfo {
  return { version: '0.1.0', kiosk, kiosk_page_seconds: 8, settings, startup_error: null };
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
      bytes_from_local_chunks: 0,
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
    held: false,
    held_version: null,
    release_notes: null,
    savings: { last_saved: null, last_at: null, total_saved: 0, total_downloaded: 0 },
    run: null,
    check_error: null,
    policy: 'notify',
    pending_version: null,
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
    bytes_from_local_chunks: 0,
    manifest_hash: 'f'.repeat(64),
    signature: { status: 'valid', public_key_id: '0123456789abcdef' },
    duration_ms: 1200,
    download_only: false,
    ...overrides,
  };
}

/** A pending tool whose update would fetch `kib` KiB (and save 1 MiB). */
export function pendingTool(toolId: string, kib: number, overrides: Partial<ToolView> = {}): ToolView {
  const base = tool({ tool_id: toolId });
  return tool({
    tool_id: toolId,
    delta: { ...(base.delta as NonNullable<ToolView['delta']>), bytes_to_fetch: kib * 1024, bytes_saved: 1024 ** 2 },
    ...overrides,
  });
}

/** An up-to-date tool. */
export function currentTool(toolId: string, overrides: Partial<ToolView> = {}): ToolView {
  return tool({ tool_id: toolId, up_to_date: true, available_version: '1.0.0', delta: null, ...overrides });
}

/**
 * Thirty tools as a workstation has them: three pending (8, 16 and 32 KiB to
 * fetch), one whose offer was refused (failed), one modified on disk, the
 * rest up to date; each tool's last update saved 1 MiB, 3 MiB in total.
 */
export function thirtyTools(): ToolView[] {
  const savings = { last_saved: 1024 ** 2, last_at: '2026-11-30T10:00:00Z', total_saved: 3 * 1024 ** 2, total_downloaded: 0 };
  const tools: ToolView[] = [];
  for (let i = 0; i < 25; i += 1) tools.push(currentTool(`tool-${String(i).padStart(2, '0')}`, { savings }));
  tools.push(pendingTool('pending-a', 8, { savings }));
  tools.push(pendingTool('pending-b', 16, { savings }));
  tools.push(pendingTool('pending-c', 32, { savings }));
  tools.push(
    tool({
      tool_id: 'refused',
      available_version: null,
      up_to_date: null,
      delta: null,
      signature: { status: 'unknown_key', public_key_id: 'fedcba9876543210' },
      check_error: { kind: 'trust', message: 'refused: signed by an unknown key', retryable: false, chain: [], hint: null },
      savings,
    }),
  );
  tools.push(currentTool('changed', { integrity: 'modified', modified_paths: ['bin/run.sh'], savings }));
  return tools;
}
