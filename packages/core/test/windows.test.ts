import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SluiceError, queryTable, type DataRecord, type Json, type QueryPagingDecl, type TableSpec, type WindowRequest } from '@sluice/core';
import { failure, readSpec } from './read-spec';

/**
 * The `time-windows` paging kind against an in-memory event store that answers like a query API: events
 * in [from, to) strictly after a (ts, id) position, in that order, a page at a time. The store can refuse
 * a window as too large (as PostHog times out), to exercise halving, the ceiling and the minimum.
 */

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 5, 30, 12);
/** Microsecond timestamps, as the vendor's time field: sorting as text is sorting in time. */
const isoUs = (ms: number) => `${new Date(ms).toISOString().slice(0, 23)}000Z`;

type Event = { ts: string; id: string };
/** 60 events over the last 20 days, some sharing a timestamp (the id breaks the tie). */
const EVENTS: Event[] = Array.from({ length: 60 }, (_, i) => ({ ts: isoUs(NOW - 20 * DAY + Math.floor(i / 2) * 16 * HOUR + 1000), id: `e${String(i).padStart(2, '0')}` }));
const ids = (events: Event[]) => events.map((e) => e.id);

class TooLarge extends Error {}

interface Store {
  calls: WindowRequest[];
  refused: WindowRequest[];
  fetch: (req: WindowRequest & { size: number }) => Promise<{ records: DataRecord[]; more: boolean }>;
}

/** `maxSpanMs`: a window longer than this (from the position on) is refused as too large. */
function store(events: Event[] = EVENTS, o: { maxSpanMs?: number; unordered?: boolean } = {}): Store {
  const calls: WindowRequest[] = [];
  const refused: WindowRequest[] = [];
  return {
    calls,
    refused,
    async fetch(req) {
      calls.push(req);
      const start = req.after ? Math.max(Date.parse(req.from), Date.parse(String(req.after[0]))) : Date.parse(req.from);
      if (o.maxSpanMs !== undefined && Date.parse(req.to) - start > o.maxSpanMs) {
        refused.push(req);
        throw new TooLarge(`window ${req.from}..${req.to} too large`);
      }
      const after = req.after && `${String(req.after[0])}|${String(req.after[1])}`;
      const inWindow = events.filter((e) => e.ts >= isoUs(Date.parse(req.from)) && e.ts < isoUs(Date.parse(req.to)) && (after === null || `${e.ts}|${e.id}` > after));
      const sorted = o.unordered ? inWindow.reverse() : inWindow.sort((a, b) => (`${a.ts}|${a.id}` < `${b.ts}|${b.id}` ? -1 : 1));
      const records = sorted.slice(0, req.size).map((e) => ({ ...e }));
      return { records, more: records.length === req.size };
    },
  };
}

const paging = (s: Store, window: { initial?: number; minMs?: number; maxMs?: number } = {}): QueryPagingDecl => ({
  kind: 'time-windows',
  size: { config: 'pageSize' },
  fields: ['ts', 'id'],
  window: { initial: window.initial ?? DAY, minMs: window.minMs ?? HOUR, maxMs: window.maxMs ?? 8 * DAY },
  firstSync: { config: 'backfillDays', unitMs: DAY },
  tooLarge: (e) => e instanceof TooLarge,
  fetch: (req) => s.fetch(req),
});

const table = (p: QueryPagingDecl) =>
  queryTable({
    vendor: 'acme',
    name: 'events',
    description: 'events',
    primaryKey: ['id'],
    cursor: { fields: ['ts'], default: 'ts' },
    query: 'QL SELECT … FROM events ORDER BY ts, id',
    filter: "ts >= '{value}'",
    paging: p,
  });

async function read(t: TableSpec, o: { since?: string; checkpoint?: Json; stopAfter?: number; pageSize?: number; backfillDays?: number } = {}) {
  const config = { pageSize: o.pageSize ?? 4, backfillDays: o.backfillDays ?? 30 };
  const r = await readSpec(t, { config, request: { mode: 'incremental', since: o.since, checkpoint: o.checkpoint }, stopAfter: o.stopAfter });
  return { ...r, ids: r.records.map((x) => x.id) };
}

const spans = (calls: WindowRequest[]) => calls.filter((c) => c.after === null).map((c) => Date.parse(c.to) - Date.parse(c.from));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => vi.useRealTimers());

describe('time windows', () => {
  it('read every event from the lower bound to now once, in order, window after window', async () => {
    const s = store();
    const since = EVENTS[10]!.ts;
    const r = await read(table(paging(s)), { since });
    expect(r.ids).toEqual(ids(EVENTS.slice(10)));
    expect(r.checkpoints.at(-1)).toEqual({ done: true });
    // The windows tile [since, now) without gap or overlap.
    const windows = s.calls.filter((c) => c.after === null);
    expect(windows[0]!.from).toBe(new Date(Date.parse(since)).toISOString());
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.from).toBe(windows[i - 1]!.to);
    expect(windows.at(-1)!.to).toBe(new Date(NOW).toISOString());
  });

  it('read backfillDays before now on a first sync', async () => {
    const r = await read(table(paging(store())), { backfillDays: 10 });
    expect(r.ids).toEqual(ids(EVENTS.filter((e) => Date.parse(e.ts) >= NOW - 10 * DAY)));
  });

  it('let a window after a sparse one double, up to the maximum', async () => {
    const s = store(EVENTS.slice(0, 2)); // two events at the start, then nothing
    await read(table(paging(s, { initial: DAY, maxMs: 8 * DAY })), { since: EVENTS[0]!.ts, pageSize: 100 });
    const seen = spans(s.calls).slice(0, -1); // the last window is cut at now
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe(Math.min(8 * DAY, seen[i - 1]! * 2));
    expect(Math.max(...seen)).toBe(8 * DAY);
  });

  it('keep the window size after a dense window', async () => {
    const s = store();
    await read(table(paging(s, { initial: DAY })), { since: EVENTS[0]!.ts, pageSize: 2 });
    // Every window holds at least one event and pages of 2 are never a quarter empty: no window grows.
    expect(new Set(spans(s.calls).slice(0, -1))).toEqual(new Set([DAY]));
  });

  it('halve a window the vendor refuses as too large, read everything once, and stay under the refused span', async () => {
    const s = store(EVENTS, { maxSpanMs: 2 * DAY });
    const r = await read(table(paging(s, { initial: 8 * DAY, minMs: HOUR })), { since: EVENTS[0]!.ts });
    expect(r.ids).toEqual(ids(EVENTS));
    expect(s.refused.length).toBeGreaterThan(0);
    // Each refusal is answered by a narrower query, never the same one again.
    expect(new Set(s.refused.map((c) => JSON.stringify(c))).size).toBe(s.refused.length);
    // Later windows stay at half the smallest span refused (the ceiling), instead of growing back into refusals.
    const refusedSpan = Math.min(...s.refused.map((c) => Date.parse(c.to) - Math.max(Date.parse(c.from), c.after ? Date.parse(String(c.after[0])) : 0)));
    const later = s.calls.slice(s.calls.indexOf(s.refused.at(-1)!) + 1).filter((c) => c.after === null);
    expect(later.length).toBeGreaterThan(1);
    for (const c of later) expect(Date.parse(c.to) - Date.parse(c.from)).toBeLessThanOrEqual(refusedSpan / 2);
    expect(r.events.some((e) => e.type === 'note' && /acme could not answer the events window in time; splitting the window/.test(e.message))).toBe(true);
  });

  it('remember the refused span for the sync: sparse windows after a refusal do not grow back into it', async () => {
    const s = store(EVENTS.slice(0, 2), { maxSpanMs: 2 * DAY });
    const r = await read(table(paging(s, { initial: 8 * DAY, maxMs: 16 * DAY })), { since: EVENTS[0]!.ts, pageSize: 100 });
    expect(r.ids).toEqual(ids(EVENTS.slice(0, 2)));
    // Only the first window was ever refused; every later (sparse) window stays at half the refused span.
    expect(new Set(s.refused.map((c) => c.from))).toEqual(new Set([s.calls[0]!.from]));
    const later = s.calls.filter((c) => c.after === null && c.from !== s.calls[0]!.from);
    expect(later.length).toBeGreaterThan(3);
    for (const c of later) expect(Date.parse(c.to) - Date.parse(c.from)).toBeLessThanOrEqual(2 * DAY);
  });

  it('fail clearly when the vendor refuses even the minimum window (retried later)', async () => {
    const s = store(EVENTS, { maxSpanMs: 10 * 60_000 });
    const e = await failure(read(table(paging(s, { minMs: HOUR })), { since: EVENTS[0]!.ts }));
    expect(e).toBeInstanceOf(SluiceError);
    expect(e.kind).toBe('transient');
    expect(e.message).toMatch(/^acme cannot answer even a \d+ s window of events starting .*window .* too large\); will retry later$/);
  });

  it('resume from a checkpoint in the middle of a window and read exactly the rest', async () => {
    const since = EVENTS[0]!.ts;
    const full = await read(table(paging(store())), { since, pageSize: 3 });
    // Pages of 3 in windows of a day holding up to 4 events: some checkpoints stop inside a window.
    const i = full.checkpoints.findIndex((cp) => (cp as { after?: unknown }).after !== null && !(cp as { done?: boolean }).done);
    expect(i).toBeGreaterThanOrEqual(0);
    const first = await read(table(paging(store())), { since, pageSize: 3, stopAfter: i + 1 });
    const s = store();
    const rest = await read(table(paging(s)), { since, pageSize: 3, checkpoint: first.checkpoints.at(-1) });
    expect([...first.ids, ...rest.ids]).toEqual(full.ids);
    expect(s.calls[0]!.after).toEqual([first.records.at(-1)!.ts, first.records.at(-1)!.id]);
  });

  it('resume from every checkpoint of a read, window boundaries included', async () => {
    const since = EVENTS[0]!.ts;
    const full = await read(table(paging(store())), { since, pageSize: 3 });
    for (const [i, cp] of full.checkpoints.entries()) {
      const upTo = await read(table(paging(store())), { since, pageSize: 3, stopAfter: i + 1 });
      const rest = await read(table(paging(store())), { since, pageSize: 3, checkpoint: cp });
      expect([...upTo.ids, ...rest.ids]).toEqual(full.ids);
    }
  });

  it('resume a checkpoint in the shape PostHog wrote before the engine (v: 1), covering the same range', async () => {
    const k = 7;
    const cp = { v: 1, from: new Date(Date.parse(EVENTS[0]!.ts)).toISOString(), to: new Date(NOW - 10 * DAY).toISOString(), until: new Date(NOW - 5 * DAY).toISOString(), after: [EVENTS[k]!.ts, EVENTS[k]!.id], windowMs: DAY };
    // "now" has moved on and a new event arrived: the resumed attempt still ends at the saved `until`.
    vi.setSystemTime(NOW + HOUR);
    const late = { ts: isoUs(NOW + 30 * 60_000), id: 'late' };
    const r = await read(table(paging(store([...EVENTS, late]))), { checkpoint: cp });
    expect(r.ids).toEqual(ids(EVENTS.slice(k + 1).filter((e) => e.ts < isoUs(Date.parse(cp.until)))));
  });

  it('end at once on an empty range, and resume a finished read to nothing', async () => {
    const s = store();
    const empty = await read(table(paging(s)), { since: new Date(NOW + HOUR).toISOString() });
    expect(empty.checkpoints).toEqual([{ done: true }]);
    expect((await read(table(paging(s)), { checkpoint: { done: true } })).ids).toEqual([]);
    expect(s.calls).toEqual([]);
  });

  it('fail when the vendor ignores the order inside a window, naming the vendor, the table and the keys', async () => {
    const e = await failure(read(table(paging(store(EVENTS, { unordered: true }))), { since: EVENTS[0]!.ts, pageSize: 10 }));
    expect(e.kind).toBe('inconsistent');
    expect(e.message).toMatch(/^acme events: records came back out of order \(\(ts, id\) \("[^"]+", "e\d\d"\) follows \(ts, id\) \("[^"]+", "e\d\d"\) within one page\)/);
  });

  it('refuse a checkpoint that is no time-windows position', async () => {
    const e = await failure(read(table(paging(store())), { checkpoint: { after: ['x', 'y'] } }));
    expect(e.kind).toBe('config');
    expect(e.message).toMatch(/^events: cannot resume from the checkpoint .*next one starts the table afresh/);
  });

  it('describe the windows for the catalogue', () => {
    expect(table(paging(store(), { initial: DAY, minMs: HOUR, maxMs: 8 * DAY })).reads).toEqual({
      endpoint: 'QL SELECT … FROM events ORDER BY ts, id',
      paging: { kind: 'time-windows', pageSize: { config: 'pageSize' }, window: '1 d, halved when too large (down to 1 h), doubled when sparse (up to 8 d)', inside: 'keyset (ts, id)', firstSync: 'config.backfillDays' },
      filter: "ts >= '{value}'",
    });
  });
});
