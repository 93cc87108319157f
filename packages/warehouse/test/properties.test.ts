import { describe, it, expect } from 'vitest';
import type { DataRecord, SyncMode } from '@sluice/core';
import { compareIso } from '@sluice/core';
import { dataFiles, misplacedRows, stateOf, syncPages, tableRows, tempWarehouse } from './helpers';

/**
 * Property-style tests: random histories of inserts and updates (many records sharing one cursor
 * value, updates landing on page boundaries, records across many months), synced after every step
 * the way a connector would read them (cursor >= saved, ascending, in pages). After each sync the
 * warehouse must equal the source of truth for the mode.
 */
class Vendor {
  rows = new Map<string, DataRecord & { id: string; createdAt: string; updatedAt: string; v: number }>();
  private clock = Date.UTC(2023, 0, 1);
  private n = 0;
  constructor(private readonly rand: () => number) {}
  /** Several changes often share one timestamp (bulk imports, same-millisecond writes). */
  private tick(): string {
    if (this.rand() < 0.6) this.clock += Math.floor(this.rand() * 3) * 1000;
    return new Date(this.clock).toISOString();
  }
  insert() {
    const id = `r${String(++this.n).padStart(5, '0')}`;
    const at = this.tick();
    // creation months spread over two years
    const created = new Date(Date.UTC(2023, Math.floor(this.rand() * 24), 1 + Math.floor(this.rand() * 27))).toISOString();
    this.rows.set(id, { id, createdAt: this.rand() < 0.03 ? (null as unknown as string) : created, updatedAt: at, v: 0, amount: Math.floor(this.rand() * 10000), tags: ['a'] });
  }
  update() {
    const ids = [...this.rows.keys()];
    if (!ids.length) return;
    const now = new Date(this.clock).toISOString();
    // A second write within the same instant as the newest one (same cursor value, new content): the
    // case the inclusive lower bound exists for.
    const sameInstant = this.rand() < 0.25 ? [...this.rows.values()].find((x) => x.updatedAt === now) : undefined;
    const r = sameInstant ?? this.rows.get(ids[Math.floor(this.rand() * ids.length)]!)!;
    r.v++;
    r.updatedAt = sameInstant ? now : this.tick();
    r.amount = Math.floor(this.rand() * 10000);
  }
  /** What a connector reads: cursor >= since, ascending by (cursor, id), in pages of `size`. */
  read(since: string | undefined, size: number): DataRecord[][] {
    const sorted = [...this.rows.values()]
      .filter((r) => since === undefined || compareIso(r.updatedAt, since) >= 0)
      .sort((a, b) => compareIso(a.updatedAt, b.updatedAt) || a.id.localeCompare(b.id))
      .map((r) => structuredClone(r));
    const pages: DataRecord[][] = [];
    for (let i = 0; i < sorted.length; i += size) pages.push(sorted.slice(i, i + size));
    return pages;
  }
}

function mulberry(seed: number) {
  return () => {
    let t = (seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };

async function history(mode: SyncMode, seed: number, steps: number) {
  const rand = mulberry(seed);
  const vendor = new Vendor(rand);
  const wh = tempWarehouse();
  const seen = new Set<string>(); // append-only truth: every (id, updatedAt) version fetched
  for (let step = 0; step < steps; step++) {
    const inserts = step === 0 ? 120 : Math.floor(rand() * 25);
    const updates = step === 0 ? 0 : Math.floor(rand() * 30);
    for (let i = 0; i < inserts; i++) vendor.insert();
    for (let i = 0; i < updates; i++) vendor.update();
    const since = mode === 'full_refresh' ? undefined : (await stateOf(wh)).cursor;
    const pageSize = [1, 7, 10, 50][Math.floor(rand() * 4)]!;
    const pages = vendor.read(since, pageSize);
    for (const p of pages) for (const r of p) seen.add(`${r.id}@${r.updatedAt}`);
    await syncPages(wh, { shape, mode, cursorField: mode === 'full_refresh' ? undefined : 'updatedAt', pages, since });

    const stored = await tableRows(wh, 'SELECT id, updatedAt, v, amount, createdAt FROM src.orders');
    if (mode === 'append_only') {
      const versions = stored.map((r) => `${r.id}@${r.updatedAt}`);
      expect(new Set(versions).size, 'no (key, cursor) appended twice').toBe(versions.length);
      expect(new Set(versions)).toEqual(seen);
    } else {
      const truth = [...vendor.rows.values()].map((r) => ({ id: r.id, updatedAt: r.updatedAt, v: r.v, amount: r.amount, createdAt: r.createdAt })).sort((a, b) => a.id.localeCompare(b.id));
      const got = stored.map((r): Record<string, unknown> => ({ ...r, updatedAt: normalise(r.updatedAt), createdAt: r.createdAt === null ? null : normalise(r.createdAt) })).sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
      expect(got, `step ${step} (page size ${pageSize})`).toEqual(truth.map((t) => ({ ...t, updatedAt: normalise(t.updatedAt), createdAt: t.createdAt === null ? null : normalise(t.createdAt) })));
    }
    if (mode !== 'full_refresh') {
      const max = [...vendor.rows.values()].map((r) => r.updatedAt).sort(compareIso).at(-1);
      expect(normalise((await stateOf(wh)).cursor!)).toBe(normalise(max!));
    }
    // every row is in the partition of its UTC month
    expect(await misplacedRows(wh)).toBe(0);
  }
}

const normalise = (iso: unknown) => new Date(String(iso)).toISOString();

describe('warehouse equals the source of truth after every sync', () => {
  it.each([1, 2, 3])('incremental, random history (seed %i)', (seed) => history('incremental', seed, 8), 120_000);
  it.each([4, 5])('append-only, random history (seed %i)', (seed) => history('append_only', seed, 6), 120_000);
  it('full refresh, random history', () => history('full_refresh', 6, 5), 120_000);

  it('2,500 records sharing one cursor value across page boundaries are all kept, once', async () => {
    const wh = tempWarehouse();
    const at = '2024-05-05T05:05:05.000Z';
    const all = Array.from({ length: 2500 }, (_, i) => ({ id: `k${i}`, createdAt: at, updatedAt: at }));
    const pages = Array.from({ length: 5 }, (_, i) => all.slice(i * 500, (i + 1) * 500));
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages });
    // the next sync re-reads all of them (inclusive bound) and must not duplicate any
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages, since: at });
    expect(await tableRows(wh, 'SELECT count(*) AS n, count(DISTINCT id) AS d FROM src.orders')).toEqual([{ n: 2500, d: 2500 }]);
  });

  it('a record whose creation month changed is moved, not duplicated', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'x', createdAt: '2024-01-10T00:00:00Z', updatedAt: '2024-01-10T00:00:00Z' }, { id: 'y', createdAt: '2024-01-11T00:00:00Z', updatedAt: '2024-01-11T00:00:00Z' }]] });
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'x', createdAt: '2024-03-10T00:00:00Z', updatedAt: '2024-03-12T00:00:00Z' }]] });
    const rows = await tableRows(wh, `SELECT id, strftime(createdAt, '%Y-%m') AS m FROM src.orders ORDER BY id`);
    expect(rows).toEqual([{ id: 'x', m: '2024-03' }, { id: 'y', m: '2024-01' }]);
    // x's old version in January is deleted, not left behind
    expect(await tableRows(wh, `SELECT count(*) AS n FROM src.orders WHERE id = 'x'`)).toEqual([{ n: 1 }]);
    expect((await dataFiles(wh)).map((f) => f.split('/').slice(0, 2).join('/'))).toEqual(expect.arrayContaining(['year=2024/month=1', 'year=2024/month=3']));
  });

  it('a stale version (cursor older than the stored one) never overwrites a newer one', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'x', createdAt: '2024-01-10T00:00:00Z', updatedAt: '2024-02-01T00:00:00Z', v: 2 }]] });
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'x', createdAt: '2024-01-10T00:00:00Z', updatedAt: '2024-01-15T00:00:00Z', v: 1 }]] });
    expect(await tableRows(wh, 'SELECT v FROM src.orders')).toEqual([{ v: 2 }]);
  });

  it('composite primary keys merge on the whole key', async () => {
    const wh = tempWarehouse();
    const cshape = { primaryKey: ['shop', 'id'] as const, partitionBy: 'createdAt' };
    const r = (shop: string, id: number, u: string, v: number) => ({ shop, id, createdAt: '2024-01-01T00:00:00Z', updatedAt: u, v });
    await syncPages(wh, { shape: cshape, mode: 'incremental', cursorField: 'updatedAt', pages: [[r('a', 1, '2024-01-01T00:00:00Z', 1), r('b', 1, '2024-01-01T00:00:00Z', 1)]] });
    await syncPages(wh, { shape: cshape, mode: 'incremental', cursorField: 'updatedAt', pages: [[r('a', 1, '2024-01-02T00:00:00Z', 2)]] });
    expect(await tableRows(wh, 'SELECT shop, id, v FROM src.orders ORDER BY shop')).toEqual([{ shop: 'a', id: 1, v: 2 }, { shop: 'b', id: 1, v: 1 }]);
  });
});
