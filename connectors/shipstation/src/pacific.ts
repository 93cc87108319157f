import { DateTime, SluiceError, localToUtcIso, toUtcIso } from '@sluice/core';

/**
 * ShipStation's clock: every timestamp is US Pacific wall-clock time without an offset
 * (`2024-11-03T01:30:00.0000000`), and date filters are Pacific too (`yyyy-mm-dd hh:mm:ss`).
 *
 * - Wall-clock → UTC uses core's `localToUtcIso`. A wall time in the repeated fall-back hour
 *   (01:00-01:59 on the first Sunday of November) names two instants; luxon resolves it to the later,
 *   standard-time one (PST). When a record's own fields prove that reading impossible (modified before
 *   it was created), the creation time takes the earlier reading (PDT).
 * - A wall time inside the spring-forward gap (02:00-02:59 on the second Sunday of March; ShipStation
 *   stores client-supplied dates such as `orderDate` verbatim) is read as if the clock had not moved
 *   forward yet, i.e. standard time: 02:30 → 10:30Z. It never fails.
 * - UTC lower bound → Pacific filter: floored to the second (the filter's resolution; the bound is
 *   inclusive), and moved back one hour when it lands in the repeated hour. ShipStation compares wall
 *   clocks, so a record changed at 01:10 PST sorts before one changed at 01:40 PDT although it is later;
 *   starting one hour earlier is provably enough (UTC offsets differ by one hour) and merge by primary
 *   key removes the overlap.
 */
export const PACIFIC = 'America/Los_Angeles';

const WALL = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,7})?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const HOUR_MS = 3_600_000;

/** Field names that hold ShipStation timestamps (top level and nested: items, marketplaceUsernames…). */
export const isDateField = (key: string) => /Date$/.test(key) || key === 'lastRefreshAttempt';

/** True when a Pacific wall-clock string names two instants (the repeated fall-back hour). */
export function isAmbiguousWall(wall: string): boolean {
  const m = WALL.exec(wall);
  if (!m) return false;
  const dt = DateTime.fromISO(`${m[1]}T${m[2]}`, { zone: PACIFIC });
  return dt.isValid && dt.getPossibleOffsets().length > 1;
}

const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * One Pacific timestamp → UTC ISO (`…Z`, microseconds). Date-only values and anything unparseable pass
 * through; a value that does carry an offset (not seen from ShipStation, tolerated) is converted as such.
 */
export function pacificToUtc(value: unknown): unknown {
  if (typeof value !== 'string' || DATE_ONLY.test(value)) return value;
  if (WALL.test(value)) return localToUtcIso(value, PACIFIC) ?? value;
  if (WITH_OFFSET.test(value)) return toUtcIso(value) ?? value;
  return value;
}

/** A calendar date (shipDate, holdUntilDate): kept as the Pacific date `yyyy-mm-dd`, also when sent with a time. */
export function pacificDate(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.exec(value);
  return m ? m[1] : value;
}

const NO_DATES: ReadonlySet<string> = new Set();

const earlierReading = (utcIso: string) => {
  const ms = Date.parse(utcIso) - HOUR_MS;
  return `${new Date(ms).toISOString().slice(0, 19)}${utcIso.slice(19)}`;
};

/**
 * Converts every timestamp of a record (deep) from Pacific wall clock to UTC. Top-level fields named in
 * `dates` are calendar dates and stay Pacific dates.
 */
export function normalizeRecord<T>(value: T, dates: ReadonlySet<string> = NO_DATES): T {
  if (Array.isArray(value)) return value.map((v) => normalizeRecord(v)) as T;
  if (!value || typeof value !== 'object') return value;
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (dates.has(k)) out[k] = pacificDate(v);
    else out[k] = isDateField(k) && typeof v === 'string' ? pacificToUtc(v) : v !== null && typeof v === 'object' ? normalizeRecord(v) : v;
  }
  const created = out.createDate;
  const modified = out.modifyDate;
  if (typeof created === 'string' && typeof modified === 'string' && created.endsWith('Z') && modified.endsWith('Z') && Date.parse(modified) < Date.parse(created)) {
    // Modified before created cannot be: the creation happened in the first pass through the repeated hour.
    if (typeof src.createDate === 'string' && isAmbiguousWall(src.createDate)) out.createDate = earlierReading(created);
  }
  return out as T;
}

/**
 * A ShipStation wall-clock value (`2024-11-03T01:40:00.1230000`) as an inclusive date filter that still
 * includes it (`2024-11-03 01:40:00`), moved back one hour inside the repeated fall-back hour (whether
 * ShipStation compares wall clocks or instants, and whichever instant it picks, nothing in the hour is
 * skipped). Undefined when the value is not a wall-clock timestamp.
 */
export function wallLowerBound(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = WALL.exec(value);
  if (!m) return undefined;
  let wall = DateTime.fromISO(`${m[1]}T${m[2]}`, { zone: 'utc' });
  if (!wall.isValid) return undefined;
  if (isAmbiguousWall(value)) wall = wall.minus({ hours: 1 });
  return wall.toFormat('yyyy-MM-dd HH:mm:ss');
}

/**
 * The inclusive lower bound `since` (UTC ISO) as a ShipStation date filter in Pacific time
 * (`yyyy-mm-dd hh:mm:ss`), widened by one hour inside the repeated fall-back hour.
 */
export function pacificLowerBound(since: string): string {
  const utc = DateTime.fromISO(since, { zone: 'utc' });
  if (!utc.isValid) throw new SluiceError('config', `ShipStation: the saved cursor "${since}" is not a valid timestamp; run a full refresh of this table`);
  const local = utc.setZone(PACIFIC).startOf('second');
  let wall = DateTime.fromObject(
    { year: local.year, month: local.month, day: local.day, hour: local.hour, minute: local.minute, second: local.second },
    { zone: 'utc' },
  );
  if (local.getPossibleOffsets().length > 1) wall = wall.minus({ hours: 1 });
  return wall.toFormat('yyyy-MM-dd HH:mm:ss');
}

/**
 * A record's place in a ShipStation sort by a date field, for core's order guard: the wall clock at the
 * filter's resolution (`2024-11-03 00:40:00`: records sharing the anchor second are re-read, so finer
 * digits may go back across pages), with the whole repeated fall-back hour as one value (`… 01:00:00`),
 * since ShipStation may order that hour by wall clock or by instant. Undefined when not a wall clock.
 */
export function wallOrderKey(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = WALL.exec(value);
  if (!m) return undefined;
  return isAmbiguousWall(value) ? `${m[1]} ${m[2]!.slice(0, 2)}:00:00` : `${m[1]} ${m[2]}`;
}
