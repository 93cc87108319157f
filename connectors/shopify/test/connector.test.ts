import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTable, SluiceError, memoryLogger } from '@sluice/core';
import { start, sourceConfig, orderTotals, orderTransactions, money, gid, type ShopifyEmulator } from '@sluice/emulators/shopify/index';
import connector from '../src/index';
import { normaliseShop, configSchema } from '../src/config';
import { createClient, type ShopifyClient } from '../src/client';

const FAST = { restoreRate: 1_000_000, bucketSize: 1000 };

function cfg(h: ShopifyEmulator, extra: Record<string, unknown> = {}) {
  return { ...sourceConfig(h), bulk: { mode: 'never', pollIntervalMs: 20 }, ...extra };
}

async function check(config: Record<string, unknown>) {
  const parsed = connector.config.parse(config);
  const log = memoryLogger();
  const client = connector.connect(parsed, { source: 't', log, report: () => undefined });
  return connector.check({ config: parsed, client, log, signal: new AbortController().signal });
}

describe('config', () => {
  it('normalises the shop', () => {
    expect(normaliseShop('my-store')).toBe('my-store.myshopify.com');
    expect(normaliseShop('My-Store.myshopify.com')).toBe('my-store.myshopify.com');
    expect(normaliseShop('https://my-store.myshopify.com/admin/orders')).toBe('my-store.myshopify.com');
    expect(normaliseShop('https://admin.shopify.com/store/my-store/orders')).toBe('my-store.myshopify.com');
    expect(normaliseShop('shop.example.com')).toBeUndefined();
    expect(configSchema.parse({ shop: 'x', accessToken: 't' }).apiVersion).toBe('2025-01');
    expect(() => configSchema.parse({ shop: 'www.example.com', accessToken: 't' })).toThrow(/not a Shopify store/);
  });
});

describe('shopify connector against the emulator', () => {
  let h: ShopifyEmulator;
  beforeAll(async () => {
    h = await start({ seed: 7, orders: 120, customers: 50, products: 15, ...FAST, bulkStartDelayMs: 20 });
  });
  afterAll(async () => h.close());

  it('reads every order with complete line items and money as decimals', async () => {
    const { records, pages } = await readTable(connector, cfg(h, { pageSize: 50 }), 'orders', { mode: 'full_refresh' });
    expect(pages).toBeGreaterThan(1);
    expect(records.map((r) => r['id']).sort()).toEqual([...h.store.orders.keys()].map((id) => gid('Order', id)).sort());
    for (const r of records) {
      const o = h.store.orders.get(Number(r['legacyResourceId']))!;
      const t = orderTotals(o);
      expect(r['totalPrice']).toBe(Number(money(t.total)));
      expect(r['currencyCode']).toBe('USD');
      expect(r['customerId']).toBe(o.customerId ? gid('Customer', o.customerId) : null);
      expect((r['lineItems'] as unknown[]).length).toBe(o.lineItems.length);
      expect(String(r['createdAt'])).toMatch(/Z$/);
    }
    // some orders have more line items than the first nested page (5): they were completed by follow-ups
    expect([...h.store.orders.values()].some((o) => o.lineItems.length > 5)).toBe(true);
  });

  it('incremental: updatedAt ascending, then only what changed since the cursor', async () => {
    const first = await readTable(connector, cfg(h), 'orders', { mode: 'incremental' });
    const ups = first.records.map((r) => String(r['updatedAt']));
    expect(ups).toEqual([...ups].sort());
    const cursor = ups[ups.length - 1]!;
    h.store.clock = () => Date.parse(cursor) + 3_600_000;
    const target = [...h.store.orders.values()][3]!;
    h.store.update('orders', target.id, { financialStatus: 'REFUNDED', refunded: orderTotals(target).total });
    const created = h.store.createOrder({ customerId: [...h.store.customers.keys()][0]!, variantIds: [[...h.store.variants.keys()][0]!] });
    const atCursor = [...h.store.orders.values()].filter((o) => o.updatedAt === cursor.replace('.000Z', 'Z')).map((o) => gid('Order', o.id));
    const second = await readTable(connector, cfg(h), 'orders', { mode: 'incremental', since: cursor });
    expect(second.records.map((r) => r['id']).sort()).toEqual([gid('Order', target.id), gid('Order', created.id), ...atCursor].sort());
    const refunded = second.records.find((r) => r['id'] === gid('Order', target.id))!;
    expect(refunded['displayFinancialStatus']).toBe('REFUNDED');
    expect(refunded['currentTotalPrice']).toBe(0);
  });

  it('bulk backfill: one operation, JSONL children reassembled by __parentId, same rows as paging', async () => {
    const runs = h.stats.bulkRuns;
    const bulk = await readTable(connector, cfg(h, { bulk: { mode: 'auto', threshold: 10, pollIntervalMs: 20 } }), 'orders', { mode: 'full_refresh' });
    expect(h.stats.bulkRuns).toBe(runs + 1);
    expect(h.stats.bulkDownloads).toBeGreaterThan(0);
    const paged = await readTable(connector, cfg(h), 'orders', { mode: 'full_refresh' });
    const byId = (rs: Record<string, unknown>[]) => [...rs].sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
    expect(byId(bulk.records)).toEqual(byId(paged.records));
    const products = await readTable(connector, cfg(h, { bulk: { mode: 'always', pollIntervalMs: 20 } }), 'products', { mode: 'full_refresh' });
    expect(products.records).toHaveLength(h.store.products.size);
    for (const p of products.records) {
      const rec = h.store.products.get(Number(p['legacyResourceId']))!;
      expect((p['variants'] as { id: string }[]).map((v) => v.id)).toEqual(rec.variantIds.map((id) => gid('ProductVariant', id)));
    }
  });

  it('auto picks bulk when paging would take long at the restore rate, even below the record threshold', async () => {
    h.bucket.reset(1000, 100); // a Standard plan store: 100 points per second
    const runs = h.stats.bulkRuns;
    const config = cfg(h, { bulk: { mode: 'auto', threshold: 100_000, minPagingSeconds: 30, pollIntervalMs: 20 } });
    const t0 = Date.now();
    const { records } = await readTable(connector, config, 'orders', { mode: 'full_refresh' });
    expect(records).toHaveLength(h.store.orders.size);
    expect(h.stats.bulkRuns).toBe(runs + 1); // ~120 orders × 54 points / 100 per s ≈ 65 s of paging
    expect(Date.now() - t0).toBeLessThan(10_000);
    const small = await readTable(connector, cfg(h, { bulk: { mode: 'auto', threshold: 100_000, minPagingSeconds: 30, pollIntervalMs: 20 } }), 'products', { mode: 'full_refresh' });
    expect(small.records).toHaveLength(h.store.products.size);
    expect(h.stats.bulkRuns).toBe(runs + 1); // 15 products page in well under 30 s
    h.bucket.reset(FAST.bucketSize, FAST.restoreRate);
  });

  it('bulk backfill resumes from its checkpoint without re-running the operation', async () => {
    const config = cfg(h, { bulk: { mode: 'always', pollIntervalMs: 20 } });
    const all = await readTable(connector, config, 'customers', { mode: 'full_refresh' });
    const cp = all.checkpoints.find((c) => (c as { bulk?: unknown }).bulk) as { bulk: { id: string } };
    const runs = h.stats.bulkRuns;
    const resumed = await readTable(connector, config, 'customers', { mode: 'full_refresh', checkpoint: { bulk: { id: cp.bulk.id, skip: 20 } } });
    expect(h.stats.bulkRuns).toBe(runs);
    expect(resumed.records.map((r) => r['id'])).toEqual(all.records.slice(20).map((r) => r['id']));
  });

  it('a bulk download cut short is detected (objectCount) and downloaded again', async () => {
    h.faults.push({ match: (req) => req.path.startsWith('/bulk-files/'), times: 1, kind: { type: 'truncate' } });
    const downloads = h.stats.bulkDownloads;
    const { records } = await readTable(connector, cfg(h, { bulk: { mode: 'always', pollIntervalMs: 20 } }), 'orders', { mode: 'full_refresh' });
    expect(h.faults.at(-1)!.times).toBe(0);
    expect(h.stats.bulkDownloads).toBe(downloads + 2);
    expect(records.map((r) => r['id']).sort()).toEqual([...h.store.orders.keys()].map((id) => gid('Order', id)).sort());
  });

  it('a failed bulk operation falls back to paging', async () => {
    h.knobs.failNextBulk = 'INTERNAL_SERVER_ERROR';
    const { records } = await readTable(connector, cfg(h, { bulk: { mode: 'always', pollIntervalMs: 20 } }), 'inventory_items', { mode: 'full_refresh' });
    expect(records).toHaveLength(h.store.inventoryItems.size);
    const levels = records[0]!['inventoryLevels'] as { available: number }[];
    expect(levels).toHaveLength(h.store.locations.size);
  });

  it('paged reads resume after the checkpoint of the last staged page', async () => {
    const config = cfg(h, { pageSize: 15 });
    const head = await readTable(connector, config, 'orders', { mode: 'incremental' }, { maxPages: 2 });
    const rest = await readTable(connector, config, 'orders', { mode: 'incremental', checkpoint: head.checkpoints[1] });
    const ids = [...head.records, ...rest.records].map((r) => r['id']);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(h.store.orders.size);
  });

  it('createdAt as the cursor: created_at filter, CREATED_AT order', async () => {
    const since = '2024-09-01T00:00:00.000Z';
    const { records } = await readTable(connector, cfg(h), 'orders', { mode: 'incremental', cursorField: 'createdAt', since });
    const want = [...h.store.orders.values()].filter((o) => o.createdAt >= '2024-09-01T00:00:00Z');
    expect(records.map((r) => r['id']).sort()).toEqual(want.map((o) => gid('Order', o.id)).sort());
    const created = records.map((r) => String(r['createdAt']));
    expect(created).toEqual([...created].sort());
  });

  it('503 and 429 answers are retried', async () => {
    const graphqlOnly = (req: { path: string }) => req.path.endsWith('graphql.json');
    h.faults.push({ match: graphqlOnly, times: 2, kind: { type: 'status', status: 503 } });
    h.faults.push({ match: graphqlOnly, times: 1, kind: { type: 'status', status: 429, headers: { 'retry-after': '1' } } });
    const client = createClient(connector.config.parse(cfg(h)) as never);
    const { records } = await readTable(connector, cfg(h), 'customers', { mode: 'full_refresh' }, { client });
    expect(records).toHaveLength(h.store.customers.size);
    expect(client.http.stats().retries).toBe(2);
    expect(client.http.stats().rateLimitWaits).toBe(1);
    expect(h.faults.every((f) => f.times === 0)).toBe(true);
  });

  it('transactions: one row per payment transaction, read through orders (paged and bulk agree)', async () => {
    const want = [...h.store.orders.values()].flatMap((o) => orderTransactions(o).map((t) => ({ id: gid('OrderTransaction', t.id), orderId: gid('Order', o.id), kind: t.kind, amount: Number(money(t.amount)) })));
    const pick = (r: Record<string, unknown>) => ({ id: r['id'], orderId: r['orderId'], kind: r['kind'], amount: r['amount'] });
    const byId = (a: { id: unknown }, b: { id: unknown }) => String(a.id).localeCompare(String(b.id));
    const paged = await readTable(connector, cfg(h), 'transactions', { mode: 'full_refresh' });
    expect(paged.records.map(pick).sort(byId)).toEqual([...want].sort(byId));
    const bulk = await readTable(connector, cfg(h, { bulk: { mode: 'always', pollIntervalMs: 20 } }), 'transactions', { mode: 'full_refresh' });
    expect(bulk.records.map(pick).sort(byId)).toEqual([...want].sort(byId));
    const refund = paged.records.find((r) => r['kind'] === 'REFUND')!;
    expect(refund['parentTransactionId']).toMatch(/^gid:\/\/shopify\/OrderTransaction\//);
    // a new refund shows up in the next incremental sync, through its order's updatedAt
    const cursor = paged.records.map((r) => String(r['orderUpdatedAt'])).sort().at(-1)!;
    h.store.clock = () => Date.parse(cursor) + 7_200_000;
    const paid = [...h.store.orders.values()].find((o) => o.financialStatus === 'PAID')!;
    h.store.update('orders', paid.id, { financialStatus: 'PARTIALLY_REFUNDED', refunded: 500 });
    const next = await readTable(connector, cfg(h), 'transactions', { mode: 'incremental', since: cursor });
    const mine = next.records.filter((r) => r['orderId'] === gid('Order', paid.id));
    expect(mine.map((r) => [r['kind'], r['amount']])).toEqual([['SALE', Number(money(orderTotals(paid).total))], ['REFUND', 5]]);
    // an order with more transactions than one page's list (10) is re-read whole
    const authorized = [...h.store.orders.values()].find((o) => o.financialStatus === 'AUTHORIZED')!;
    h.store.update('orders', authorized.id, { captures: Array.from({ length: 12 }, (_, i) => 100 + i) });
    const many = await readTable(connector, cfg(h), 'transactions', { mode: 'incremental', since: cursor });
    const captures = many.records.filter((r) => r['orderId'] === gid('Order', authorized.id));
    expect(captures).toHaveLength(13);
    expect(captures.at(-1)).toMatchObject({ kind: 'CAPTURE', amount: 1.11 });
  });

  it('customers carry the deterministic identities', async () => {
    const { records } = await readTable(connector, cfg(h), 'customers', { mode: 'full_refresh' });
    expect(records).toHaveLength(h.store.customers.size);
    for (const r of records) expect(r['email']).toBe(h.store.customers.get(Number(r['legacyResourceId']))!.email);
  });

  it('check: reads the shop name', async () => {
    const res = await check(sourceConfig(h));
    expect(res.ok).toBe(true);
    expect(res.message).toContain('Sluice Demo Store');
  });

  it('check: bad token → invalid access token', async () => {
    await expect(check({ ...sourceConfig(h), accessToken: 'shpat_wrong' })).rejects.toMatchObject({ kind: 'auth', message: expect.stringContaining('invalid access token') });
  });

  it('check: missing scope → names it (403 and GraphQL ACCESS_DENIED forms)', async () => {
    h.tokens.set('shpat_no_orders', new Set(['read_customers', 'read_products', 'read_inventory']));
    for (const status of [403, 200] as const) {
      h.knobs.accessDeniedStatus = status;
      const err = await check({ ...sourceConfig(h), accessToken: 'shpat_no_orders' }).catch((e) => e);
      expect(err).toBeInstanceOf(SluiceError);
      expect(err.kind).toBe('permission');
      expect(err.message).toContain('`read_orders` (needed by orders)');
      expect(err.message).not.toContain('shpat_no_orders');
    }
    h.knobs.accessDeniedStatus = 403;
  });

  it('check: unknown shop → shop not found; frozen → payment required', async () => {
    await expect(check({ ...sourceConfig(h), baseUrl: `${h.url}/shops/nope` })).rejects.toMatchObject({ kind: 'not_found', message: expect.stringContaining('shop not found') });
    h.knobs.frozen = true;
    await expect(check(sourceConfig(h))).rejects.toMatchObject({ kind: 'permission', message: expect.stringContaining('store is frozen (payment required)') });
    h.knobs.frozen = false;
  });

  it('views: order_events and customer_identities over the source tables', () => {
    const v = connector.views!({ source: 'shop', tables: new Set(['orders', 'customers']) });
    expect(v.map((x) => x.name)).toEqual(['order_events', 'customer_identities']);
    expect(v[0]!.sql).toContain(`'order completed' AS event`);
    expect(v[0]!.sql).toContain('"shop".orders');
    expect(connector.views!({ source: 'shop', tables: new Set(['products']) })).toEqual([]);
  });
});

describe('cost-aware throttling', () => {
  let h: ShopifyEmulator;
  beforeAll(async () => {
    // A small bucket that one full page would overdraw: pages must shrink and requests wait.
    h = await start({ seed: 11, orders: 60, customers: 400, products: 5, bucketSize: 300, restoreRate: 600 });
  });
  afterAll(async () => h.close());

  it('completes without a single THROTTLED response, waiting for the bucket instead', async () => {
    const config = cfg(h);
    const client = connector.connect(connector.config.parse(config), { source: 't', log: memoryLogger(), report: () => undefined }) as ShopifyClient;
    const t0 = Date.now();
    const customers = await readTable(connector, config, 'customers', { mode: 'full_refresh' }, { client });
    const orders = await readTable(connector, config, 'orders', { mode: 'full_refresh' }, { client });
    expect(customers.records).toHaveLength(400);
    expect(orders.records).toHaveLength(60);
    expect(h.stats.throttled).toBe(0);
    const stats = client.bucket.stats();
    expect(stats['costWaits']).toBeGreaterThan(0);
    expect(stats['throttled']).toBe(0);
    // the budget was the bottleneck: the run took about as long as the points it spent need
    const minimumMs = ((h.stats.actualCost - 300) / 600) * 1000;
    expect(Date.now() - t0).toBeGreaterThan(minimumMs * 0.8);
    expect(stats['budgetUsed']).toBeGreaterThan(0.5);
    expect(customers.events.some((e) => e.type === 'wait')).toBe(true);
  });

  it('tables of one source share the bucket: reading them in parallel is not throttled either', async () => {
    const config = cfg(h);
    const client = createClient(connector.config.parse(config) as never);
    const before = h.stats.throttled;
    h.bucket.reset(300, 600);
    const [a, b] = await Promise.all([
      readTable(connector, config, 'customers', { mode: 'full_refresh' }, { client }),
      readTable(connector, config, 'products', { mode: 'full_refresh' }, { client }),
    ]);
    expect(a.records).toHaveLength(400);
    expect(b.records).toHaveLength(5);
    expect(h.stats.throttled).toBe(before);
  });

  it('a THROTTLED answer (someone else drained the bucket) is retried after the computed wait', async () => {
    const client = createClient(connector.config.parse(cfg(h)) as never);
    h.bucket.reset(300, 600);
    await readTable(connector, cfg(h), 'customers', { mode: 'full_refresh' }, { client, maxPages: 1 });
    h.bucket.take(h.bucket.currentlyAvailable()); // another app session spends everything
    const before = h.stats.throttled;
    const { records } = await readTable(connector, cfg(h), 'customers', { mode: 'full_refresh' }, { client, maxPages: 2 });
    expect(records.length).toBeGreaterThan(0);
    expect(h.stats.throttled - before).toBeLessThanOrEqual(1);
    expect(client.http.stats().rateLimitWaits).toBe(h.stats.throttled - before);
  });
});
