import { DateTime } from 'luxon';

/**
 * Time normalisation. Every timestamp lands in the warehouse as UTC; vendors that speak local time
 * (ShipStation: US Pacific, no offset) convert on the way in and convert cursors back on the way out.
 */

/** ISO 8601 with an offset or Z → canonical UTC ISO string with milliseconds; undefined if unparseable. */
export function toUtcIso(value: string): string | undefined {
  const dt = DateTime.fromISO(value, { setZone: true });
  return dt.isValid ? dt.toUTC().toISO({ suppressMilliseconds: false }) ?? undefined : undefined;
}

/**
 * Local wall-clock time in `zone` (no offset in the string) → UTC ISO. For the repeated hour at a DST
 * fall-back, luxon picks the later instant (standard time); callers that build lower bounds from such
 * times must widen them by an hour (see the ShipStation connector).
 */
export function localToUtcIso(value: string, zone: string): string | undefined {
  // Up to 7 fractional digits (.NET style): luxon takes milliseconds, DuckDB keeps microseconds.
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?$/.exec(value.trim());
  if (!m) return undefined;
  const frac = (m[3] ?? '').padEnd(6, '0').slice(0, 6);
  const dt = DateTime.fromISO(`${m[1]}T${m[2]}`, { zone });
  if (!dt.isValid) return undefined;
  return `${dt.toUTC().toFormat("yyyy-MM-dd'T'HH:mm:ss")}.${frac}Z`;
}

/** UTC ISO → wall-clock time in `zone`, formatted with a luxon format string. */
export function utcToLocal(value: string, zone: string, format = 'yyyy-MM-dd HH:mm:ss'): string {
  return DateTime.fromISO(value, { zone: 'utc' }).setZone(zone).toFormat(format);
}

/** Compares two ISO timestamps by instant (sub-millisecond digits compared as text on a tie). */
export function compareIso(a: string, b: string): number {
  const d = Date.parse(a) - Date.parse(b);
  if (Number.isFinite(d) && d !== 0) return d;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function subtractMs(iso: string, ms: number): string {
  return new Date(Date.parse(iso) - ms).toISOString();
}

export { DateTime };
