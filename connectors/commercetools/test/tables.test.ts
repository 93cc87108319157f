import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Handle } from '@sluice/emulators/commercetools/index';
import { byLmId, connector, endpointOf, expectedDocs, fastClient, ids, listQueries, read, sortedIds } from './helpers';

describe('commercetools tables against the emulator', () => {
  let h: Handle;
  beforeAll(async () => {
    h = await start({ seed: 11, counts: { orders: 1700, carts: 520, customers: 501, payments: 300, 'product-projections': 120, categories: 30, 'discount-codes': 40, inventory: 499 } });
  });
  afterAll(async () => h.close());

  it('declares eight tables: pk id, partitioned by createdAt, cursor lastModifiedAt, all three modes', () => {
    expect(connector.tables.map((t) => t.name).sort()).toEqual(['carts', 'categories', 'customers', 'discount_codes', 'inventory', 'orders', 'payments', 'product_projections']);
    for (const t of connector.tables) {
      expect(t.primaryKey).toEqual(['id']);
      expect(t.partitionBy).toBe('createdAt');
      expect(t.cursor?.default).toBe('lastModifiedAt');
      expect([...t.modes].sort()).toEqual(['append_only', 'full_refresh', 'incremental']);
      expect(t.requires).toMatch(/^view_/);
    }
    expect(connector.secrets).toContain('clientSecret');
  });

  it.each(['orders', 'carts', 'customers', 'payments', 'product_projections', 'categories', 'discount_codes', 'inventory'])(
    '%s: a full read equals the emulator, in (lastModifiedAt, id) order',
    async (table) => {
      const before = h.requests.length;
      const { records, pages, checkpoints } = await read(h, table, { mode: 'full_refresh' });
      const expected = expectedDocs(h, table);
      expect(records.length).toBe(expected.length);
      expect([...records].sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1))).toEqual(expected);
      expect(ids(records)).toEqual(ids([...records].sort(byLmId)));
      expect(pages).toBe(Math.floor(expected.length / 500) + 1);
      expect(checkpoints.at(-1)).toEqual({ done: true });
      for (const [i, q] of listQueries(h, before).entries()) {
        expect(q.get('limit')).toBe('500');
        // The count is asked once, on a full read's first page, to decide on slicing; never again (it is costly).
        expect(q.get('withTotal')).toBe(i === 0 ? 'true' : 'false');
        expect(q.getAll('sort')).toEqual(['lastModifiedAt asc', 'id asc']);
        expect(q.has('offset')).toBe(false);
      }
      for (const r of records) expect(r.createdAt).toMatch(/Z$/);
      if (table === 'customers') expect(records.some((r) => 'password' in r)).toBe(false);
    },
  );

  it('incremental: reads exactly the records with lastModifiedAt >= since (inclusive), ascending', async () => {
    const all = expectedDocs(h, 'orders').sort(byLmId);
    const pivot = all[Math.floor(all.length * 0.7)]!;
    const since = pivot.lastModifiedAt as string;
    const before = h.requests.length;
    const { records } = await read(h, 'orders', { mode: 'incremental', since });
    const expected = all.filter((d) => (d.lastModifiedAt as string) >= since);
    expect(ids(records)).toEqual(ids(expected));
    expect(ids(records)).toContain(pivot.id);
    expect(listQueries(h, before)[0]!.getAll('where')).toEqual([`lastModifiedAt >= "${since}"`]);
    // A since without milliseconds or with microseconds is normalised (floored) to the API's form.
    const coarse = await read(h, 'orders', { mode: 'append_only', since: `${since.slice(0, 23)}999Z` });
    expect(ids(coarse.records)).toEqual(ids(expected));
  });

  it('incremental after inserts, updates and deletions picks up exactly the changes', async () => {
    const first = await read(h, 'payments', { mode: 'incremental' });
    const cursor = first.records.map((r) => r.lastModifiedAt as string).sort().at(-1)!;
    const inserted = h.store.insert('payments', { key: 'pay-new' });
    const victim = first.records[5]!.id as string;
    const updated = h.store.update('payments', victim, { paymentStatus: { interfaceCode: 'Refunded' } });
    h.store.remove('payments', first.records[6]!.id as string);
    const next = await read(h, 'payments', { mode: 'incremental', since: cursor });
    const got = new Map(next.records.map((r) => [r.id as string, r]));
    expect(got.get(inserted.id as string)).toEqual(inserted);
    expect(got.get(victim)).toEqual(updated);
    // Only the boundary record(s) at the old cursor come again; nothing older.
    for (const r of next.records) expect((r.lastModifiedAt as string) >= cursor).toBe(true);
  });

  it('reads more than 10,000 records sharing one lastModifiedAt (bulk import), full and incremental, without offsets', async () => {
    const at = '2025-08-01T12:00:00.000Z';
    const bulk = h.store.insertMany('orders', 12_345, { at });
    // The key-set scan itself (a catch-up this old is sliced by default; slices only add a request each).
    process.env.SLUICE_SLICES = 'off';
    try {
      const before = h.requests.length;
      const { records } = await read(h, 'orders', { mode: 'incremental', since: at });
      expect(records.length).toBe(12_345);
      expect(ids(records)).toEqual([...bulk].sort());
      expect(new Set(ids(records)).size).toBe(12_345);
      const qs = listQueries(h, before);
      expect(qs.length).toBe(25);
      expect(qs.every((q) => !q.has('offset'))).toBe(true);
      expect(qs[1]!.getAll('where')[1]).toMatch(/^lastModifiedAt > "2025-08-01T12:00:00.000Z" or \(lastModifiedAt = "2025-08-01T12:00:00.000Z" and id > "[0-9a-f-]{36}"\)$/);
      delete process.env.SLUICE_SLICES;
      // Sliced (the default for a full read this large): every record once, the ties all in one slice.
      const full = await read(h, 'orders', { mode: 'full_refresh' });
      expect(sortedIds(full.records)).toEqual(h.store.ids_('orders'));
      expect(new Set(ids(full.records)).size).toBe(full.records.length);
    } finally {
      delete process.env.SLUICE_SLICES;
      for (const id of bulk) h.store.remove('orders', id);
    }
  });

  it('a record modified during the scan neither pushes another record out nor is lost', async () => {
    const snapshot = h.store.ids_('orders');
    const order = expectedDocs(h, 'orders').sort(byLmId);
    const early = order[3]!.id as string; // read on page 1, then modified
    const late = order[order.length - 10]!.id as string; // not read yet when modified
    let pagesServed = 0;
    let insertedId = '';
    h.afterList = (e) => {
      if (e.endpoint !== 'orders' || ++pagesServed !== 1) return;
      h.store.update('orders', early, { orderState: 'Cancelled' });
      h.store.update('orders', late, { orderState: 'Complete' });
      insertedId = h.store.insert('orders').id as string;
      h.store.remove('orders', order[900]!.id as string);
    };
    try {
      const { records } = await read(h, 'orders', { mode: 'full_refresh' });
      const got = ids(records);
      // Every record that existed before the scan (and was not deleted) is read.
      for (const id of snapshot) if (id !== order[900]!.id) expect(got).toContain(id);
      expect(got).toContain(insertedId);
      // The modified records moved to the end: the early one is read twice (old, then new), the late one once, new.
      expect(got.filter((id) => id === early)).toHaveLength(2);
      expect(got.filter((id) => id === late)).toHaveLength(1);
      const lastEarly = records.filter((r) => r.id === early).at(-1)!;
      expect(lastEarly.orderState).toBe('Cancelled');
      expect(records.find((r) => r.id === late)!.orderState).toBe('Complete');
      // And the next incremental sync from the scan's max cursor sees the newest versions again.
      const cursor = records.map((r) => r.lastModifiedAt as string).sort().at(-1)!;
      const next = await read(h, 'orders', { mode: 'incremental', since: cursor });
      for (const r of next.records) expect((r.lastModifiedAt as string) >= cursor).toBe(true);
    } finally {
      h.afterList = undefined;
    }
  });

  it('resumes after a checkpoint without losing or repeating records', async () => {
    const firstTwo = await read(h, 'orders', { mode: 'full_refresh' }, { maxPages: 2 });
    expect(firstTwo.records).toHaveLength(1000);
    const cp = firstTwo.checkpoints.at(-1)!;
    expect(JSON.stringify(cp)).not.toContain(h.clients.values().next().value!.clientSecret);
    const rest = await read(h, 'orders', { mode: 'full_refresh', checkpoint: cp });
    const all = [...ids(firstTwo.records), ...ids(rest.records)];
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual(h.store.ids_('orders'));
    const done = await read(h, 'orders', { mode: 'full_refresh', checkpoint: { done: true } });
    expect(done.records).toHaveLength(0);
  });

  it('shares one token across the tables of a source', async () => {
    const client = fastClient(h);
    await read(h, 'orders', {}, { client });
    await read(h, 'categories', {}, { client });
    await read(h, 'inventory', {}, { client });
    expect(client.auth.tokenRequests()).toBe(1);
    expect(endpointOf('product_projections')).toBe('product-projections');
  });
});
