import { ScheduleOverlapPolicy, ScheduleNotFoundError, type Client, type ScheduleOptions, type ScheduleUpdateOptions } from '@temporalio/client';
import { EXPORT_MODE, EXPORT_WORKFLOW_TYPE, exportWorkflowId, type ExportInput, type RuntimeExport } from '@sluice/workflows';
import { DEFAULT_MAINTENANCE_RETENTION_DAYS, MAINTENANCE_WORKFLOW_ID, MAINTENANCE_WORKFLOW_TYPE, SEARCH_ATTRIBUTES as SA, sourceWorkflowId, type MaintenanceInput, type SyncSourceInput } from '@sluice/workflows';
import type { LoadedConfig, ResolvedSource } from './config';

/**
 * Temporal Schedules reconciled from the config (`sluice schedules apply`, and `sluice dev` on start):
 * one per scheduled source (`sluice-schedule:<source>`), plus one per table that has a schedule of its
 * own (`sluice-schedule:<source>:<table>`, syncing only that table; the source's schedule then leaves
 * it out). Overlap policy: skip. Created when new, updated in place when the config changed (the
 * fingerprint of what the config asked for is kept in the action's memo), deleted when gone.
 *
 * A config owns the schedules of its task queue: schedules created for another task queue in the same
 * namespace (another deployment, another test) are left alone.
 */
export const SCHEDULE_PREFIX = 'sluice-schedule:';
export const scheduleId = (source: string, table?: string) => `${SCHEDULE_PREFIX}${source}${table ? `:${table}` : ''}`;
/**
 * The warehouse's maintenance schedule (`maintenance:` in sluice.yaml, daily when omitted). "sluice" is
 * a reserved source name, so the id never meets a source's. On a configured cluster several deployments
 * may share a namespace: there the id also names the task queue (one warehouse per deployment).
 */
export const MAINTENANCE_SCHEDULE_KEY = 'sluice:maintenance';
export const maintenanceScheduleId = (taskQueue: string, embedded: boolean) => `${SCHEDULE_PREFIX}${MAINTENANCE_SCHEDULE_KEY}${embedded ? '' : `:${taskQueue}`}`;
export const DEFAULT_MAINTENANCE_SCHEDULE: Schedule = { every: '1d' };
const isMaintenance = (id: string) => id.startsWith(`${SCHEDULE_PREFIX}${MAINTENANCE_SCHEDULE_KEY}`);
/** Workflow id of a table's own scheduled runs; Temporal appends the scheduled time to it. */
export const tableScheduleWorkflowId = (source: string, table: string) => `${sourceWorkflowId(source)}:${table}:scheduled`;

type Schedule = NonNullable<ResolvedSource['schedule']>;

export interface ScheduleChange {
  /** `source` or `source.table` */
  target: string;
  /** kept for callers that print per source */
  source: string;
  table?: string;
  action: 'created' | 'updated' | 'deleted' | 'unchanged';
  /** e.g. "every 1h", "cron 0 * * * *, jitter 5m, paused" */
  schedule?: string;
}

export function durationMs(d: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(d.trim());
  if (!m) throw new Error(`not a duration: ${d}`);
  return Math.round(Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']);
}

export function describeSchedule(sch: Schedule): string {
  return ['every' in sch ? `every ${sch.every}` : `cron ${sch.cron}`, sch.jitter ? `jitter ${sch.jitter}` : '', sch.paused ? 'paused' : ''].filter(Boolean).join(', ');
}

interface Wanted {
  id: string;
  source: string;
  table?: string;
  schedule: Schedule;
  options: ScheduleOptions;
  fingerprint: string;
  /** What `schedules apply` prints, when not a source or table. */
  target?: string;
}

/** The schedules a config asks for, by schedule id. */
export function desiredSchedules(cfg: LoadedConfig, taskQueue: string, o: { embedded?: boolean } = {}): Map<string, Wanted> {
  const out = new Map<string, Wanted>();
  const m = buildMaintenance(cfg, taskQueue, Boolean(o.embedded));
  out.set(m.id, m);
  for (const s of cfg.sources) {
    const own = s.tables.filter((t) => t.schedule);
    const rest = s.tables.filter((t) => !t.schedule).map((t) => t.name);
    // The source's schedule covers the tables without a schedule of their own (all of them, if none has one).
    if (s.schedule && rest.length) out.set(scheduleId(s.name), build(s.name, undefined, own.length ? rest : undefined, s.schedule, taskQueue));
    for (const t of own) out.set(scheduleId(s.name, t.name), build(s.name, t.name, [t.name], t.schedule!, taskQueue));
  }
  // Exports on a clock of their own (`after_sync` ones are started by their source's sync, `manual` by `sluice export`).
  for (const e of cfg.exports) if (typeof e.schedule !== 'string') out.set(exportScheduleId(e.name), buildExport(e, e.schedule, taskQueue));
  return out;
}

/** An export's schedule ("sluice" is a reserved source name, so the id never meets a source's). */
export const exportScheduleId = (name: string) => `${SCHEDULE_PREFIX}sluice:export:${name}`;
const isExport = (id: string) => id.startsWith(`${SCHEDULE_PREFIX}sluice:export:`);

/**
 * A Sluice-managed Temporal schedule: the spec from sluice.yaml's `every:`/`cron:` (and jitter, paused), the
 * action on this task queue, overlapping runs skipped, an hour of catch-up.
 */
function scheduleOptions(scheduleId: string, sch: Schedule, taskQueue: string, action: Omit<ScheduleOptions['action'], 'type' | 'taskQueue'>): ScheduleOptions {
  const jitter = sch.jitter ? durationMs(sch.jitter) : undefined;
  return {
    scheduleId,
    spec: 'every' in sch ? { intervals: [{ every: durationMs(sch.every) }], jitter } : { cronExpressions: [sch.cron], jitter },
    action: { type: 'startWorkflow', taskQueue, ...action },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    state: { paused: Boolean(sch.paused), note: sch.paused ? 'paused in sluice.yaml' : undefined },
    memo: { managedBy: 'sluice', taskQueue },
  };
}

function buildExport(e: RuntimeExport, sch: Schedule, taskQueue: string): Wanted {
  const id = exportScheduleId(e.name);
  const input: ExportInput = { name: e.name, trigger: 'schedule' };
  const what = describeSchedule(sch);
  const fingerprint = JSON.stringify({ sch, from: e.from, taskQueue, v: 1 });
  const options = scheduleOptions(id, sch, taskQueue, {
    workflowType: EXPORT_WORKFLOW_TYPE,
    workflowId: exportWorkflowId(e.name),
    args: [input],
    searchAttributes: { [SA.source]: [e.from], [SA.mode]: [EXPORT_MODE] },
    memo: { trigger: 'schedule', export: e.name, from: e.from, schedule: what, sluiceScheduleFingerprint: fingerprint },
    staticSummary: `Scheduled export ${e.name} to PostHog (${what})`,
  });
  return { id, source: e.from, schedule: sch, options, fingerprint, target: `export ${e.name}` };
}

function build(source: string, table: string | undefined, tables: string[] | undefined, sch: Schedule, taskQueue: string): Wanted {
  const id = scheduleId(source, table);
  const input: SyncSourceInput = { source, tables, trigger: 'schedule' };
  const what = describeSchedule(sch);
  const fingerprint = JSON.stringify({ sch, tables: tables ?? null, taskQueue, v: 1 });
  const options = scheduleOptions(id, sch, taskQueue, {
    workflowType: 'syncSource',
    workflowId: table ? tableScheduleWorkflowId(source, table) : sourceWorkflowId(source),
    args: [input],
    searchAttributes: { [SA.source]: [source], ...(table ? { [SA.table]: [table] } : {}) },
    memo: { trigger: 'schedule', schedule: what, tables: tables ?? 'all', sluiceScheduleFingerprint: fingerprint },
    staticSummary: `Scheduled sync of ${table ? `${source}.${table}` : source} (${what})`,
  });
  return { id, source, table, schedule: sch, options, fingerprint };
}

function buildMaintenance(cfg: LoadedConfig, taskQueue: string, embedded: boolean): Wanted {
  const id = maintenanceScheduleId(taskQueue, embedded);
  const sch = cfg.raw.maintenance?.schedule ?? DEFAULT_MAINTENANCE_SCHEDULE;
  const retentionDays = cfg.raw.maintenance?.retentionDays ?? DEFAULT_MAINTENANCE_RETENTION_DAYS;
  const input: MaintenanceInput = { retentionDays, trigger: 'schedule' };
  const what = describeSchedule(sch);
  const fingerprint = JSON.stringify({ sch, retentionDays, taskQueue, v: 1 });
  const options = scheduleOptions(id, sch, taskQueue, {
    workflowType: MAINTENANCE_WORKFLOW_TYPE,
    workflowId: MAINTENANCE_WORKFLOW_ID,
    args: [input],
    memo: { trigger: 'schedule', schedule: what, retentionDays, sluiceScheduleFingerprint: fingerprint },
    staticSummary: `Scheduled warehouse maintenance (${what}, retention ${retentionDays} d)`,
    staticDetails: 'Merges small files, expires snapshots older than the retention, deletes files no snapshot needs.',
  });
  return { id, source: '', schedule: sch, options, fingerprint, target: 'maintenance' };
}

/** Sluice's schedules on this task queue (on any, for the embedded server: its namespace is this warehouse's), by id. */
async function ownSchedules(client: Client, taskQueue: string | undefined): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const sch of client.schedule.list()) {
    if (!sch.scheduleId.startsWith(SCHEDULE_PREFIX)) continue;
    const memo = sch.memo as { managedBy?: string; taskQueue?: string } | undefined;
    // Schedules made before the task queue was recorded are ours only if nothing says otherwise.
    if (taskQueue !== undefined && memo?.taskQueue !== undefined && memo.taskQueue !== taskQueue) continue;
    ids.add(sch.scheduleId);
  }
  return ids;
}

function splitId(id: string): { source: string; table?: string } {
  const [source, table] = id.slice(SCHEDULE_PREFIX.length).split(':');
  return { source: source!, table };
}

/** Makes Temporal's schedules match the config exactly: create, update in place, delete. */
export async function applySchedules(client: Client, cfg: LoadedConfig, taskQueue: string, o: { embedded?: boolean } = {}): Promise<ScheduleChange[]> {
  const changes: ScheduleChange[] = [];
  const wanted = desiredSchedules(cfg, taskQueue, o);
  // The embedded queue is named by the config, so an edited config owns the schedules the old one made.
  const existing = await ownSchedules(client, o.embedded ? undefined : taskQueue);
  const change = (w: Pick<Wanted, 'source' | 'table' | 'target'>, action: ScheduleChange['action'], schedule?: Schedule) =>
    changes.push({ target: w.target ?? (w.table ? `${w.source}.${w.table}` : w.source), source: w.source, table: w.table, action, schedule: schedule && describeSchedule(schedule) });

  for (const [id, w] of wanted) {
    if (!existing.has(id)) {
      await client.schedule.create(w.options);
      change(w, 'created', w.schedule);
      continue;
    }
    const handle = client.schedule.getHandle(id);
    const desc = await handle.describe();
    const have = (desc.action as { memo?: { sluiceScheduleFingerprint?: string } }).memo?.sluiceScheduleFingerprint;
    if (have === w.fingerprint && desc.state.paused === Boolean(w.schedule.paused)) {
      change(w, 'unchanged', w.schedule);
      continue;
    }
    const { scheduleId: _id, memo: _memo, ...rest } = w.options;
    await handle.update(() => rest as ScheduleUpdateOptions);
    change(w, 'updated', w.schedule);
  }
  for (const id of existing) {
    if (wanted.has(id)) continue;
    try {
      await client.schedule.getHandle(id).delete();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    change(isMaintenance(id) ? { source: '', target: 'maintenance' } : isExport(id) ? { source: '', target: `export ${id.slice(`${SCHEDULE_PREFIX}sluice:export:`.length)}` } : splitId(id), 'deleted');
  }
  return changes;
}

export interface NextRun {
  /** ISO time of the next run, or undefined when paused / none planned */
  next?: string;
  paused: boolean;
  schedule: string;
}

/** The next run of each of Sluice's schedules on a task queue, keyed `source` or `source:table`, for `sluice status`. */
export async function nextRuns(client: Client, taskQueue?: string): Promise<Map<string, NextRun>> {
  const out = new Map<string, NextRun>();
  for await (const sch of client.schedule.list()) {
    if (!sch.scheduleId.startsWith(SCHEDULE_PREFIX)) continue;
    const memo = sch.memo as { taskQueue?: string } | undefined;
    if (taskQueue && memo?.taskQueue !== undefined && memo.taskQueue !== taskQueue) continue;
    out.set(sch.scheduleId.slice(SCHEDULE_PREFIX.length), {
      next: sch.state.paused ? undefined : sch.info.nextActionTimes?.[0]?.toISOString(),
      paused: sch.state.paused,
      schedule: sch.scheduleId,
    });
  }
  return out;
}

/** What `sluice status` prints as a table's next run. */
export function nextRunOf(runs: Map<string, NextRun>, source: string, table: string): NextRun | undefined {
  return runs.get(`${source}:${table}`) ?? runs.get(source);
}
