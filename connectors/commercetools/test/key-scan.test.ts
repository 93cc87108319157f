import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTable, SluiceError } from '@sluice/core';
import { sourceConfig, start, type Handle } from '@sluice/emulators/commercetools/index';
import { connector, endpointOf, fastClient, listQueries, sortedIds } from './helpers';

/** The connector with `table`'s read replaced by its key scan, so core's readTable drives the key scan. */
const keyScanOf = (table: string) => ({ ...connector, tables: connector.tables.map((t) => (t.name === table ? { ...t, read: t.keyScan!.read } : t)) });

async function scan(h: Handle, table: string, config: Record<string, unknown> = {}) {
  const bodies: { query: string; variables: Record<string, unknown> }[] = [];
  h.faults.push({ match: (req) => (req.path.endsWith('/graphql') && bodies.push(req.json as never), false), kind: { type: 'status', status: 500 } });
  try {
    const r = await readTable(keyScanOf(table), { ...sourceConfig(h), ...config }, table, { mode: 'full_refresh' }, { client: fastClient(h, undefined, config) });
    return { ...r, bodies };
  } finally {
    h.faults.length = 0;
  }
}

describe('commercetools key scans (deletes: reconcile) through the GraphQL API', () => {
  let h: Handle;
  beforeAll(async () => {
    h = await start({ seed: 23, counts: { orders: 1201, carts: 40, customers: 501, payments: 30, 'product-projections': 20, categories: 12, 'discount-codes': 9, inventory: 77 } });
  });
  afterAll(async () => h.close());

  it('every table but product projections declares one; the catalogue names the GraphQL field', () => {
    expect(connector.tables.filter((t) => t.keyScan).map((t) => t.name).sort()).toEqual(['carts', 'categories', 'customers', 'discount_codes', 'inventory', 'orders', 'payments']);
    expect(connector.tables.find((t) => t.name === 'inventory')!.keyScan!.reads.endpoint).toContain('inventoryEntries(');
  });

  it.each(['orders', 'customers', 'inventory', 'discount_codes'])('%s: exactly the live ids, key-set paged by id, each query selecting only id', async (table) => {
    const { records, pages, checkpoints, bodies } = await scan(h, table);
    const live = h.store.all(endpointOf(table)).map((d) => d.id as string).sort();
    expect(sortedIds(records)).toEqual(live);
    expect(records.every((r) => Object.keys(r).join() === 'id')).toBe(true);
    expect(pages).toBe(Math.floor(live.length / 500) + 1);
    expect(checkpoints.at(-1)).toEqual({ done: true });
    expect(bodies).toHaveLength(pages);
    for (const [i, b] of bodies.entries()) {
      expect(b.query).toMatch(/results \{ id \}/);
      expect(b.query).toContain('sort: ["id asc"]');
      expect(b.variables.limit).toBe(500);
      // The first page has no lower bound; each next one starts strictly after the last id read.
      if (i === 0) expect(b.variables.where).toBeUndefined();
      else expect(b.variables.where).toMatch(/^id > "[0-9a-f-]{36}"$/);
    }
  });

  it('moves a fraction of the bytes of the full read', async () => {
    const { records } = await scan(h, 'orders');
    const full = await readTable(connector, sourceConfig(h), 'orders', { mode: 'full_refresh' }, { client: fastClient(h) });
    const keyBytes = JSON.stringify(records).length;
    const fullBytes = JSON.stringify(full.records).length;
    expect(records.length).toBe(full.records.length);
    expect(keyBytes * 20).toBeLessThan(fullBytes);
  });

  it('keyScan: rest scans with the REST read instead (no GraphQL request)', async () => {
    const before = h.requests.length;
    const { records, bodies } = await scan(h, 'customers', { keyScan: 'rest' });
    expect(bodies).toHaveLength(0);
    expect(sortedIds(records)).toEqual(h.store.all('customers').map((d) => d.id as string).sort());
    expect(listQueries(h, before).length).toBeGreaterThan(0);
  });

  it("a missing scope is GraphQL's error, with the scope named; an API without /graphql says to set keyScan: rest", async () => {
    const noOrders = { clientId: 'keys-no-orders', clientSecret: 'keys-no-orders-secret', scopes: ['view_customers'] };
    h.addClient(noOrders);
    await expect(readTable(keyScanOf('orders'), sourceConfig(h, noOrders), 'orders', { mode: 'full_refresh' }, { client: fastClient(h, noOrders) })).rejects.toMatchObject({
      kind: 'permission',
      message: expect.stringMatching(/insufficient_scope.*view_orders.*nothing was deleted/),
    });
    h.faults.push({ match: (req) => req.path.endsWith('/graphql'), kind: { type: 'status', status: 404, body: { statusCode: 404, message: "The Resource with key 'graphql' was not found.", errors: [{ code: 'ResourceNotFound', message: 'not found' }] } } });
    try {
      const err = await readTable(keyScanOf('orders'), sourceConfig(h), 'orders', { mode: 'full_refresh' }, { client: fastClient(h) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SluiceError);
      expect((err as SluiceError).message).toMatch(/no GraphQL API.*keyScan: rest/);
      // A gateway's own 404 page (not the API speaking) says the same, at once (no retries of a 404).
      h.faults.length = 0;
      h.faults.push({ match: (req) => req.path.endsWith('/graphql'), kind: { type: 'html', status: 404 } });
      const before = h.requests.length;
      const page = await readTable(keyScanOf('orders'), sourceConfig(h), 'orders', { mode: 'full_refresh' }, { client: fastClient(h) }).catch((e: unknown) => e);
      expect((page as SluiceError).message).toMatch(/no GraphQL API.*keyScan: rest/);
      expect(h.requests.slice(before).filter((r) => r.path.endsWith('/graphql'))).toHaveLength(1);
    } finally {
      h.faults.length = 0;
    }
  });

  it('an API that ignores the sort fails the scan loudly (order guard): nothing could be deleted on its word', async () => {
    h.ignoreSort = true;
    try {
      await expect(scan(h, 'orders')).rejects.toMatchObject({ kind: 'inconsistent', message: expect.stringContaining('orders (key scan)') });
    } finally {
      h.ignoreSort = false;
    }
  });
});
