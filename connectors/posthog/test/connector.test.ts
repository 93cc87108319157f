import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError, planLowerBound, planTable, readTable, type DataRecord, type ReadRequest } from '@sluice/core';
import { slidingWindowBudget } from '@sluice/core/http/sliding-window';
import { DEMO_KEY, EMPTY_PROJECT_ID, NO_QUERY_SCOPE_KEY, OTHER_PROJECT_KEY, start, sourceConfig, type PostHogEmulator } from '@sluice/emulators/posthog/index';
import connector, { checkPostHog } from '../src/index';
import { createClient, toUtcMicros, uuidOrder } from '../src/client';
import { configSchema, normalizeHost } from '../src/config';
import { DEFAULT_LOOKBACK_MS } from '../src/events';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
let h: PostHogEmulator;

/** A client with its own generous budget (the module-level per-key budget would outlive a test). */
function freshClient(raw: Record<string, unknown>, budget = slidingWindowBudget({ limit: 10_000, windowMs: HOUR })) {
  return createClient(configSchema.parse(raw), { budget, minRetryDelayMs: 10 });
}

async function read(table: string, extra: Record<string, unknown> = {}, request: Partial<ReadRequest> = {}, opts: { maxPages?: number; client?: unknown; emu?: PostHogEmulator } = {}) {
  const raw = { ...sourceConfig(opts.emu ?? h), ...extra };
  return readTable(connector, raw, table, request, { maxPages: opts.maxPages, client: opts.client ?? freshClient(raw) });
}

/** The `since` the engine hands the events table for a saved cursor, planned with the source's config (its lookbackHours). */
function sinceFor(cursor: string, extra: Record<string, unknown> = {}): string | undefined {
  const events = connector.tables.find((t) => t.name === 'events')!;
  const { plan } = planTable(events, {}, {}, configSchema.parse({ ...sourceConfig(h), ...extra }));
  return planLowerBound(plan, { cursor, cursorField: 'timestamp' });
}

const uuids = (records: DataRecord[]) => records.map((r) => r.uuid as string);
/** The (timestamp, uuid) position in HogQL's order (UUIDs in ClickHouse's order), as a string that sorts so. */
const keyOf = (r: DataRecord) => `${r.timestamp as string}|${uuidOrder(r.uuid)}`;
const isoUs = (us: number) => `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}Z`;

beforeAll(async () => {
  // Traffic ends an hour ago, so "now" moving during the test cannot change what a read sees.
  h = await start({ seed: 5, nowMs: Date.now() - HOUR, days: 35, knobs: { queryLimit: 100_000 } });
});
afterAll(async () => h?.close());

describe('posthog connector: events', () => {
  it('backfills backfillDays of events in (timestamp, uuid) order, key-set paged, with url and person ids', async () => {
    const before = Date.now();
    const { records, pages } = await read('events', { pageSize: 200, windowHours: 48 });
    const after = Date.now();
    expect(new Set(uuids(records)).size).toBe(records.length);
    const inRange = (from: number) => h.project.events.filter((e) => e.timestampUs >= from * 1000).map((e) => e.uuid);
    const must = new Set(inRange(after - 30 * DAY));
    const may = new Set(inRange(before - 30 * DAY));
    for (const u of must) expect(uuids(records)).toContain(u);
    for (const u of uuids(records)) expect(may.has(u)).toBe(true);
    expect(h.project.events.length - records.length).toBeGreaterThan(0); // the 35-day history is cut at 30 days
    const keys = records.map(keyOf);
    expect([...keys].sort()).toEqual(keys);
    expect(pages).toBeGreaterThan(5);
    const byUuid = new Map(h.project.events.map((e) => [e.uuid, e]));
    for (const r of records) {
      const e = byUuid.get(r.uuid as string)!;
      expect(r.timestamp).toBe(isoUs(e.timestampUs));
      expect(r.event).toBe(e.event);
      expect(r.distinct_id).toBe(e.distinct_id);
      expect(r.person_id).toBe(h.project.personIdOf(e.distinct_id));
      expect(r.properties).toEqual(e.properties);
      expect(r.url).toBe((e.properties.$current_url as string | undefined) ?? null);
    }
  });

  it('later syncs re-read lookbackHours before the cursor: late events are caught, none twice, none missed', async () => {
    const first = await read('events', { pageSize: 500 });
    const stored = new Map(first.records.map((r) => [r.uuid as string, r]));
    const cursor = first.records.map((r) => r.timestamp as string).sort().at(-1)!;
    const cursorMs = Date.parse(cursor);
    // Arriving now: a fresh event, a late one 3 h behind the cursor, one 10 h behind (outside a 6 h lookback).
    const fresh = h.project.addEvent({ event: '$pageview', distinct_id: 'late-visitor', timestamp: Date.now() - 60_000, properties: { $current_url: 'https://shop.example.com/products/mug' } });
    const late = h.project.addEvent({ event: 'checkout started', distinct_id: 'late-visitor', timestamp: cursorMs - 3 * HOUR });
    const veryLate = h.project.addEvent({ event: 'checkout started', distinct_id: 'late-visitor', timestamp: cursorMs - 10 * HOUR });
    try {
      // The engine hands back the cursor minus the source's lookbackHours (default 6, DEFAULT_LOOKBACK_MS).
      const since = sinceFor(cursor);
      expect(since).toBe(new Date(cursorMs - DEFAULT_LOOKBACK_MS).toISOString());
      const second = await read('events', { pageSize: 500 }, { since });
      expect(new Set(uuids(second.records)).size).toBe(second.records.length);
      expect(uuids(second.records)).toContain(fresh.uuid);
      expect(uuids(second.records)).toContain(late.uuid);
      expect(uuids(second.records)).not.toContain(veryLate.uuid);
      // Everything in the lookback window was re-read (merge by uuid removes the overlap).
      const window = h.project.events.filter((e) => e.timestampUs >= (cursorMs - 6 * HOUR) * 1000).map((e) => e.uuid);
      expect(new Set(uuids(second.records))).toEqual(new Set(window));
      const overlap = uuids(second.records).filter((u) => stored.has(u));
      expect(overlap.length).toBeGreaterThan(0);
      for (const r of second.records) stored.set(r.uuid as string, r);
      const expected = h.project.events.filter((e) => e.timestampUs >= Date.parse(first.records[0]!.timestamp as string) * 1000 && e.uuid !== veryLate.uuid).map((e) => e.uuid);
      expect(new Set(stored.keys())).toEqual(new Set(expected));

      // A source with lookbackHours: 12 moves the same saved cursor further back and catches the 10 h late event.
      const wide = await read('events', { pageSize: 500, lookbackHours: 12 }, { since: sinceFor(cursor, { lookbackHours: 12 }) });
      expect(uuids(wide.records)).toContain(veryLate.uuid);
      expect(Math.min(...wide.records.map((r) => Date.parse(r.timestamp as string)))).toBeGreaterThanOrEqual(cursorMs - 12 * HOUR);
      // lookbackHours: 0 starts exactly at the cursor (inclusive).
      const none = await read('events', { pageSize: 500, lookbackHours: 0 }, { since: sinceFor(cursor, { lookbackHours: 0 }) });
      expect(uuids(none.records)).toContain(first.records.at(-1)!.uuid);
      expect(uuids(none.records)).not.toContain(late.uuid);
    } finally {
      for (const e of [fresh, late, veryLate]) h.project.events.splice(h.project.events.indexOf(e), 1);
    }
  });

  it('pages through many events sharing one microsecond (uuid breaks the tie)', async () => {
    const ts = Date.now() - 2 * HOUR;
    const same = Array.from({ length: 25 }, (_, i) => h.project.addEvent({ event: 'burst', distinct_id: `burst-${i}`, timestamp: ts }));
    for (const e of same) e.timestampUs = ts * 1000 + 123; // identical DateTime64(6) values
    try {
      const r = await read('events', { pageSize: 10, lookbackHours: 0 }, { since: new Date(ts - HOUR).toISOString() });
      const burst = r.records.filter((x) => x.event === 'burst');
      expect(burst.map((x) => x.uuid).sort()).toEqual(same.map((e) => e.uuid).sort());
      expect(new Set(uuids(r.records)).size).toBe(r.records.length);
      expect(burst[0]!.timestamp).toBe(isoUs(ts * 1000 + 123));
    } finally {
      for (const e of same) h.project.events.splice(h.project.events.indexOf(e), 1);
    }
  });

  it('keeps paging when PostHog caps LIMIT below pageSize, with or without saying so', async () => {
    const all = await read('events', { pageSize: 10_000, windowHours: 24 * 40 });
    h.knobs.maxLimit = 100;
    try {
      const said = await read('events', { pageSize: 500, windowHours: 24 * 40 });
      expect(said.records.map(keyOf)).toEqual(all.records.map(keyOf));
      h.knobs.legacyEnvelope = true; // no hasMore, no limit: only the silent cap of 100 rows
      const silent = await read('events', { pageSize: 500, windowHours: 24 * 40 });
      expect(silent.records.map(keyOf)).toEqual(all.records.map(keyOf));
      expect(silent.pages).toBeGreaterThan(all.records.length / 100);
    } finally {
      h.knobs.maxLimit = 50_000;
      h.knobs.legacyEnvelope = false;
    }
  });

  it('resumes after a checkpoint without gaps or duplicates', async () => {
    const full = await read('events', { pageSize: 100, windowHours: 24 * 40 });
    const part = await read('events', { pageSize: 100, windowHours: 24 * 40 }, {}, { maxPages: 3 });
    expect(part.pages).toBe(3);
    const rest = await read('events', { pageSize: 100, windowHours: 24 * 40 }, { checkpoint: part.checkpoints.at(-1)! });
    expect(new Set([...uuids(part.records), ...uuids(rest.records)]).size).toBe(part.records.length + rest.records.length);
    // `until` is fixed in the checkpoint, so the resumed read covers the same range as the full one.
    expect(new Set([...uuids(part.records), ...uuids(rest.records)])).toEqual(new Set(uuids(full.records)));
  });

  it('splits a time window that times out (512 and 504) and still reads everything once', async () => {
    const baseline = await read('events', { pageSize: 10_000, windowHours: 24 * 40 });
    for (const [status, knob] of [
      [512, 'rows'],
      [504, 'rows'],
      [512, 'window'],
    ] as const) {
      if (knob === 'rows') h.knobs.maxMatchedRows = 150;
      else h.knobs.maxWindowMs = 2 * DAY;
      h.knobs.timeoutStatus = status;
      const startLog = h.queryLog.length;
      try {
        const r = await read('events', { pageSize: 10_000, windowHours: 24 * 40 });
        expect(r.records.map(keyOf)).toEqual(baseline.records.map(keyOf));
        const statuses = h.queryLog.slice(startLog).map((q) => q.status);
        expect(statuses).toContain(status);
        // Each timeout is answered by a narrower query, not by retrying the same one.
        const failed = h.queryLog.slice(startLog).filter((q) => q.status === status);
        expect(new Set(failed.map((q) => q.query)).size).toBe(failed.length);
        expect(r.events.some((e) => e.type === 'note' && /splitting the window/.test(e.message))).toBe(true);
      } finally {
        h.knobs.maxMatchedRows = Infinity;
        h.knobs.maxWindowMs = Infinity;
        h.knobs.timeoutStatus = 512;
      }
    }
  });

  it('a persons query that times out is a retryable transient failure (Temporal retries it later)', async () => {
    h.knobs.maxMatchedRows = 5;
    try {
      const err = await read('persons', { pageSize: 1000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SluiceError);
      expect((err as SluiceError).kind).toBe('transient');
      expect((err as SluiceError).retryable).toBe(true);
      expect((err as SluiceError).message).toMatch(/could not finish the query in time \(HTTP 512\).*lower pageSize/);
    } finally {
      h.knobs.maxMatchedRows = Infinity;
    }
  });

  it('normalises timestamps rendered in a non-UTC project timezone to UTC with microseconds', async () => {
    const la = await start({ seed: 9, nowMs: Date.now() - HOUR, days: 3, customers: 10, anonymousVisitors: 2, timezoneOffsetMinutes: -420, knobs: { queryLimit: 10_000 } });
    try {
      const { records } = await read('events', { pageSize: 37 }, {}, { emu: la });
      expect(records.length).toBe(la.project.events.length);
      const byUuid = new Map(la.project.events.map((e) => [e.uuid, e]));
      for (const r of records) expect(r.timestamp).toBe(isoUs(byUuid.get(r.uuid as string)!.timestampUs));
    } finally {
      await la.close();
    }
  });
});

describe('posthog connector: identity tables', () => {
  it('persons carry their distinct ids; person_distinct_ids links anonymous ids from $identify', async () => {
    const persons = await read('persons', { pageSize: 13 });
    expect(persons.records.map((r) => r.id).sort()).toEqual([...h.project.persons.keys()].sort());
    for (const p of persons.records) {
      const expected = [...h.project.pdi.entries()].filter(([, pid]) => pid === p.id).map(([d]) => d);
      expect([...(p.distinct_ids as string[])].sort()).toEqual(expected.sort());
      expect(p.created_at).toMatch(/Z$/);
      expect((p.properties as { email: string }).email).toMatch(/@example\.com$/);
    }
    const pdi = await read('person_distinct_ids', { pageSize: 17 });
    expect(new Map(pdi.records.map((r) => [r.distinct_id, r.person_id]))).toEqual(h.project.pdi);
    expect(pdi.records).toHaveLength(h.project.pdi.size);

    // An anonymous visitor browses, then logs in: events sent before the login belong to the person afterwards.
    const anon = 'anon-before-login';
    const view = h.project.addEvent({ event: '$pageview', distinct_id: anon, timestamp: Date.now() - 30 * 60_000, properties: { $current_url: 'https://shop.example.com/products/mug' } });
    const before = await read('events', { pageSize: 1000, lookbackHours: 1 }, { since: new Date(Date.now() - 2 * HOUR).toISOString() });
    const personless = before.records.find((r) => r.uuid === view.uuid)!.person_id;
    const email = [...h.project.persons.values()][0]!.properties.email as string;
    const { person, event } = h.project.identify(anon, email, { email }, Date.now() - 20 * 60_000);
    try {
      const pdi2 = await read('person_distinct_ids', { pageSize: 1000 });
      expect(pdi2.records.find((r) => r.distinct_id === anon)?.person_id).toBe(person.id);
      const after = await read('events', { pageSize: 1000, lookbackHours: 1 }, { since: new Date(Date.now() - 2 * HOUR).toISOString() });
      expect(after.records.find((r) => r.uuid === view.uuid)!.person_id).toBe(person.id);
      expect(personless).not.toBe(person.id);
      const ident = after.records.find((r) => r.uuid === event.uuid)!;
      expect(ident.event).toBe('$identify');
      expect((ident.properties as { $anon_distinct_id: string }).$anon_distinct_id).toBe(anon);
    } finally {
      h.project.pdi.delete(anon);
      for (const e of [view, event]) h.project.events.splice(h.project.events.indexOf(e), 1);
    }
  });

  it('resumes persons and person_distinct_ids from a checkpoint written before core ran them ({ after: key })', async () => {
    for (const [table, key] of [
      ['persons', 'id'],
      ['person_distinct_ids', 'distinct_id'],
    ] as const) {
      const full = await read(table, { pageSize: 13 });
      const k = Math.floor(full.records.length / 3);
      // An attempt in flight across the upgrade: its heartbeat holds the bare key of the last record it staged.
      const rest = await read(table, { pageSize: 13 }, { checkpoint: { after: full.records[k]![key] as string } });
      expect(rest.records).toEqual(full.records.slice(k + 1));
    }
  });

  it('reads cohorts over REST without spending the HogQL budget', async () => {
    h.knobs.restPageSize = 2;
    const budget = slidingWindowBudget({ limit: 10, windowMs: HOUR });
    try {
      const raw = sourceConfig(h);
      const { records, pages } = await read('cohorts', {}, {}, { client: freshClient(raw, budget) });
      expect(pages).toBe(2);
      expect(records.map((r) => r.id).sort()).toEqual(h.project.cohorts.map((c) => c.id).sort());
      expect(records[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(budget.used()).toBe(0);
    } finally {
      h.knobs.restPageSize = 100;
    }
  });
});

describe('posthog connector: query budget and 429', () => {
  it('waits for the time a 429 names, then finishes the read', async () => {
    const e = await start({ seed: 4, nowMs: Date.now() - HOUR, days: 2, customers: 20, anonymousVisitors: 3, knobs: { queryLimit: 2, queryWindowMs: 2_000, retryAfterHeader: false } });
    try {
      const raw = sourceConfig(e);
      const started = Date.now();
      const r = await read('events', { pageSize: 40, windowHours: 24 * 3 }, {}, { emu: e });
      expect(uuids(r.records).sort()).toEqual(e.project.events.map((x) => x.uuid).sort());
      const throttled = e.queryLog.filter((q) => q.status === 429).length;
      expect(throttled).toBeGreaterThan(0);
      expect(r.events.some((ev) => ev.type === 'wait' && /rate limited/.test(ev.reason))).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      void raw;
    } finally {
      await e.close();
    }
  });

  it('keeps to its own budget so PostHog never has to say 429', async () => {
    const e = await start({ seed: 4, nowMs: Date.now() - HOUR, days: 2, customers: 20, anonymousVisitors: 3, knobs: { queryLimit: 3, queryWindowMs: 1_500 } });
    try {
      const raw = sourceConfig(e);
      const budget = slidingWindowBudget({ limit: 3, windowMs: 1_600 });
      const r = await read('events', { pageSize: 40, windowHours: 24 * 3 }, {}, { emu: e, client: freshClient(raw, budget) });
      expect(uuids(r.records).sort()).toEqual(e.project.events.map((x) => x.uuid).sort());
      expect(e.queryLog.length).toBeGreaterThan(3);
      expect(e.queryLog.filter((q) => q.status === 429)).toEqual([]);
      expect(r.events.some((ev) => ev.type === 'wait' && /PostHog query budget|budget/.test(ev.reason))).toBe(true);
    } finally {
      await e.close();
    }
  });

  it('shares one budget per key between sources in a worker, sized by queriesPerHour', () => {
    const raw = { host: 'https://eu.posthog.com', projectId: 1, personalApiKey: 'phx_shared_budget_test' };
    const a = connector.connect(configSchema.parse(raw), { source: 'a', log: console, report: () => {} }) as ReturnType<typeof createClient>;
    const b = connector.connect(configSchema.parse({ ...raw, projectId: 2 }), { source: 'b', log: console, report: () => {} }) as ReturnType<typeof createClient>;
    const c = connector.connect(configSchema.parse({ ...raw, personalApiKey: 'phx_other' }), { source: 'c', log: console, report: () => {} }) as ReturnType<typeof createClient>;
    expect(a.budget).toBe(b.budget);
    expect(a.budget).not.toBe(c.budget);
  });
});

describe('posthog connector: check and config', () => {
  const check = async (raw: Record<string, unknown>) => {
    const config = configSchema.parse(raw);
    return checkPostHog(config, freshClient(raw));
  };
  const failure = async (raw: Record<string, unknown>) => {
    try {
      await check(raw);
    } catch (e) {
      return e as SluiceError;
    }
    throw new Error('check passed');
  };

  it('pulls one recent event', async () => {
    const r = await check(sourceConfig(h));
    expect(r.ok).toBe(true);
    expect(r.message).toMatch(/^Connected to PostHog project 4242 .*latest event "/);
    expect(r.warnings).toBeUndefined();
  });

  it('names the fix for an invalid key, an unknown project, a missing scope, another project', async () => {
    const bad = await failure({ ...sourceConfig(h), personalApiKey: 'phx_revoked' });
    expect(bad.kind).toBe('auth');
    expect(bad.message).toMatch(/^Invalid API key \(create a new one in PostHog → Settings → Personal API keys\)/);
    expect(bad.retryable).toBe(false);
    const missing = await failure({ ...sourceConfig(h), projectId: 777 });
    expect(missing.kind).toBe('not_found');
    expect(missing.message).toMatch(/^Project not found \(copy the numeric project id from PostHog → Settings → Project\)/);
    const scope = await failure({ ...sourceConfig(h), personalApiKey: NO_QUERY_SCOPE_KEY });
    expect(scope.kind).toBe('permission');
    expect(scope.message).toContain('query:read');
    const other = await failure({ ...sourceConfig(h), personalApiKey: OTHER_PROJECT_KEY });
    expect(other.kind).toBe('permission');
    expect(other.message).toMatch(/no access to project 4242/);
    for (const e of [bad, missing, scope, other]) expect(e.message).not.toContain(DEMO_KEY);
  });

  it('refuses a non-numeric project id as a config error with the same hint', () => {
    const r = configSchema.safeParse({ ...sourceConfig(h), projectId: 'my-shop' });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/^Project not found: .*"my-shop".*copy the numeric project id from PostHog → Settings → Project/);
    expect(configSchema.parse({ ...sourceConfig(h), projectId: '4242' }).projectId).toBe(4242);
  });

  it('warns when the project receives no events', async () => {
    const r = await check({ ...sourceConfig(h), projectId: EMPTY_PROJECT_ID });
    expect(r.ok).toBe(true);
    expect(r.warnings?.[0]).toMatch(/^PostHog is receiving no events for project 4343/);
  });

  it('normalises HogQL DateTime renderings to UTC with six fractional digits', () => {
    expect(toUtcMicros('2024-01-15T10:30:00Z')).toBe('2024-01-15T10:30:00.000000Z');
    expect(toUtcMicros('2024-01-15T02:30:00.5-08:00')).toBe('2024-01-15T10:30:00.500000Z');
    expect(toUtcMicros('2024-01-01T00:30:00.123456+05:30')).toBe('2023-12-31T19:00:00.123456Z');
    expect(toUtcMicros('2024-01-15 10:30:00.1234567')).toBe('2024-01-15T10:30:00.123456Z');
    expect(toUtcMicros(null)).toBeNull();
    expect(() => toUtcMicros('yesterday')).toThrow(SluiceError);
  });

  it('maps ingestion hosts and shorthands to the app host', () => {
    expect(normalizeHost('us.i.posthog.com')).toBe('https://us.posthog.com');
    expect(normalizeHost('https://eu.i.posthog.com/')).toBe('https://eu.posthog.com');
    expect(normalizeHost('https://us-assets.i.posthog.com')).toBe('https://us.posthog.com');
    expect(normalizeHost('https://app.posthog.com')).toBe('https://us.posthog.com');
    expect(normalizeHost('eu')).toBe('https://eu.posthog.com');
    expect(normalizeHost('posthog.internal.example.com/')).toBe('https://posthog.internal.example.com');
    expect(normalizeHost('http://127.0.0.1:8000')).toBe('http://127.0.0.1:8000');
    const d = configSchema.parse({ projectId: 1, personalApiKey: 'phx_x' });
    expect([d.host, d.backfillDays, d.lookbackHours, d.pageSize, d.queriesPerHour]).toEqual(['https://us.posthog.com', 30, 6, 10_000, 120]);
  });

  it('declares its tables, modes and views', () => {
    const t = Object.fromEntries(connector.tables.map((x) => [x.name, x]));
    expect(Object.keys(t).sort()).toEqual(['cohorts', 'events', 'person_distinct_ids', 'persons']);
    expect(t.events!.primaryKey).toEqual(['uuid']);
    expect(t.events!.partitionBy).toBe('timestamp');
    expect(t.events!.defaultMode).toBe('incremental');
    expect(t.cohorts!.defaultMode).toBe('full_refresh');
    expect(connector.secrets).toEqual(['personalApiKey']);
    const views = connector.views!({ source: 'ph', tables: new Set(['events']) });
    expect(views.map((v) => v.name)).toEqual(['event_counts_daily']);
  });
});
