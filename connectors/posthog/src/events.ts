import type { DataRecord, Position } from '@sluice/core';
import { lit, parseJson, toUtcMicros } from './client';

/**
 * The events table's hooks for core's `time-windows` kind (packages/core/src/engine/windows.ts): the range
 * [since, now) is walked in time windows; inside a window, pages are key-set on (timestamp, uuid) with large
 * LIMITs, because every HogQL query spends one of the key's ~120 hourly queries. A window that times out
 * (504/512) is halved; a sparse window lets the next one double. The engine owns that loop.
 *
 * Lower bound: the first sync reads `backfillDays`; later syncs read from `since`, which the engine has already
 * moved back from the saved cursor by the source's `lookbackHours` (the cursor's `lookbackSetting`; the table's
 * `lookbackMs`, DEFAULT_LOOKBACK_MS, when unset). Re-read events merge by `uuid`.
 */
export const DEFAULT_LOOKBACK_MS = 6 * 3600_000;
/** A window that still times out at a minute is not too large, PostHog is struggling: the table fails (retried later). */
export const MIN_WINDOW_MS = 60_000;
export const MAX_WINDOW_MS = 92 * 86400_000;

export const EVENT_COLUMNS = ['uuid', 'event', 'distinct_id', 'person_id', 'timestamp', 'created_at', 'properties'] as const;

/** The HogQL text of one page: the window [from, to), strictly after the (timestamp, uuid) position. */
export function eventsQuery(s: { from: string; to: string; after: Position | null }, limit: number): string {
  const where = [`timestamp >= toDateTime(${lit(s.from)})`, `timestamp < toDateTime(${lit(s.to)})`];
  // Key-set position, spelled out rather than as a tuple comparison so that `timestamp >= …` prunes partitions.
  if (s.after) {
    const ts = `toDateTime(${lit(String(s.after[0]))})`;
    where.push(`timestamp >= ${ts}`, `(timestamp > ${ts} OR uuid > toUUID(${lit(String(s.after[1]))}))`);
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
