import { lastSuccesses } from '@sluice/warehouse';
import type { Runtime } from './runtime';

/**
 * "A schedule has not succeeded for N intervals": failed syncs are alerted by the syncTable workflow,
 * but a schedule whose runs never happen (no worker, paused by accident, a broken cluster) produces no
 * failure to alert on. This watchdog runs in each worker and POSTs `sluice.schedule_stale` to the
 * alerts webhook when a scheduled source (or table with its own schedule) has had no successful sync
 * for `afterFailedIntervals` intervals. One alert per stale period per worker.
 */
export interface ScheduledUnit {
  source: string;
  /** Set for a table with its own schedule; otherwise every table of the source counts. */
  table?: string;
  intervalMs: number;
}

export interface StaleAlert {
  event: 'sluice.schedule_stale';
  source: string;
  table: string | null;
  lastSucceededAt: string | null;
  intervalMs: number;
  afterFailedIntervals: number;
  text: string;
}

export function startStalenessWatchdog(rt: Runtime, units: ScheduledUnit[], opts: { checkEveryMs?: number; now?: () => number } = {}): () => void {
  const alerts = rt.alerts;
  if (!alerts || units.length === 0) return () => undefined;
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const alerted = new Map<string, number>(); // unit → the reference time it was alerted for
  const lastSuccess = (u: ScheduledUnit, successes: Map<string, string>): number | undefined => {
    const tables = u.table ? [u.table] : (rt.sources.get(u.source)?.tables.map((t) => t.name) ?? []);
    let latest: number | undefined;
    for (const t of tables) {
      const at = successes.get(`${u.source}.${t}`);
      if (at && (latest === undefined || Date.parse(at) > latest)) latest = Date.parse(at);
    }
    return latest;
  };
  let running = false;
  const check = async () => {
    // One read of the lake per round, and never two rounds at once (a slow catalog must not pile them up).
    if (running) return;
    running = true;
    try {
      await checkRound(await lastSuccesses(rt.warehouse));
    } catch (err) {
      rt.log.warn(`staleness check skipped: ${(err as Error).message}`);
    } finally {
      running = false;
    }
  };
  const checkRound = async (successes: Map<string, string>) => {
    for (const u of units) {
      const key = `${u.source}.${u.table ?? '*'}`;
      const success = lastSuccess(u, successes);
      // Without any success yet, count from when this worker started watching.
      const reference = success ?? startedAt;
      if (now() - reference < alerts.afterFailedIntervals * u.intervalMs || alerted.get(key) === reference) continue;
      alerted.set(key, reference);
      const payload: StaleAlert = {
        event: 'sluice.schedule_stale',
        source: u.source,
        table: u.table ?? null,
        lastSucceededAt: success === undefined ? null : new Date(success).toISOString(),
        intervalMs: u.intervalMs,
        afterFailedIntervals: alerts.afterFailedIntervals,
        text: `Sluice: ${u.table ? `${u.source}.${u.table}` : u.source} has not synced successfully for ${alerts.afterFailedIntervals} scheduled interval(s)${success === undefined ? '' : ` (last success ${new Date(success).toISOString()})`}: is a worker running, is the schedule paused?`,
      };
      try {
        const res = await fetch(alerts.webhook, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'sluice-alerts' }, body: JSON.stringify(payload), signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) alerted.delete(key); // try again next round
      } catch (err) {
        alerted.delete(key);
        rt.log.warn(`staleness alert for ${key} not delivered: ${(err as Error).message}`);
      }
    }
  };
  const timer = setInterval(() => void check(), opts.checkEveryMs ?? 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** Interval of a schedule: `every` directly; for a cron, the shortest gap between its next runs. */
export function scheduleIntervalMs(schedule: { every: string } | { cron: string }): number {
  if ('every' in schedule) {
    const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(schedule.every.trim());
    if (!m) throw new Error(`invalid interval ${schedule.every}`);
    return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  }
  const fire = cronMatcher(schedule.cron);
  const times: number[] = [];
  const start = Math.ceil(Date.UTC(2025, 0, 6) / 60_000) * 60_000; // a Monday, for weekday fields
  for (let t = start; t < start + 35 * 86_400_000 && times.length < 50; t += 60_000) if (fire(new Date(t))) times.push(t);
  let gap = Infinity;
  for (let i = 1; i < times.length; i++) gap = Math.min(gap, times[i]! - times[i - 1]!);
  return Number.isFinite(gap) ? gap : 86_400_000;
}

/** A five-field cron matcher (minute hour day-of-month month day-of-week): numbers, *, ranges, lists, steps. */
function cronMatcher(expr: string): (d: Date) => boolean {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return () => false;
  const ranges: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6]];
  const sets = fields.map((f, i) => {
    const [lo, hi] = ranges[i]!;
    const set = new Set<number>();
    for (const part of f.split(',')) {
      const [range, stepText] = part.split('/');
      const step = Number(stepText ?? 1);
      const [a, end] = range === '*' ? [lo, hi] : (range!.split('-').map(Number) as [number, number?]);
      const b = end ?? (stepText ? hi : a);
      for (let v = a!; v <= b!; v += step) set.add(v);
    }
    return set;
  });
  return (d) => sets[0]!.has(d.getUTCMinutes()) && sets[1]!.has(d.getUTCHours()) && sets[2]!.has(d.getUTCDate()) && sets[3]!.has(d.getUTCMonth() + 1) && sets[4]!.has(d.getUTCDay());
}
