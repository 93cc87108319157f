import { ScheduleOverlapPolicy, ScheduleNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';
import { SEARCH_ATTRIBUTES as SA, sourceWorkflowId, type SyncSourceInput } from '@sluice/workflows';
import type { LoadedConfig, ResolvedSource } from './config';

/**
 * One Temporal Schedule per scheduled source (overlap: skip), reconciled from the config: created,
 * updated when the config changed, deleted when the source or its schedule is gone.
 */
export const SCHEDULE_PREFIX = 'sluice-schedule:';
export const scheduleId = (source: string) => `${SCHEDULE_PREFIX}${source}`;

export interface ScheduleChange {
  source: string;
  action: 'created' | 'updated' | 'deleted' | 'unchanged';
}

function durationMs(d: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(d)!;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function desired(s: ResolvedSource, taskQueue: string): ScheduleOptions {
  const sch = s.schedule!;
  const input: SyncSourceInput = { source: s.name, trigger: 'schedule' };
  const fingerprint = JSON.stringify(sch);
  return {
    scheduleId: scheduleId(s.name),
    spec: 'every' in sch ? { intervals: [{ every: durationMs(sch.every) }], jitter: sch.jitter ? durationMs(sch.jitter) : undefined } : { cronExpressions: [sch.cron], jitter: sch.jitter ? durationMs(sch.jitter) : undefined },
    action: {
      type: 'startWorkflow',
      workflowType: 'syncSource',
      workflowId: sourceWorkflowId(s.name),
      taskQueue,
      args: [input],
      searchAttributes: { [SA.source]: [s.name] },
      staticSummary: `Scheduled sync of ${s.name}`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    state: { paused: Boolean(sch.paused), note: sch.paused ? 'paused in sluice.yaml' : undefined },
    memo: { managedBy: 'sluice', fingerprint },
  };
}

export async function applySchedules(client: Client, cfg: LoadedConfig, taskQueue: string): Promise<ScheduleChange[]> {
  const changes: ScheduleChange[] = [];
  const wanted = new Map(cfg.sources.filter((s) => s.schedule).map((s) => [scheduleId(s.name), s]));
  const existing = new Map<string, { fingerprint?: string }>();
  for await (const sch of client.schedule.list()) {
    if (!sch.scheduleId.startsWith(SCHEDULE_PREFIX)) continue;
    existing.set(sch.scheduleId, { fingerprint: (sch.memo as { fingerprint?: string } | undefined)?.fingerprint });
  }
  for (const [id, s] of wanted) {
    const opts = desired(s, taskQueue);
    const have = existing.get(id);
    if (!have) {
      await client.schedule.create(opts);
      changes.push({ source: s.name, action: 'created' });
    } else if (have.fingerprint !== (opts.memo as { fingerprint: string }).fingerprint) {
      // Memo cannot be updated in place: recreate so the fingerprint stays truthful.
      await client.schedule.getHandle(id).delete();
      await client.schedule.create(opts);
      changes.push({ source: s.name, action: 'updated' });
    } else changes.push({ source: s.name, action: 'unchanged' });
  }
  for (const id of existing.keys()) {
    if (wanted.has(id)) continue;
    try {
      await client.schedule.getHandle(id).delete();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    changes.push({ source: id.slice(SCHEDULE_PREFIX.length), action: 'deleted' });
  }
  return changes;
}

/** Next run time per source, for `sluice status`. */
export async function nextRuns(client: Client): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for await (const sch of client.schedule.list()) {
    if (!sch.scheduleId.startsWith(SCHEDULE_PREFIX)) continue;
    const next = sch.info.nextActionTimes?.[0];
    out.set(sch.scheduleId.slice(SCHEDULE_PREFIX.length), sch.state.paused ? 'paused' : next?.toISOString());
  }
  return out;
}
