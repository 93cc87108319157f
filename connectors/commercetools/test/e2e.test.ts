import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT, start, type Handle } from '@sluice/emulators/commercetools/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';
import { expectedDocs } from './helpers';
import { NO_PAYMENTS, TABLES, ctE2e, iso } from './e2e-setup';

/**
 * The commercetools connector through the real workflows: Temporal dev server, worker, extract and
 * commit activities, Parquet + DuckDB. Every scenario ends with the warehouse equal to the emulator.
 */

describe('commercetools end to end', () => {
  let h: Handle;
  let env: SluiceEnv;
  const { source, allTables, expectWarehouseEqualsEmulator } = ctE2e('ct_e2e', () => ({ h, env }));

  beforeAll(async () => {
    h = await start({ seed: 2024, counts: { orders: 1400, carts: 300, customers: 400, payments: 600, 'product-projections': 120, categories: 25, 'discount-codes': 30, inventory: 200 }, clients: [DEMO_CLIENT, NO_PAYMENTS] });
    env = await sluiceEnv({ sources: source(allTables('incremental')) });
  });
  afterAll(async () => {
    await env?.close();
    await h?.close();
  });

  it('first sync imports all eight tables; documents, money and timestamps land intact', async () => {
    const r = await env.run('sync', 'ct_e2e', '--json');
    expect(r.code, r.stderr).toBe(0);
    const [result] = JSON.parse(r.stdout);
    expect(result.tables.map((t: any) => t.outcome)).toEqual(TABLES.map(() => 'succeeded'));
    await expectWarehouseEqualsEmulator();
    // Nested documents stay nested; money in integer cents.
    const sample = expectedDocs(h, 'orders').slice(0, 5);
    const rows = await env.query<Record<string, unknown>>(`SELECT id, "totalPrice", "lineItems", "shippingAddress", "orderNumber" FROM ct_e2e.orders WHERE id IN (${sample.map((d) => `'${d.id}'`).join(', ')}) ORDER BY id`);
    const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
    expect(rows.map((r) => ({ id: r.id, totalPrice: parse(r.totalPrice), lineItems: parse(r.lineItems), shippingAddress: parse(r.shippingAddress), orderNumber: r.orderNumber }))).toEqual(
      sample.map((d) => ({ id: d.id, totalPrice: d.totalPrice, lineItems: d.lineItems, shippingAddress: d.shippingAddress, orderNumber: d.orderNumber })),
    );
    // Neither the client secret nor any access token reaches Temporal (inputs, results, heartbeats).
    const history = await env.client.workflow.getHandle('sluice:ct_e2e:orders').fetchHistory();
    const text = JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
    expect(text).toContain('ct_e2e');
    expect(text).not.toContain(DEMO_CLIENT.clientSecret);
    for (const token of h.tokens.keys()) expect(text).not.toContain(token);
    const [customer] = await env.query<Record<string, unknown>>(`SELECT * FROM ct_e2e.customers LIMIT 1`);
    expect(Object.keys(customer!)).toContain('email');
    expect(Object.keys(customer!)).not.toContain('password');
  });

  it('incremental: inserts, updates, updates during the sync and >10,000 records with one lastModifiedAt', async () => {
    const orders = expectedDocs(h, 'orders');
    const byLm = [...orders].sort((a, b) => ((a.lastModifiedAt as string) < (b.lastModifiedAt as string) ? -1 : 1));
    // A bulk import: 10,250 inventory entries with one lastModifiedAt (inventory documents are small,
    // which keeps this test quick; the connector tests do the same with 12,345 orders). Ten minutes
    // back, so later syncs' 60 s lookback does not re-read the whole import.
    const bulkAt = new Date(Date.now() - 600_000).toISOString();
    const bulk = h.store.insertMany('inventory', 10_250, { at: bulkAt });
    const sortedBulk = [...bulk].sort();
    h.store.update('orders', orders[17]!.id as string, { orderState: 'Cancelled' });
    h.store.insert('payments', { key: 'e2e-new-payment' });
    h.store.update('customers', expectedDocs(h, 'customers')[3]!.id as string, { firstName: 'Renamed' });
    // While the sync pages: modify records already read and records not yet read, insert one.
    let inventoryPages = 0;
    let orderPages = 0;
    h.afterList = (e) => {
      if (e.endpoint === 'inventory' && ++inventoryPages === 3) {
        h.store.update('inventory', sortedBulk[10]!, { quantityOnStock: 4242 });
        h.store.update('inventory', sortedBulk[9_000]!, { quantityOnStock: 9000 });
        h.store.insert('inventory', { sku: 'DURING-SYNC' });
      }
      if (e.endpoint === 'orders' && ++orderPages === 1) {
        h.store.update('orders', byLm[5]!.id as string, { orderState: 'Confirmed' });
        h.store.update('orders', byLm[byLm.length - 5]!.id as string, { orderState: 'Complete' });
      }
    };
    try {
      const r = await env.run('sync', 'ct_e2e', '--json');
      expect(r.code, r.stderr).toBe(0);
      const [result] = JSON.parse(r.stdout);
      expect(result.tables.find((t: any) => t.table === 'inventory').rowsRead).toBeGreaterThanOrEqual(10_250);
    } finally {
      h.afterList = undefined;
    }
    expect(inventoryPages).toBeGreaterThan(20);
    expect(orderPages).toBe(1);
    await expectWarehouseEqualsEmulator(TABLES.filter((t) => t !== 'orders'));
    // The orders scan had a single page; the two orders modified after it are for the next sync.
    const stale = await env.query<{ version: number }>(`SELECT version FROM ct_e2e.orders WHERE id = '${byLm[5]!.id}'`);
    expect(stale.map((x) => Number(x.version))).toEqual([(h.store.get('orders', byLm[5]!.id as string)!.version as number) - 1]);
    const next = await env.run('sync', 'ct_e2e');
    expect(next.code, next.stderr).toBe(0);
    await expectWarehouseEqualsEmulator();
    const [row] = await env.query<{ n: number }>(`SELECT count(*) n FROM ct_e2e.inventory WHERE "lastModifiedAt" = TIMESTAMPTZ '${bulkAt}'`);
    const atBulk = h.store.all('inventory').filter((d) => d.lastModifiedAt === bulkAt).length;
    expect(atBulk).toBe(10_248);
    expect(Number(row!.n)).toBe(atBulk);
    const stock = await env.query<{ quantityOnStock: number }>(`SELECT "quantityOnStock" FROM ct_e2e.inventory WHERE id = '${sortedBulk[10]}'`);
    expect(stock.map((x) => Number(x.quantityOnStock))).toEqual([4242]);
    const states = await env.query<{ orderState: string }>(`SELECT "orderState" FROM ct_e2e.orders WHERE id = '${byLm[5]!.id}'`);
    expect(states).toEqual([{ orderState: 'Confirmed' }]);
  });

  it('full refresh after deletions drops deleted records', async () => {
    const victims = expectedDocs(h, 'orders').slice(0, 25).map((d) => d.id as string);
    for (const id of victims) h.store.remove('orders', id);
    for (const d of expectedDocs(h, 'inventory').slice(0, 300)) h.store.remove('inventory', d.id as string);
    h.store.remove('categories', expectedDocs(h, 'categories')[0]!.id as string);
    const r = await env.run('sync', 'ct_e2e', '--full-refresh');
    expect(r.code, r.stderr).toBe(0);
    await expectWarehouseEqualsEmulator();
  });

  it('append_only appends new versions and never duplicates an unchanged row', async () => {
    await env.writeConfig(source({ payments: { mode: 'append_only' } }));
    const first = await env.run('sync', 'ct_e2e', '--table', 'payments', '--full-refresh');
    expect(first.code, first.stderr).toBe(0);
    const docs = expectedDocs(h, 'payments');
    const changed = h.store.update('payments', docs[1]!.id as string, { paymentStatus: { interfaceCode: 'Refunded', interfaceText: 'refunded' } });
    const added = h.store.insert('payments');
    const r = await env.run('sync', 'ct_e2e', '--table', 'payments');
    expect(r.code, r.stderr).toBe(0);
    const rows = await env.query<{ id: string; version: number; lastModifiedAt: string }>(`SELECT id, version, "lastModifiedAt" FROM ct_e2e.payments ORDER BY id, version`);
    const expected = [...docs.map((d) => [d.id, d.version, d.lastModifiedAt]), [changed.id, changed.version, changed.lastModifiedAt], [added.id, added.version, added.lastModifiedAt]].sort((a, b) =>
      a[0] === b[0] ? (a[1] as number) - (b[1] as number) : (a[0] as string) < (b[0] as string) ? -1 : 1,
    );
    expect(rows.map((x) => [x.id, Number(x.version), iso(x.lastModifiedAt)])).toEqual(expected);
  });

});
