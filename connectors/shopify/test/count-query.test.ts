import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineConnector, readTable, SluiceError } from '@sluice/core';
import { start, sourceConfig, type ShopifyEmulator } from '@sluice/emulators/shopify/index';
import connector from '../src/index';
import { countQuery, shopifyTable } from '../src/graphql-table';
import { TABLE_DEFS } from '../src/tables';

/**
 * The count query that decides on a bulk backfill. In the 2025-01 Admin API customersCount takes no
 * `limit` (ordersCount and productsCount do): sending one made Shopify refuse the query, the refusal
 * was swallowed, and customers never took the bulk path. A refusal of our own query now fails the table.
 */
describe('shopify: the bulk-or-paging count query', () => {
  let h: ShopifyEmulator;
  beforeAll(async () => {
    h = await start({ seed: 3, orders: 30, customers: 40, products: 15, restoreRate: 1_000_000, bucketSize: 1000, bulkStartDelayMs: 20 });
  });
  afterAll(async () => h?.close());

  const cfg = () => ({ ...sourceConfig(h), bulk: { mode: 'auto', threshold: 10, pollIntervalMs: 20 } });

  it('asks customersCount without limit, ordersCount and productsCount with it', () => {
    const byName = Object.fromEntries(TABLE_DEFS.map((d) => [d.name, d.count && countQuery(d.count)]));
    expect(byName['customers']).toBe('query SluiceCount($query: String) { c: customersCount(query: $query) { count precision } }');
    expect(byName['orders']).toContain('ordersCount(query: $query, limit: $limit)');
    expect(byName['products']).toContain('productsCount(query: $query, limit: $limit)');
  });

  it.each(['customers', 'orders', 'products'])('%s above the threshold take the bulk path', async (table) => {
    const runs = h.stats.bulkRuns;
    const { records } = await readTable(connector, cfg(), table, { mode: 'full_refresh' });
    expect(h.stats.bulkRuns).toBe(runs + 1);
    expect(records.length).toBeGreaterThan(0);
  });

  it('a refusal of our own count query fails the table, naming the refusal, instead of silently paging', async () => {
    const customers = TABLE_DEFS.find((d) => d.name === 'customers')!;
    const broken = defineConnector({ ...connector, tables: [shopifyTable({ ...customers, count: { field: 'customersCount', limit: true } })] });
    const runs = h.stats.bulkRuns;
    const graphqlCalls = h.stats.graphql;
    const err = await readTable(broken, cfg(), 'customers', { mode: 'full_refresh' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).retryable).toBe(false);
    expect((err as SluiceError).message).toBe(
      `Shopify refused the count query that chooses between a bulk operation and paging for customers (Shopify rejected the query for API version 2025-01: Field 'customersCount' doesn't accept argument 'limit'); set bulk.mode to "never" or "always" to sync without it`,
    );
    expect(h.stats.bulkRuns).toBe(runs);
    expect(h.stats.graphql - graphqlCalls).toBe(1); // no page was read
  });
});
