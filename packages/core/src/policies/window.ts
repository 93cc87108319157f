import type { DataRecord } from '../types';
import { compareIso, toUtcIso } from '../time';

/**
 * Window re-syncs (`sluice sync SOURCE --table T --since A [--until B]`). The lower bound goes to the
 * vendor as the read's `since`; no table bounds its read above, so records whose cursor is after `until`
 * are dropped before they are staged: the read runs to the present, only what is written is bounded.
 */

/**
 * `2024-01-01` (midnight UTC) or any ISO 8601 instant with an offset → canonical UTC ISO; undefined when
 * it is neither. A date without an offset is UTC: a wall-clock time would depend on the machine.
 */
export function parseWindowBound(text: string): string | undefined {
  const t = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return toUtcIso(`${t}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t)) return undefined;
  return toUtcIso(t.replace(' ', 'T'));
}

/** The records of a page inside the window's upper bound (inclusive), and how many were after it. */
export function withinUntil(records: readonly DataRecord[], cursorField: string, until: string): { records: DataRecord[]; after: number } {
  const kept: DataRecord[] = [];
  for (const r of records) {
    const c = r[cursorField];
    // A record without a cursor value is in no window (as `cursor <= until` is not true in SQL).
    if (typeof c === 'string' && compareIso(c, until) <= 0) kept.push(r);
  }
  return { records: kept, after: records.length - kept.length };
}
