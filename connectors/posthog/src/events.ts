import { SluiceError, type DataRecord, type Json, type Page, type ReadContext } from '@sluice/core';
import { QueryTooLargeError, checkHogQLOrder, lit, mayHaveMore, parseJson, toUtcMicros, uuidOrder, type PostHogClient } from './client';
import type { PostHogConfig } from './config';

/**
 * The events read. The range [from, until) is walked in time windows; inside a window, pages are key-set on
 * (timestamp, uuid) with large LIMITs, because every HogQL query spends one of the key's ~120 hourly queries.
 * A window that times out (504/512) is halved; a sparse window lets the next one double.
 *
 * Lower bound: the first sync reads `backfillDays`; later syncs read from `since`, which the engine has already
 * moved back from the saved cursor by the source's `lookbackHours` (the cursor's `lookbackSetting`; the table's
 * `lookbackMs`, DEFAULT_LOOKBACK_MS, when unset). Re-read events merge by `uuid`.
 */
export const DEFAULT_LOOKBACK_MS = 6 * 3600_000;
const MIN_WINDOW_MS = 60_000;
const MAX_WINDOW_MS = 92 * 86400_000;

export const EVENT_COLUMNS = ['uuid', 'event', 'distinct_id', 'person_id', 'timestamp', 'created_at', 'properties'] as const;

interface EventsState {
  v: 1;
  /** Start of the current window (ISO, inclusive). */
  from: string;
  /** End of the current window (ISO, exclusive). */
  to: string;
  /** End of the whole range, fixed when the sync starts so a resumed attempt covers the same range. */
  until: string;
  /** Last (timestamp, uuid) returned inside the current window. */
  after: [string, string] | null;
  windowMs: number;
  /** Smallest window span that timed out in this sync: later windows stay at half of it. */
  ceilingMs?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function lowerBound(config: Pick<PostHogConfig, 'backfillDays'>, since: string | undefined, nowMs: number): number {
  if (!since) return nowMs - config.backfillDays * 86400_000;
  const sinceMs = Date.parse(since);
  if (!Number.isFinite(sinceMs)) throw new SluiceError('bad_response', `saved cursor "${since}" is not a timestamp`);
  return sinceMs;
}

export function eventsQuery(s: Pick<EventsState, 'from' | 'to' | 'after'>, limit: number): string {
  const where = [`timestamp >= toDateTime(${lit(s.from)})`, `timestamp < toDateTime(${lit(s.to)})`];
  // Key-set position, spelled out rather than as a tuple comparison so that `timestamp >= …` prunes partitions.
  if (s.after) {
    const ts = `toDateTime(${lit(s.after[0])})`;
    where.push(`timestamp >= ${ts}`, `(timestamp > ${ts} OR uuid > toUUID(${lit(s.after[1])}))`);
  }
  return `SELECT ${EVENT_COLUMNS.join(', ')} FROM events WHERE ${where.join(' AND ')} ORDER BY timestamp ASC, uuid ASC LIMIT ${limit}`;
}

export function eventRecord(row: Record<string, unknown>): DataRecord {
  const properties = parseJson(row.properties);
  const props = properties !== null && typeof properties === 'object' ? (properties as Record<string, unknown>) : {};
  const url = props.$current_url;
  return {
    uuid: row.uuid,
    event: row.event,
    distinct_id: row.distinct_id,
    person_id: row.person_id ?? null,
    timestamp: toUtcMicros(row.timestamp),
    created_at: toUtcMicros(row.created_at),
    properties: properties ?? {},
    url: typeof url === 'string' ? url : null,
  };
}

export async function* readEvents(ctx: ReadContext<PostHogConfig, PostHogClient>, nowMs = Date.now()): AsyncGenerator<Page> {
  const { config, client } = ctx;
  const windowDefault = Math.max(MIN_WINDOW_MS, Math.round(config.windowHours * 3600_000));
  const cp = ctx.request.checkpoint as (EventsState & { done?: boolean }) | undefined;
  if (cp?.done) return;
  let s: EventsState;
  if (cp && cp.v === 1) s = { ...cp };
  else {
    const from = lowerBound(config, ctx.request.since, nowMs);
    const until = nowMs;
    s = { v: 1, from: iso(from), to: iso(Math.min(from + windowDefault, until)), until: iso(until), after: null, windowMs: windowDefault };
    ctx.log.info('posthog events range', { from: s.from, until: s.until, since: ctx.request.since ?? null });
  }
  if (Date.parse(s.from) >= Date.parse(s.until)) {
    yield { records: [], checkpoint: { done: true } };
    return;
  }
  for (;;) {
    let result;
    try {
      result = await client.hogql(eventsQuery(s, config.pageSize), { signal: ctx.signal, report: ctx.report, splittable: true });
    } catch (e) {
      if (!(e instanceof QueryTooLargeError)) throw e;
      const start = Date.parse(s.after ? s.after[0] : s.from);
      const end = Date.parse(s.to);
      const half = Math.floor((end - Math.max(start, Date.parse(s.from))) / 2);
      if (half < MIN_WINDOW_MS) {
        throw new SluiceError('transient', `PostHog cannot answer even a ${Math.round((end - start) / 1000)} s window of events starting ${s.after?.[0] ?? s.from} (${e.message}); will retry later`, {
          status: e.status,
        });
      }
      s.ceilingMs = Math.min(s.ceilingMs ?? Infinity, end - Math.max(start, Date.parse(s.from)));
      s.to = iso(Math.max(start, Date.parse(s.from)) + half);
      s.windowMs = Math.max(MIN_WINDOW_MS, half);
      ctx.report({ type: 'note', message: `PostHog query timed out; splitting the window to ${Math.round(half / 60_000)} min (up to ${s.to})` });
      ctx.log.warn('posthog window split', { from: s.from, to: s.to, after: s.after });
      continue;
    }
    const records = result.rows.map(eventRecord);
    // Key-set paging inside the window needs HogQL's (timestamp, uuid) order: core's order guard checks each page.
    const keyOf = (timestamp: unknown, uuid: unknown) => [timestamp, uuidOrder(uuid)];
    checkHogQLOrder(ctx.table, records.map((r) => keyOf(r.timestamp, r.uuid)), s.after && keyOf(s.after[0], s.after[1]), ['timestamp', 'uuid']);
    const more = mayHaveMore(result, config.pageSize);
    if (more && records.length > 0) {
      const last = records[records.length - 1]!;
      s.after = [last.timestamp as string, String(last.uuid)];
      yield { records, checkpoint: { ...s } as unknown as Json };
      continue;
    }
    // Window done: move on, growing the window again when this one was sparse.
    const spanMs = Date.parse(s.to) - Date.parse(s.from);
    const sparse = !s.after && records.length < config.pageSize / 4;
    const grown = sparse ? Math.min(MAX_WINDOW_MS, Math.max(s.windowMs, spanMs) * 2) : s.windowMs;
    s.windowMs = Math.max(MIN_WINDOW_MS, Math.min(grown, (s.ceilingMs ?? Infinity) / 2));
    s.from = s.to;
    s.after = null;
    const untilMs = Date.parse(s.until);
    if (Date.parse(s.from) >= untilMs) {
      yield { records, checkpoint: { done: true } };
      return;
    }
    s.to = iso(Math.min(Date.parse(s.from) + s.windowMs, untilMs));
    yield { records, checkpoint: { ...s } as unknown as Json };
  }
}
