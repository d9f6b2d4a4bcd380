// The app's reactive state and the actions the views trigger. One instance
// per window (`createStore`); views read its fields, never call the API directly.

import type {
  AgentStatus,
  AppInfo,
  ErrorInfo,
  Policy,
  Event,
  RunSnapshot,
  ToolModified,
  ToolView,
  VerifyReport,
} from './bindings';
import { api as defaultApi, toErrorInfo, type Api } from './api';
import { EventBatcher, newRun, reduce, type RunState } from './progress';
import { attentionOrder, summarize, toolState, type Row, type Summary } from './summary';
import { updatePending } from './labels';

export type Layout = 'cards' | 'list';

/** Where the chosen layout is remembered (per user: the web view's storage lives in the user's profile). */
export const LAYOUT_KEY = 'tooldelta.layout';
/** Above this many tools the dashboard starts in the compact list, until the user picks one. */
const LIST_ABOVE = 8;

function storedLayout(): Layout | null {
  try {
    const v = globalThis.localStorage?.getItem(LAYOUT_KEY);
    return v === 'cards' || v === 'list' ? v : null;
  } catch {
    return null; // storage disabled: the choice lasts for this session only
  }
}

export type View =
  | { name: 'tools' }
  | { name: 'inspector'; toolId: string }
  | { name: 'settings' }
  | { name: 'storage' };

export class Store {
  info = $state<AppInfo | null>(null);
  startupError = $state<ErrorInfo | null>(null);
  tools = $state<ToolView[]>([]);
  loading = $state(false);
  loaded = $state(false);
  listError = $state<ErrorInfo | null>(null);
  lastRefreshMs = $state<number | null>(null);
  /** Runs started in this window, by tool id; kept after they end to show the report. */
  runs = $state<Record<string, RunState>>({});
  /** Runs in the app process (any window), as last polled. */
  snapshots = $state<Record<string, RunSnapshot>>({});
  /** The last failed action per tool, with what to retry. */
  toolErrors = $state<Record<string, { error: ErrorInfo; action: string }>>({});
  verifyReports = $state<Record<string, VerifyReport>>({});
  view = $state<View>({ name: 'tools' });
  /** The dashboard's search text. */
  search = $state('');
  /** The layout the user picked (remembered), if any. */
  chosenLayout = $state<Layout | null>(storedLayout());
  /** The agent's last cycle and next maintenance window, when an agent runs on this root. */
  agent = $state<AgentStatus | null>(null);
  /** Progress of **Update all**, while it runs. */
  updateAllProgress = $state<{ done: number; total: number; current: string | null } | null>(null);
  private stopAll = false;

  /** Every tool with its state, attention first. */
  rows: Row[] = $derived(
    attentionOrder(this.tools.map((tool) => ({ tool, state: this.stateOf(tool) }))),
  );
  summary: Summary = $derived(summarize(this.rows));
  layout: Layout = $derived(this.chosenLayout ?? (this.tools.length > LIST_ABOVE ? 'list' : 'cards'));

  constructor(private readonly api: Api = defaultApi) {}

  async init(): Promise<void> {
    try {
      this.info = await this.api.appInfo();
    } catch (err) {
      this.startupError = toErrorInfo(err);
    }
    await this.api.onToolModified((m) => this.markModified(m)).catch(() => undefined);
    if (!this.info?.kiosk) {
      await this.api.onUpdateAllRequested(() => void this.updateAll()).catch(() => undefined);
    }
    await this.refresh();
  }

  tool(toolId: string): ToolView | undefined {
    return this.tools.find((t) => t.tool_id === toolId);
  }

  isBusy(toolId: string): boolean {
    const run = this.runs[toolId];
    return (!!run && run.finishedMs === null) || !!this.snapshots[toolId];
  }

  stateOf(tool: ToolView) {
    const run = this.runs[tool.tool_id];
    return toolState(tool, {
      running: (!!run && run.finishedMs === null) || !!this.snapshots[tool.tool_id],
      failure: this.toolErrors[tool.tool_id]?.error ?? null,
    });
  }

  setLayout(layout: Layout): void {
    this.chosenLayout = layout;
    try {
      globalThis.localStorage?.setItem(LAYOUT_KEY, layout);
    } catch {
      // Not remembered, still applied.
    }
  }

  /** Tools **Update all** would update: an update offered, not held, nothing running. */
  updatable(): string[] {
    return this.rows
      .filter(({ tool, state }) => updatePending(tool) && !tool.held && state !== 'updating')
      .map(({ tool }) => tool.tool_id);
  }

  /**
   * Updates every pending tool, one after another, through the same update
   * command as each card's button (one run at a time keeps the disk and the
   * mirror link for one download). A failure is shown on its tool and the
   * next one goes on.
   */
  async updateAll(): Promise<void> {
    if (this.updateAllProgress) return;
    const queue = this.updatable();
    this.stopAll = false;
    let done = 0;
    this.updateAllProgress = { done, total: queue.length, current: null };
    for (const toolId of queue) {
      if (this.stopAll) break;
      const tool = this.tool(toolId);
      // A refresh between two runs may have found it current or held since.
      if (tool && updatePending(tool) && !tool.held) {
        this.updateAllProgress = { done, total: queue.length, current: toolId };
        await this.update(toolId);
      }
      done += 1;
      this.updateAllProgress = { done, total: queue.length, current: null };
    }
    this.updateAllProgress = null;
  }

  /** Lets the running update finish, then stops **Update all**. */
  stopUpdateAll(): void {
    this.stopAll = true;
  }

  async refresh(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    try {
      const tools = await this.api.listTools();
      this.tools = tools;
      this.snapshots = Object.fromEntries(
        tools.filter((t) => t.run).map((t) => [t.tool_id, t.run as RunSnapshot]),
      );
      this.listError = null;
      this.lastRefreshMs = Date.now();
      // An app without an agent (or an older app core) just shows no window.
      this.agent = await this.api.agentStatus().catch(() => null);
    } catch (err) {
      this.listError = toErrorInfo(err);
    } finally {
      this.loading = false;
      this.loaded = true;
    }
  }

  /** Cheap poll of the runs in progress (the kiosk uses it between full refreshes). */
  async pollRuns(): Promise<void> {
    try {
      const runs = await this.api.runs();
      const before = Object.keys(this.snapshots);
      this.snapshots = Object.fromEntries(runs.map((r) => [r.tool_id, r]));
      // A run ended (this app's, or the agent's): show what it installed now.
      if (before.some((id) => !this.snapshots[id])) void this.refresh();
    } catch {
      // A failed poll is retried at the next tick; the last known state stays on screen.
    }
  }

  /**
   * Keeps `snapshots` current while the view lives: every second while a run
   * is in progress (this app's or another process's, such as the agent's),
   * every 5 s otherwise; with `listEveryMs`, the whole list that often too.
   * The one loop behind the dashboard's cards and the kiosk. Returns the stop.
   */
  followRuns(listEveryMs = Infinity, onTick: () => void = () => undefined): () => void {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    let lastList = Date.now();
    const tick = async () => {
      onTick();
      if (Date.now() - lastList >= listEveryMs) {
        lastList = Date.now();
        await this.refresh();
      } else {
        await this.pollRuns();
      }
      const busy = Object.keys(this.snapshots).length > 0 || this.tools.some((t) => t.updater_running);
      if (!stopped) timer = setTimeout(tick, busy ? 1000 : 5000);
    };
    timer = setTimeout(tick, 1000);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  markModified(m: ToolModified): void {
    const tool = this.tool(m.tool_id);
    if (!tool) return;
    tool.integrity = 'modified';
    tool.modified_paths = [...new Set([...tool.modified_paths, ...m.paths])].sort();
  }

  private startRun(toolId: string, operation: RunState['operation']) {
    delete this.toolErrors[toolId];
    this.runs[toolId] = newRun(toolId, operation);
    const batcher = new EventBatcher<Event>((events) => {
      let state = this.runs[toolId];
      if (!state) return;
      for (const e of events) state = reduce(state, e);
      this.runs[toolId] = state;
    });
    return batcher;
  }

  private fail(toolId: string, action: string, err: unknown): void {
    const error = toErrorInfo(err);
    this.toolErrors[toolId] = { error, action };
    const run = this.runs[toolId];
    if (run && run.finishedMs === null) {
      this.runs[toolId] = { ...run, error, finishedMs: Date.now() };
    }
  }

  async update(toolId: string): Promise<void> {
    if (this.isBusy(toolId)) return;
    const batcher = this.startRun(toolId, 'update');
    try {
      const report = await this.api.startUpdate(toolId, (e) => batcher.push(e));
      batcher.flush();
      const run = this.runs[toolId];
      if (run) this.runs[toolId] = reduce(run, { event: 'done', report });
    } catch (err) {
      batcher.flush();
      this.fail(toolId, 'update', err);
    }
    await this.refresh();
  }

  /** Switches to the downloaded version (no network): a run like an update. */
  async activate(toolId: string): Promise<void> {
    if (this.isBusy(toolId)) return;
    const batcher = this.startRun(toolId, 'update');
    try {
      const report = await this.api.activate(toolId, (e) => batcher.push(e));
      batcher.flush();
      const run = this.runs[toolId];
      if (run) this.runs[toolId] = reduce(run, { event: 'done', report });
    } catch (err) {
      batcher.flush();
      this.fail(toolId, 'activate', err);
    }
    await this.refresh();
  }

  /** Changes what the agent may do with the tool (saved in the settings file). */
  async setPolicy(toolId: string, policy: Policy): Promise<void> {
    try {
      const saved = await this.api.setPolicy(toolId, policy);
      const tool = this.tool(toolId);
      if (tool) tool.policy = saved;
      delete this.toolErrors[toolId];
    } catch (err) {
      this.toolErrors[toolId] = { error: toErrorInfo(err), action: 'policy' };
    }
  }

  async verify(toolId: string): Promise<VerifyReport | null> {
    if (this.isBusy(toolId)) return null;
    const batcher = this.startRun(toolId, 'verify');
    try {
      const report = await this.api.verify(toolId, (e) => batcher.push(e));
      batcher.flush();
      this.verifyReports[toolId] = report;
      const run = this.runs[toolId];
      if (run) this.runs[toolId] = { ...run, finishedMs: Date.now() };
      await this.refresh();
      return report;
    } catch (err) {
      batcher.flush();
      this.fail(toolId, 'verify', err);
      return null;
    }
  }

  async repair(toolId: string): Promise<void> {
    if (this.isBusy(toolId)) return;
    const batcher = this.startRun(toolId, 'repair');
    try {
      const report = await this.api.repair(toolId, (e) => batcher.push(e));
      batcher.flush();
      this.verifyReports[toolId] = report.verify;
      const run = this.runs[toolId];
      if (run) this.runs[toolId] = { ...run, finishedMs: Date.now() };
    } catch (err) {
      batcher.flush();
      this.fail(toolId, 'repair', err);
    }
    await this.refresh();
  }

  /** Makes the previous release active again: a run with progress and Cancel, like the others. */
  async rollback(toolId: string): Promise<void> {
    if (this.isBusy(toolId)) return;
    const batcher = this.startRun(toolId, 'rollback');
    try {
      await this.api.rollback(toolId, (e) => batcher.push(e));
      batcher.flush();
      delete this.runs[toolId];
    } catch (err) {
      batcher.flush();
      this.fail(toolId, 'rollback', err);
    }
    await this.refresh();
  }

  async cancel(toolId: string): Promise<void> {
    await this.api.cancelRun(toolId).catch((err) => this.fail(toolId, 'cancel', err));
  }

  /** Runs the action that failed last for this tool again. */
  async retry(toolId: string): Promise<void> {
    const failed = this.toolErrors[toolId];
    if (!failed) return;
    if (failed.action === 'update') await this.update(toolId);
    else if (failed.action === 'verify') await this.verify(toolId);
    else if (failed.action === 'repair') await this.repair(toolId);
    else if (failed.action === 'rollback') await this.rollback(toolId);
    else await this.refresh();
  }

  dismissRun(toolId: string): void {
    delete this.runs[toolId];
  }
}

export function createStore(api?: Api): Store {
  return new Store(api);
}
