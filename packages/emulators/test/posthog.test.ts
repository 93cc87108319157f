import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEY, EMPTY_PROJECT_ID, NO_QUERY_SCOPE_KEY, OTHER_PROJECT_KEY, generatedCustomers, start, type PostHogEmulator } from '../src/posthog/index';
import { HogQLError, parseHogQL } from '../src/posthog/hogql';
import { clickhouseUuidOrder } from '../src/posthog/store';

let h: PostHogEmulator;
const NOW = Date.parse('2026-03-15T12:00:00Z');

async function q(query: unknown, opts: { key?: string | null; project?: string | number; kind?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.key !== null) headers.authorization = `Bearer ${opts.key ?? DEMO_KEY}`;
  const res = await fetch(`${h.url}/api/projects/${opts.project ?? h.projectId}/query/`, {
    method: 'POST',
    headers,
    body: JSON.stringify(typeof query === 'string' ? { query: { kind: opts.kind ?? 'HogQLQuery', query } } : query),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

beforeAll(async () => {
  h = await start({ seed: 11, nowMs: NOW, knobs: { nowMs: NOW } });
});
afterAll(async () => h?.close());

describe('posthog emulator: data', () => {
  it('generates a deterministic storefront with identified persons matching commerce customers', async () => {
    const again = await start({ seed: 11, nowMs: NOW });
    try {
      expect(again.project.events.map((e) => e.uuid)).toEqual(h.project.events.map((e) => e.uuid));
    } finally {
      await again.close();
    }
    const names = new Set(h.project.events.map((e) => e.event));
    expect([...names].sort()).toEqual(['$identify', '$pageview', 'checkout started', 'product added to cart']);
    expect(h.project.events.some((e) => String(e.properties.$current_url).includes('/products/'))).toBe(true);
    const customerEmails = new Set(generatedCustomers(42, 200).map((c) => c.email));
    const personEmails = [...h.project.persons.values()].map((p) => p.properties.email as string);
    expect(personEmails.length).toBeGreaterThan(10);
    for (const e of personEmails) expect(customerEmails.has(e)).toBe(true);
    for (const e of personEmails) expect(e).toMatch(/^[a-z]+\.[a-z-]+\d+@example\.com$/);
    // Every $identify links its anonymous id to the person of the identified distinct id.
    for (const ev of h.project.events.filter((e) => e.event === '$identify')) {
      expect(h.project.pdi.get(ev.properties.$anon_distinct_id as string)).toBe(h.project.pdi.get(ev.distinct_id));
    }
  });
});

describe('posthog emulator: sessions that lead to commerce orders', () => {
  it('gives each order by a known customer a view, identify, add to cart and checkout started just before it', async () => {
    const customers = generatedCustomers(42, 20);
    const orders = [
      { id: 1, email: customers[3]!.email.toUpperCase(), createdAt: '2024-05-01T10:00:00Z' },
      { id: 2, email: 'guest@example.net', createdAt: '2024-05-02T10:00:00Z' },
      { id: 3, email: null, createdAt: '2024-05-03T10:00:00Z' },
    ];
    const e = await start({ seed: 1, nowMs: NOW, customers, anonymousVisitors: 0, orders });
    try {
      const old = e.project.sortedEvents().filter((x) => x.timestampUs < Date.parse('2025-01-01T00:00:00Z') * 1000);
      expect(old.map((x) => x.event)).toEqual(['$pageview', '$identify', 'product added to cart', 'checkout started']);
      const checkout = old[3]!;
      const orderUs = Date.parse('2024-05-01T10:00:00Z') * 1000;
      expect(checkout.timestampUs).toBeLessThan(orderUs);
      expect(checkout.timestampUs).toBeGreaterThan(orderUs - 3600e6);
      expect(checkout.distinct_id).toBe(customers[3]!.email);
      // The anonymous view belongs to the same person, whose creation is its earliest identify.
      const person = e.project.persons.get(e.project.pdi.get(customers[3]!.email)!)!;
      expect(e.project.personIdOf(old[0]!.distinct_id)).toBe(person.id);
      expect(person.createdAtUs).toBe(old[1]!.timestampUs);
    } finally {
      await e.close();
    }
  });
});

describe('posthog emulator: HogQL', () => {
  it('runs SELECT … WHERE … ORDER BY … LIMIT with the response envelope', async () => {
    const r = await q("SELECT uuid, event, timestamp, properties FROM events WHERE timestamp >= toDateTime('2026-03-01 00:00:00') AND event = '$pageview' ORDER BY timestamp, uuid LIMIT 5");
    expect(r.status).toBe(200);
    expect(r.body.columns).toEqual(['uuid', 'event', 'timestamp', 'properties']);
    expect(r.body.types[2]).toEqual(['timestamp', "DateTime64(6, 'UTC')"]);
    expect(r.body.results).toHaveLength(5);
    expect(r.body.hasMore).toBe(true);
    const expected = h.project
      .sortedEvents()
      .filter((e) => e.event === '$pageview' && e.timestampUs >= Date.parse('2026-03-01T00:00:00Z') * 1000)
      .slice(0, 5);
    expect(r.body.results.map((row: unknown[]) => row[0])).toEqual(expected.map((e) => e.uuid));
    expect(typeof r.body.results[0][3]).toBe('string'); // properties come back as a JSON string
    expect(JSON.parse(r.body.results[0][3]).$current_url).toMatch(/^https:\/\/shop\.example\.com\//);
    for (const row of r.body.results) expect(row[2]).toMatch(/^2026-03-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$/);
  });

  it('pages with a (timestamp, uuid) tuple keyset without gaps or duplicates', async () => {
    const seen: string[] = [];
    let after: [string, string] | null = null;
    for (let i = 0; i < 100; i++) {
      const where = after ? `AND (timestamp, uuid) > (toDateTime('${after[0]}'), toUUID('${after[1]}'))` : '';
      const r = await q(`SELECT uuid, timestamp FROM events WHERE timestamp >= now() - INTERVAL 40 DAY ${where} ORDER BY timestamp ASC, uuid ASC LIMIT 97`);
      expect(r.status).toBe(200);
      seen.push(...r.body.results.map((x: string[]) => x[0]));
      if (!r.body.hasMore) break;
      const last = r.body.results[r.body.results.length - 1];
      after = [last[1], last[0]];
    }
    expect(seen).toEqual(h.project.sortedEvents().map((e) => e.uuid));
  });

  it('evaluates now() - INTERVAL, OR, NOT, IN, LIKE, IS NULL, BETWEEN and property access', async () => {
    const r = await q(
      "SELECT uuid, properties.$current_url AS url FROM events WHERE timestamp > now() - INTERVAL 2 DAY AND (event = 'product added to cart' OR event IN ('checkout started')) AND NOT (properties.$current_url LIKE '%/account/%') AND person_id IS NOT NULL AND timestamp BETWEEN toDateTime('2026-01-01') AND now() ORDER BY uuid DESC LIMIT 1000",
    );
    expect(r.status).toBe(200);
    const since = (NOW - 2 * 86400_000) * 1000;
    const expected = h.project.events
      .filter((e) => e.timestampUs > since && ['product added to cart', 'checkout started'].includes(e.event))
      .map((e) => e.uuid)
      .sort((a, b) => (clickhouseUuidOrder(a) < clickhouseUuidOrder(b) ? -1 : 1))
      .reverse();
    expect(r.body.results.map((x: string[]) => x[0])).toEqual(expected);
    expect(r.body.columns).toEqual(['uuid', 'url']);
  });

  it('resolves person_id through $identify, also for anonymous events sent before identify', async () => {
    const ev = h.project.events.find((e) => e.event === '$identify')!;
    const anon = ev.properties.$anon_distinct_id as string;
    const r = await q(`SELECT distinct_id, person_id FROM events WHERE distinct_id IN ('${anon}', '${ev.distinct_id}') LIMIT 1000`);
    const persons = new Set(r.body.results.map((x: string[]) => x[1]));
    expect(persons).toEqual(new Set([h.project.pdi.get(ev.distinct_id)]));
    const pdi = await q(`SELECT distinct_id, person_id FROM person_distinct_ids WHERE person_id = '${h.project.pdi.get(ev.distinct_id)}' ORDER BY distinct_id`);
    expect(pdi.body.results.map((x: string[]) => x[0])).toContain(anon);
  });

  it('reads persons and cohorts tables', async () => {
    const p = await q('SELECT id, created_at, properties, is_identified FROM persons ORDER BY id LIMIT 1000');
    expect(p.body.results.map((x: string[]) => x[0])).toEqual([...h.project.persons.keys()].sort((a, b) => (clickhouseUuidOrder(a) < clickhouseUuidOrder(b) ? -1 : 1)));
    const c = await q('SELECT id, name FROM system.cohorts ORDER BY id');
    expect(c.body.results.map((x: unknown[]) => x[1])).toEqual(h.project.cohorts.map((x) => x.name));
  });

  it('caps LIMIT, defaults it to 100, and honours OFFSET', async () => {
    expect((await q('SELECT uuid FROM events')).body.results).toHaveLength(100);
    h.knobs.maxLimit = 7;
    try {
      expect((await q('SELECT uuid FROM events LIMIT 50000')).body.results).toHaveLength(7);
    } finally {
      h.knobs.maxLimit = 50_000;
    }
    const all = await q('SELECT uuid FROM events ORDER BY uuid LIMIT 10');
    const off = await q('SELECT uuid FROM events ORDER BY uuid LIMIT 5 OFFSET 5');
    expect(off.body.results).toEqual(all.body.results.slice(5));
  });

  it('orders UUIDs as ClickHouse does (second half first), in ORDER BY and in comparisons', async () => {
    // The example of ClickHouse/ClickHouse#52070: text order would put 00000000-… first and ffffffff-… last.
    const ids = ['3f5ffba3-19ff-4f3d-8861-60ae6e1fc1aa', 'a72dc048-f72f-470e-b0f9-60cfad6e1157', '40634f4f-37bf-44e4-ac7c-6f024ad19990', 'cb5818ab-83b5-48a8-8861-60ae6e1fc1aa', 'ffffffff-ffff-ffff-0000-000000000000', '00000000-0000-0000-ffff-ffffffffffff'];
    const clickhouse = ['ffffffff-ffff-ffff-0000-000000000000', '3f5ffba3-19ff-4f3d-8861-60ae6e1fc1aa', 'cb5818ab-83b5-48a8-8861-60ae6e1fc1aa', '40634f4f-37bf-44e4-ac7c-6f024ad19990', 'a72dc048-f72f-470e-b0f9-60cfad6e1157', '00000000-0000-0000-ffff-ffffffffffff'];
    const u = await start({ seed: 4, nowMs: NOW, customers: 0, anonymousVisitors: 0 });
    try {
      for (const uuid of ids) u.project.addEvent({ uuid, event: 'uuid-order', distinct_id: 'd', timestamp: '2026-03-15T10:00:00.000Z' });
      const run = async (text: string) => {
        const res = await fetch(`${u.url}/api/projects/${u.projectId}/query/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ query: { kind: 'HogQLQuery', query: text } }),
        });
        return ((await res.json()) as { results: string[][] }).results.map((r) => r[0]);
      };
      expect(await run("SELECT uuid FROM events WHERE event = 'uuid-order' ORDER BY uuid")).toEqual(clickhouse);
      expect(await run("SELECT uuid FROM events WHERE event = 'uuid-order' AND uuid > toUUID('cb5818ab-83b5-48a8-8861-60ae6e1fc1aa') ORDER BY uuid")).toEqual(clickhouse.slice(3));
      expect(await run("SELECT uuid FROM events WHERE event = 'uuid-order' AND uuid = '40634f4f-37bf-44e4-ac7c-6f024ad19990'")).toEqual(['40634f4f-37bf-44e4-ac7c-6f024ad19990']);
      expect([...ids].sort((a, b) => (clickhouseUuidOrder(a) < clickhouseUuidOrder(b) ? -1 : 1))).toEqual(clickhouse);
    } finally {
      await u.close();
    }
  });

  it('renders DateTimes in the project timezone like Python isoformat', async () => {
    const la = await start({ seed: 3, nowMs: NOW, timezoneOffsetMinutes: -420, customers: 3, anonymousVisitors: 1 });
    try {
      la.project.addEvent({ uuid: '00000000-0000-4000-8000-000000000001', event: 'x', distinct_id: 'd', timestamp: '2026-03-15T10:00:00.000Z' });
      const res = await fetch(`${la.url}/api/projects/${la.projectId}/query/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: { kind: 'HogQLQuery', query: "SELECT timestamp FROM events WHERE uuid = '00000000-0000-4000-8000-000000000001'" } }),
      });
      const body: any = await res.json();
      expect(body.results[0][0]).toBe('2026-03-15T03:00:00-07:00');
    } finally {
      await la.close();
    }
  });

  it('refuses what it does not run with a validation_error', async () => {
    for (const bad of ['SELECT event, count() FROM events GROUP BY event', 'SELECT * FROM events e JOIN persons p ON e.person_id = p.id', 'SELECT nope FROM events', 'SELECT uuid FROM unknown_table', 'SELEC uuid FROM events', "SELECT uuid FROM events WHERE timestamp > 'not a date'"]) {
      const r = await q(bad);
      expect(r.status, bad).toBe(400);
      expect(r.body.type).toBe('validation_error');
      expect(typeof r.body.detail).toBe('string');
      expect(r.body).toHaveProperty('attr');
    }
    expect((await q('SELECT 1', { kind: 'EventsQuery' })).status).toBe(400);
    expect((await q({ nope: 1 })).status).toBe(400);
    expect(() => parseHogQL("SELECT a FROM events WHERE x = 'unterminated")).toThrow(HogQLError);
  });
});

describe('posthog emulator: auth, scopes, projects', () => {
  it('401 without or with an invalid key', async () => {
    const none = await q('SELECT uuid FROM events LIMIT 1', { key: null });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ type: 'authentication_error', code: 'not_authenticated' });
    const bad = await q('SELECT uuid FROM events LIMIT 1', { key: 'phx_wrong' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ type: 'authentication_error', code: 'authentication_failed', detail: 'Personal API key found in request Authorization header is invalid.', attr: null });
  });

  it('404 for an unknown or non-numeric project, 403 for a missing scope or another project', async () => {
    expect((await q('SELECT uuid FROM events LIMIT 1', { project: 1 })).status).toBe(404);
    const nonNumeric = await q('SELECT uuid FROM events LIMIT 1', { project: 'my-shop' });
    expect(nonNumeric.status).toBe(404);
    expect(nonNumeric.body.code).toBe('not_found');
    const scope = await q('SELECT uuid FROM events LIMIT 1', { key: NO_QUERY_SCOPE_KEY });
    expect(scope.status).toBe(403);
    expect(scope.body.detail).toBe("API key missing required scope 'query:read'");
    const other = await q('SELECT uuid FROM events LIMIT 1', { key: OTHER_PROJECT_KEY });
    expect(other.status).toBe(403);
    expect(other.body.detail).toMatch(/does not have access to the requested project/);
    const empty = await q('SELECT uuid FROM events LIMIT 1', { project: EMPTY_PROJECT_ID });
    expect(empty.status).toBe(200);
    expect(empty.body.results).toEqual([]);
  });

  it('also answers on /api/environments/{id}/query/ and serves the project', async () => {
    const res = await fetch(`${h.url}/api/environments/${h.projectId}/query/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: { kind: 'HogQLQuery', query: 'SELECT uuid FROM events LIMIT 3' } }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { results: unknown[] }).results).toHaveLength(3);
    const p = await fetch(`${h.url}/api/projects/${h.projectId}/`, { headers: { authorization: `Bearer ${DEMO_KEY}` } });
    expect(await p.json()).toMatchObject({ id: h.projectId, name: 'Storefront', timezone: 'UTC' });
  });

  it('serves cohorts over REST with next links and the cohort:read scope', async () => {
    h.knobs.restPageSize = 2;
    try {
      const ids: number[] = [];
      let url: string | null = `${h.url}/api/projects/${h.projectId}/cohorts/`;
      while (url) {
        const res = await fetch(url, { headers: { authorization: `Bearer ${DEMO_KEY}` } });
        expect(res.status).toBe(200);
        const body: any = await res.json();
        ids.push(...body.results.map((c: { id: number }) => c.id));
        url = body.next;
      }
      expect(ids.sort()).toEqual(h.project.cohorts.map((c) => c.id).sort());
    } finally {
      h.knobs.restPageSize = 100;
    }
    const noScope = await fetch(`${h.url}/api/projects/${h.projectId}/cohorts/`, { headers: { authorization: `Bearer ${OTHER_PROJECT_KEY}` } });
    expect(noScope.status).toBe(403);
  });
});

describe('posthog emulator: limits', () => {
  it('throttles HogQL per key with the time to wait in detail and Retry-After', async () => {
    const e = await start({ seed: 2, nowMs: NOW, customers: 3, anonymousVisitors: 1, knobs: { queryLimit: 3, queryWindowMs: 5_000 } });
    try {
      const run = () =>
        fetch(`${e.url}/api/projects/${e.projectId}/query/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ query: { kind: 'HogQLQuery', query: 'SELECT uuid FROM events LIMIT 1' } }),
        });
      for (let i = 0; i < 3; i++) expect((await run()).status).toBe(200);
      const r = await run();
      expect(r.status).toBe(429);
      const body: any = await r.json();
      expect(body.type).toBe('throttled_error');
      expect(body.detail).toMatch(/^Request was throttled\. Expected available in [1-5] seconds\.$/);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Another key has its own budget.
      e.keys.set('phx_second', { scopes: ['*'] });
      const other = await fetch(`${e.url}/api/projects/${e.projectId}/query/`, {
        method: 'POST',
        headers: { authorization: 'Bearer phx_second', 'content-type': 'application/json' },
        body: JSON.stringify({ query: { kind: 'HogQLQuery', query: 'SELECT uuid FROM events LIMIT 1' } }),
      });
      expect(other.status).toBe(200);
      expect(e.queryLog.filter((l) => l.status === 429)).toHaveLength(1);
    } finally {
      await e.close();
    }
  });

  it('times out (512 / 504) when a query matches too many rows', async () => {
    h.knobs.maxMatchedRows = 10;
    try {
      const r = await q('SELECT uuid FROM events ORDER BY timestamp LIMIT 5');
      expect(r.status).toBe(512);
      expect(r.body.detail).toMatch(/reducing its scope/);
      h.knobs.timeoutStatus = 504;
      expect((await q('SELECT uuid FROM events LIMIT 5')).status).toBe(504);
      const small = await q(`SELECT uuid FROM events WHERE timestamp > now() - INTERVAL 1 HOUR LIMIT 5`);
      expect(small.status).toBe(200);
      h.knobs.maxMatchedRows = Infinity;
      h.knobs.maxWindowMs = 6 * 3600_000;
      expect((await q('SELECT uuid FROM events WHERE timestamp > now() - INTERVAL 2 DAY LIMIT 5')).status).toBe(504);
      expect((await q('SELECT uuid FROM events WHERE timestamp > now() - INTERVAL 5 HOUR LIMIT 5')).status).toBe(200);
    } finally {
      h.knobs.maxWindowMs = Infinity;
      h.knobs.maxMatchedRows = Infinity;
      h.knobs.timeoutStatus = 512;
    }
  });

  it('accepts late-arriving events into a mutable store', async () => {
    const before = await q("SELECT uuid FROM events WHERE event = 'late one' LIMIT 10");
    expect(before.body.results).toEqual([]);
    const ev = h.project.addEvent({ event: 'late one', distinct_id: 'x', timestamp: NOW - 3 * 3600_000 });
    const after = await q("SELECT uuid, timestamp, created_at FROM events WHERE event = 'late one' LIMIT 10");
    expect(after.body.results[0][0]).toBe(ev.uuid);
    expect(Date.parse(after.body.results[0][1])).toBe(NOW - 3 * 3600_000);
    h.project.events.splice(h.project.events.indexOf(ev), 1);
  });
});
