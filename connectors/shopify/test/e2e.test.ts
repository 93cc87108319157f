import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';
import { start, sourceConfig, orderTotals, orderTransactions, gid, type ShopifyEmulator } from '@sluice/emulators/shopify/index';

/**
 * End to end through the real Temporal workflows into the warehouse: a bulk backfill, incremental syncs
 * after updates, a full refresh, a throttled run without THROTTLED answers, check messages for a bad
 * token and a missing scope, and the two analytics views.
 */
let shop: ShopifyEmulator;
let slow: ShopifyEmulator;
let env: SluiceEnv;

const cents = (n: unknown) => Math.round(Number(n) * 100);

function sources(overrides: Record<string, unknown> = {}): SourceYaml[] {
  return [
    {
      name: 'shop',
      type: 'shopify',
      config: { ...sourceConfig(shop), bulk: { mode: 'auto', threshold: 100, pollIntervalMs: 50 }, ...overrides },
      tables: { orders: { mode: 'incremental' }, customers: { mode: 'incremental' }, products: { mode: 'full_refresh' }, inventory_items: { mode: 'incremental' }, transactions: { mode: 'incremental' } },
    },
    {
      name: 'slow',
      type: 'shopify',
      config: { ...sourceConfig(slow), bulk: { mode: 'never' } },
      tables: { customers: { mode: 'full_refresh' }, orders: { mode: 'incremental' } },
    },
  ];
}

beforeAll(async () => {
  shop = await start({ seed: 5, orders: 400, customers: 90, products: 25, restoreRate: 1_000_000, bulkStartDelayMs: 30 });
  // A small bucket with a slow refill: the connector must shape its pages and wait, never be throttled.
  slow = await start({ seed: 6, orders: 40, customers: 300, products: 5, bucketSize: 250, restoreRate: 500 });
  env = await sluiceEnv({ sources: sources() });
});
afterAll(async () => {
  await env?.close();
  await shop?.close();
  await slow?.close();
});

describe('shopify end to end', () => {
  it('first sync: bulk backfill of orders (above the threshold), paging for the small tables', async () => {
    const r = await env.run('sync', 'shop');
    expect(r.code, r.stderr).toBe(0);
    // orders and transactions (400 orders); 90 customers and 25 products are below the threshold of 100
    expect(shop.stats.bulkRuns).toBe(2);
    expect(shop.stats.bulkDownloads).toBe(2);
    const txs = [...shop.store.orders.values()].flatMap((x) => orderTransactions(x));
    const [t] = await env.query<{ n: number; amount: unknown }>(`SELECT count(*) n, sum(amount) amount FROM shop.transactions`);
    expect(t!.n).toBe(txs.length);
    expect(cents(t!.amount)).toBe(txs.reduce((s, x) => s + x.amount, 0));

    const totals = [...shop.store.orders.values()].reduce((s, o) => s + orderTotals(o).total, 0);
    const [o] = await env.query<{ n: number; ids: number; total: unknown; lines: number }>(
      'SELECT count(*) n, count(DISTINCT id) ids, sum("totalPrice") total, sum(json_array_length("lineItems")) lines FROM shop.orders',
    );
    expect(o!.n).toBe(shop.store.orders.size);
    expect(o!.ids).toBe(shop.store.orders.size);
    expect(cents(o!.total)).toBe(totals);
    expect(Number(o!.lines)).toBe([...shop.store.orders.values()].reduce((s, x) => s + x.lineItems.length, 0));

    const big = [...shop.store.orders.values()].find((x) => x.lineItems.length > 10)!;
    const [row] = await env.query<{ legacyResourceId: number; currencyCode: string; customerId: string | null; createdAt: string; price_type: string }>(
      `SELECT "legacyResourceId", "currencyCode", "customerId", "createdAt", typeof("totalPrice") price_type FROM shop.orders WHERE id = '${gid('Order', big.id)}'`,
    );
    expect(row).toMatchObject({ legacyResourceId: big.id, currencyCode: 'USD', customerId: big.customerId ? gid('Customer', big.customerId) : null, price_type: 'DECIMAL(18,2)' });
    expect(Date.parse(row!.createdAt)).toBe(Date.parse(big.createdAt));

    const months = fs.readdirSync(path.join(env.warehouse, 'data/shop/orders/year=2024')).filter((d) => d.startsWith('month=')).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
    expect(months[0]).toBe('month=1');
    expect(months.length).toBeGreaterThanOrEqual(12);

    for (const [table, size] of [['customers', shop.store.customers.size], ['products', shop.store.products.size], ['inventory_items', shop.store.inventoryItems.size]] as const) {
      expect(await env.query(`SELECT count(*) n, count(DISTINCT id) ids FROM shop.${table}`)).toEqual([{ n: size, ids: size }]);
    }
  });

  it('incremental sync after updates: pages (no bulk), merges by id', async () => {
    const maxUpdated = [...shop.store.orders.values()].map((o) => o.updatedAt).sort().at(-1)!;
    shop.store.clock = () => Date.parse(maxUpdated) + 86_400_000;
    const orders = [...shop.store.orders.values()];
    const changed = shop.store.update('orders', orders[10]!.id, { fulfillmentStatus: 'FULFILLED', note: 'shipped' });
    shop.store.update('orders', orders[20]!.id, { financialStatus: 'REFUNDED', refunded: orderTotals(orders[20]!).total });
    const created = shop.store.createOrder({ customerId: [...shop.store.customers.keys()][5]!, variantIds: [...shop.store.variants.keys()].slice(0, 3), quantity: 2 });
    const customer = shop.store.update('customers', [...shop.store.customers.keys()][7]!, { phone: '+15550000000' });
    const bulkBefore = shop.stats.bulkRuns;

    const r = await env.run('sync', 'shop', '--table', 'orders', '--table', 'customers', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(shop.stats.bulkRuns).toBe(bulkBefore);
    const [result] = JSON.parse(r.stdout);
    const ordersResult = result.tables.find((t: { table: string }) => t.table === 'orders');
    // the saved cursor minus the one-minute lookback is the inclusive lower bound
    const overlap = orders.filter((o) => Date.parse(o.updatedAt) >= Date.parse(maxUpdated) - 60_000 && o.id !== changed.id && o.id !== orders[20]!.id).length;
    expect(ordersResult.rowsRead).toBe(3 + overlap);

    expect(await env.query('SELECT count(*) n, count(DISTINCT id) ids FROM shop.orders')).toEqual([{ n: shop.store.orders.size, ids: shop.store.orders.size }]);
    const rows = await env.query<{ id: string; displayFulfillmentStatus: string; note: string; displayFinancialStatus: string; currentTotalPrice: unknown }>(
      `SELECT id, "displayFulfillmentStatus", note, "displayFinancialStatus", "currentTotalPrice" FROM shop.orders WHERE id IN ('${gid('Order', changed.id)}', '${gid('Order', orders[20]!.id)}', '${gid('Order', created.id)}') ORDER BY "legacyResourceId"`,
    );
    expect(rows.map((x) => x.id)).toEqual([gid('Order', changed.id), gid('Order', orders[20]!.id), gid('Order', created.id)]);
    expect(rows[0]).toMatchObject({ displayFulfillmentStatus: 'FULFILLED', note: 'shipped' });
    expect(rows[1]!.displayFinancialStatus).toBe('REFUNDED');
    expect(cents(rows[1]!.currentTotalPrice)).toBe(0);
    expect(await env.query(`SELECT phone FROM shop.customers WHERE id = '${gid('Customer', customer.id)}'`)).toEqual([{ phone: '+15550000000' }]);
  });

  it('views: order_events (one row per order) and customer_identities, joinable by email', async () => {
    const [ev] = await env.query<{ n: number; events: string; revenue: unknown; currencies: number; with_email: number }>(
      `SELECT count(*) n, min(event) events, sum(revenue) revenue, count(DISTINCT currency) currencies, count(email) with_email FROM shop.order_events`,
    );
    expect(ev!.n).toBe(shop.store.orders.size);
    expect(ev!.events).toBe('order completed');
    expect(cents(ev!.revenue)).toBe([...shop.store.orders.values()].reduce((s, o) => s + orderTotals(o).total, 0));
    expect(ev!.currencies).toBe(1);
    expect(ev!.with_email).toBe([...shop.store.orders.values()].filter((o) => o.email).length);
    const ids = await env.query<{ customer_id: string; email: string; phone: string | null }>('SELECT customer_id, email, phone FROM shop.customer_identities ORDER BY customer_id');
    expect(ids).toEqual(
      [...shop.store.customers.values()].sort((a, b) => a.id - b.id).map((c) => ({ customer_id: gid('Customer', c.id), email: c.email, phone: c.phone })).sort((a, b) => a.customer_id.localeCompare(b.customer_id)),
    );
    const [joined] = await env.query<{ n: number }>(`SELECT count(*) n FROM shop.order_events e JOIN shop.customer_identities c USING (email) WHERE e.customer_id = c.customer_id`);
    expect(joined!.n).toBe([...shop.store.orders.values()].filter((o) => o.customerId !== null).length);
  });

  it('--full-refresh re-imports orders through a new bulk operation and drops deleted orders', async () => {
    const victim = [...shop.store.orders.keys()][1]!;
    shop.store.delete('orders', victim);
    const before = shop.stats.bulkRuns;
    const r = await env.run('sync', 'shop', '--table', 'orders', '--full-refresh');
    expect(r.code, r.stderr).toBe(0);
    expect(shop.stats.bulkRuns).toBe(before + 1);
    expect(await env.query(`SELECT count(*) n FROM shop.orders WHERE id = '${gid('Order', victim)}'`)).toEqual([{ n: 0 }]);
    expect(await env.query('SELECT count(*) n FROM shop.orders')).toEqual([{ n: shop.store.orders.size }]);
  });

  it('a throttled store (small bucket, slow refill) syncs without a single THROTTLED answer', async () => {
    const t0 = Date.now();
    const r = await env.run('sync', 'slow');
    expect(r.code, r.stderr).toBe(0);
    expect(slow.stats.throttled).toBe(0);
    expect(await env.query('SELECT count(*) n FROM slow.customers')).toEqual([{ n: 300 }]);
    expect(await env.query('SELECT count(*) n FROM slow.orders')).toEqual([{ n: 40 }]);
    // The bucket was the limit: the run lasted at least as long as the refill of the points spent.
    expect(Date.now() - t0).toBeGreaterThan(((slow.stats.actualCost - 250) / 500) * 1000 * 0.8);
  });

  it('check and sync name a bad token and a missing scope; the data stays intact', async () => {
    expect((await env.run('check', 'shop')).code).toBe(0);
    const before = await env.query('SELECT count(*) n FROM shop.orders');
    await env.writeConfig(sources({ accessToken: 'shpat_revoked_0000' }));
    const bad = await env.run('check', 'shop');
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toContain('invalid access token');
    expect(bad.stdout + bad.stderr).not.toContain('shpat_revoked_0000');
    const sync = await env.run('sync', 'shop', '--table', 'orders');
    expect(sync.code).toBe(1);
    expect(sync.stderr).toContain('invalid access token');
    expect(await env.query('SELECT count(*) n FROM shop.orders')).toEqual(before);

    shop.tokens.set('shpat_no_orders_1111', new Set(['read_customers', 'read_products', 'read_inventory', 'read_locations']));
    await env.writeConfig(sources({ accessToken: 'shpat_no_orders_1111' }));
    const scope = await env.run('check', 'shop');
    expect(scope.code).toBe(1);
    expect(scope.stdout + scope.stderr).toContain('read_orders');
    const sync2 = await env.run('sync', 'shop', '--table', 'orders');
    expect(sync2.code).toBe(1);
    expect(sync2.stderr).toContain('read_orders');
    await env.writeConfig(sources());
  });
});
