import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planTable, readTable, type Connector, type DataRecord } from '@sluice/core';
import { slidingWindowBudget } from '@sluice/core/http/sliding-window';
import { DEMO_KEY, start, sourceConfig, uuidFrom, type PostHogEmulator } from '@sluice/emulators/posthog/index';
import connector from '../src/index';
import { createClient, uuidOrder } from '../src/client';
import { configSchema } from '../src/config';
import { KEY_SCAN_PAGE } from '../src/tables';

/**
 * `deletes: { detect: reconcile }` on persons reads the ids only (TableSpec.keyScan): the HogQL key-set scan
 * core's query engine runs for the table, selecting `id` alone, LIMIT 50 000 (PostHog's most per query), under
 * the key's HogQL budget. Compared here with the table's own full read over the emulator.
 */

const HOUR = 3600_000;
let h: PostHogEmulator;

const freshClient = (raw: Record<string, unknown>, budget = slidingWindowBudget({ limit: 10_000, windowMs: HOUR })) => createClient(configSchema.parse(raw), { budget, minRetryDelayMs: 10 });

/** The connector with persons' read replaced by its key scan, for core's readTable (run as the reconciliation runs it). */
const keyScanning: Connector = { ...connector, tables: connector.tables.map((t) => (t.name === 'persons' ? { ...t, read: t.keyScan!.read } : t)) } as Connector;

async function read(which: 'full' | 'keys', o: { client?: ReturnType<typeof freshClient>; extra?: Record<string, unknown> } = {}) {
  const raw = { ...sourceConfig(h), ...o.extra };
  const from = h.queryLog.length;
  const r = await readTable(which === 'keys' ? keyScanning : connector, raw, 'persons', { mode: 'full_refresh', since: undefined }, { client: o.client ?? freshClient(raw) });
  return { ...r, queries: h.queryLog.slice(from).map((q) => q.query) };
}

const ids = (records: DataRecord[]) => records.map((r) => r.id as string);
const byUuid = (a: string, b: string) => (uuidOrder(a) < uuidOrder(b) ? -1 : 1);

/** Re-sends logged queries and sums the bytes PostHog's answers carry (the JSON bodies). */
async function bytesOf(queries: string[]): Promise<number> {
  let n = 0;
  for (const query of queries) {
    const res = await fetch(`${h.url}/api/projects/${h.projectId}/query/`, { method: 'POST', headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: { kind: 'HogQLQuery', query } }) });
    n += (await res.text()).length;
  }
  return n;
}

beforeAll(async () => {
  h = await start({ seed: 11, nowMs: Date.now() - HOUR, days: 10, customers: 40, knobs: { queryLimit: 100_000 } });
});
afterAll(async () => h?.close());

describe('posthog persons: key scan for deletes: reconcile', () => {
  it('declares a key-only HogQL scan at PostHog\'s largest page, for the catalogue; events, distinct ids and cohorts have none', () => {
    const persons = connector.tables.find((t) => t.name === 'persons')!;
    expect(persons.keyScan!.reads).toEqual({ endpoint: 'POST /api/projects/{config.projectId}/query/: HogQL SELECT id FROM persons ORDER BY id', paging: { kind: 'keyset', pageSize: 50_000, fields: ['id'] } });
    expect(KEY_SCAN_PAGE).toBe(50_000);
    expect(connector.tables.filter((t) => t.keyScan).map((t) => t.name)).toEqual(['persons']);
  });

  it('persons accept deletes: reconcile in incremental mode (full read + merge); full_refresh, the default, needs none', () => {
    const persons = connector.tables.find((t) => t.name === 'persons')!;
    expect(persons.defaultMode).toBe('full_refresh');
    const inc = planTable(persons, { mode: 'incremental', deletes: { detect: 'reconcile', handle: 'soft', maxFraction: 0.5 } });
    expect(inc.problems).toEqual([]);
    expect(inc.plan.deletes).toMatchObject({ detect: 'reconcile', handle: 'soft' });
    expect(planTable(persons, { deletes: { detect: 'reconcile', handle: 'soft', maxFraction: 0.5 } }).problems.map((p) => p.setting)).toEqual(['deletes']);
  });

  it('yields exactly the live ids in the stored format, over several pages, each query selecting only id', async () => {
    // PostHog versions that cap a query below the LIMIT asked (the emulator's MAX_SELECT_RETURNED_ROWS knob): several pages.
    const cap = h.knobs.maxLimit;
    h.knobs.maxLimit = 7;
    try {
      const gone = [...h.project.persons.keys()].sort(byUuid)[3]!;
      expect(h.project.deletePerson(gone)).toBe(true);
      const full = await read('full', { extra: { pageSize: 7 } });
      const keys = await read('keys');
      expect(keys.records.length).toBe(h.project.persons.size);
      expect(keys.records.length).toBeGreaterThan(21);
      // The stored format: the full read's record ids, same values, same order; nothing but the key.
      expect(ids(keys.records)).toEqual(ids(full.records));
      expect(new Set(ids(keys.records))).toEqual(new Set(h.project.persons.keys()));
      expect(ids(keys.records)).not.toContain(gone);
      expect(keys.records.every((r) => Object.keys(r).join() === 'id')).toBe(true);
      expect(keys.checkpoints.at(-1)).toEqual({ done: true });
      expect(keys.pages).toBe(Math.ceil(h.project.persons.size / 7));
      expect(keys.queries.length).toBe(keys.pages);
      for (const [i, q] of keys.queries.entries()) {
        expect(q).toMatch(/^SELECT id FROM persons( WHERE id > toUUID\('[0-9a-f-]{36}'\))? ORDER BY id ASC LIMIT 50000$/);
        expect(q.includes('WHERE')).toBe(i > 0);
      }
      // The full read: persons and their distinct ids, at least two queries a page.
      expect(full.queries.length).toBeGreaterThanOrEqual(2 * full.pages);
    } finally {
      h.knobs.maxLimit = cap;
    }
  });

  it('spends the key\'s HogQL budget: one query a page, admitted by the same governor as the table\'s read', async () => {
    const budget = slidingWindowBudget({ limit: 10_000, windowMs: HOUR });
    const raw = sourceConfig(h);
    const keys = await read('keys', { client: freshClient(raw, budget) });
    expect(budget.used()).toBe(keys.queries.length);
    expect(keys.queries.length).toBe(1);
  });

  it('reads 60 000 persons in two queries of ids, a fraction of the full read\'s queries and bytes', async () => {
    const base = Date.now() * 1000;
    for (let i = 0; i < 60_000; i++) {
      const id = uuidFrom(`bulk-person-${i}`);
      h.project.persons.set(id, { id, createdAtUs: base - i * 1_000_000, properties: { email: `bulk${i}@example.com`, plan: i % 3 ? 'free' : 'pro' }, is_identified: true });
      h.project.pdi.set(`bulk${i}@example.com`, id);
    }
    const total = h.project.persons.size;
    const keys = await read('keys');
    // The full read at the same page size, so that both read every row in as few queries as they can.
    const full = await read('full', { extra: { pageSize: 50_000 } });
    expect(new Set(ids(keys.records))).toEqual(new Set(ids(full.records)));
    expect(keys.records.length).toBe(total);
    expect(keys.queries.length).toBe(2);
    expect(full.queries.length).toBeGreaterThanOrEqual(2 * Math.ceil(total / 50_000));
    const [keyBytes, fullBytes] = [await bytesOf(keys.queries), await bytesOf(full.queries)];
    expect(keyBytes * 4).toBeLessThan(fullBytes);
    console.log(`persons ${total}: key scan ${keys.queries.length} queries (≤ ${KEY_SCAN_PAGE} rows each), ${keyBytes} bytes; full read at pageSize 50000: ${full.queries.length} queries (${full.pages} pages of persons, each with its distinct ids), ${fullBytes} bytes`);
  }, 120_000);
});
