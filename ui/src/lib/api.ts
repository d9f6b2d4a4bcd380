// Typed calls to the Tauri commands of src-tauri/src/commands.rs. Every
// command fails with `{kind, message, retryable, chain, hint}` (ErrorInfo);
// `call` turns that into a `CommandError` so views can show the message, its
// causes and hint, and offer a retry.

import { Channel, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  AgentStatus,
  AppInfo,
  AppUpdateEvent,
  AppUpdateStatus,
  DiskUsage,
  ErrorInfo,
  ErrorKind,
  Event,
  ExportedFile,
  GcReport,
  HistoryEntry,
  Policy,
  RemoveReport,
  RepairReport,
  RollbackReport,
  RunSnapshot,
  SettingsInput,
  SettingsView,
  ToolModified,
  ToolView,
  UpdateCheck,
  UpdateReport,
  VerifyReport,
} from './bindings';

export class CommandError extends Error implements ErrorInfo {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly chain: Array<string>;
  readonly hint: string | null;

  constructor(info: ErrorInfo) {
    super(info.message);
    this.name = 'CommandError';
    this.kind = info.kind;
    this.retryable = info.retryable;
    this.chain = info.chain;
    this.hint = info.hint;
  }
}

function isErrorInfo(value: unknown): value is ErrorInfo {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorInfo).kind === 'string' &&
    typeof (value as ErrorInfo).message === 'string'
  );
}

/** Any thrown value as an ErrorInfo (a bare string from Tauri itself included). */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof CommandError) {
    return { kind: err.kind, message: err.message, retryable: err.retryable, chain: err.chain, hint: err.hint };
  }
  if (isErrorInfo(err)) {
    const chain = Array.isArray(err.chain) ? err.chain.filter((c) => typeof c === 'string') : [];
    const hint = typeof err.hint === 'string' ? err.hint : null;
    return { kind: err.kind, message: err.message, retryable: !!err.retryable, chain, hint };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'ipc', message, retryable: true, chain: [], hint: null };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (err) {
    throw new CommandError(toErrorInfo(err));
  }
}

function channel<T>(onMessage: (message: T) => void): Channel<T> {
  const ch = new Channel<T>();
  ch.onmessage = onMessage;
  return ch;
}

export const api = {
  appInfo: () => call<AppInfo>('app_info'),
  listTools: () => call<ToolView[]>('list_tools'),
  runs: () => call<RunSnapshot[]>('runs'),
  agentStatus: () => call<AgentStatus | null>('agent_status'),
  planUpdate: (toolId: string) => call<UpdateCheck>('plan_update', { toolId }),
  startUpdate: (toolId: string, onEvent: (e: Event) => void) =>
    call<UpdateReport>('start_update', { toolId, onEvent: channel(onEvent) }),
  cancelRun: (toolId: string) => call<boolean>('cancel_run', { toolId }),
  verify: (toolId: string, onEvent: (e: Event) => void) =>
    call<VerifyReport>('verify_tool', { toolId, onEvent: channel(onEvent) }),
  repair: (toolId: string, onEvent: (e: Event) => void) =>
    call<RepairReport>('repair_tool', { toolId, onEvent: channel(onEvent) }),
  rollback: (toolId: string, onEvent: (e: Event) => void) =>
    call<RollbackReport>('rollback_tool', { toolId, onEvent: channel(onEvent) }),
  activate: (toolId: string, onEvent: (e: Event) => void) =>
    call<UpdateReport>('activate_tool', { toolId, onEvent: channel(onEvent) }),
  setPolicy: (toolId: string, policy: Policy) => call<Policy>('set_policy', { toolId, policy }),
  exportDiagnostics: () => call<ExportedFile>('export_diagnostics'),
  history: (toolId: string) => call<HistoryEntry[]>('tool_history', { toolId }),
  exportReport: (toolId: string, report: VerifyReport) =>
    call<ExportedFile>('export_report', { toolId, report }),
  getSettings: () => call<SettingsView>('get_settings'),
  saveSettings: (input: SettingsInput) => call<SettingsView>('save_settings', { input }),
  diskUsage: () => call<DiskUsage>('disk_usage'),
  removeTool: (toolId: string) => call<RemoveReport>('remove_tool', { toolId }),
  collectGarbage: (partials: boolean, releases: boolean) =>
    call<GcReport>('collect_garbage', { partials, releases }),
  checkAppUpdate: () => call<AppUpdateStatus>('check_app_update'),
  installAppUpdate: (onEvent: (e: AppUpdateEvent) => void) =>
    call<void>('install_app_update', { onEvent: channel(onEvent) }),
  onToolModified: (handler: (m: ToolModified) => void): Promise<UnlistenFn> =>
    listen<ToolModified>('tool-modified', (e) => handler(e.payload)),
  /** The tray's **Update all** (the window runs it: one way to update everything). */
  onUpdateAllRequested: (handler: () => void): Promise<UnlistenFn> =>
    listen<null>('update-all-requested', () => handler()),
};

export type Api = typeof api;
