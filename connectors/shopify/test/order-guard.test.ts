import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTable, SluiceError } from '@sluice/core';
import { start, sourceConfig, type ShopifyEmulator } from '@sluice/emulators/shopify/index';
import connector from '../src/index';

/**
 * Shopify's paged reads go through core's order guard: an incremental read asks for UPDATED_AT order
 * (a record changed mid-scan then moves to the end and is read); a Shopify that pages in ID order
 * instead fails the table loudly, naming the table and the two updatedAt values.
 */
describe('shopify: order guard', () => {
  let h: ShopifyEmulator;
  beforeAll(async () => {
    h = await start({ seed: 16, orders: 60, customers: 40, products: 5, restoreRate: 1_000_000, bucketSize: 1000 });
  });
  afterAll(async () => h?.close());

  const cfg = () => ({ ...sourceConfig(h), pageSize: 10, bulk: { mode: 'never', pollIntervalMs: 20 } });

  it('reads in UPDATED_AT order across pages and resumes with the saved key', async () => {
    const all = await readTable(connector, cfg(), 'customers', { mode: 'incremental' });
    expect(all.records).toHaveLength(h.store.customers.size);
    expect(all.checkpoints[0]).toMatchObject({ page: { after: expect.any(String), last: [all.records[9]!['updatedAt']] } });
    const rest = await readTable(connector, cfg(), 'customers', { mode: 'incremental', checkpoint: all.checkpoints[1] });
    expect(rest.records.map((r) => r['id'])).toEqual(all.records.slice(20).map((r) => r['id']));
  });

  it('a Shopify that ignores sortKey fails the read loudly', async () => {
    h.knobs.ignoreSortKey = true;
    try {
      const err = await readTable(connector, cfg(), 'customers', { mode: 'incremental' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SluiceError);
      expect((err as SluiceError).kind).toBe('inconsistent');
      expect((err as SluiceError).message).toMatch(/^Shopify customers: records came back out of order \(updatedAt "[^"]+Z" follows updatedAt "[^"]+Z" within one page\)/);
      // A full refresh pages by ID, which such a Shopify still honours.
      const { records } = await readTable(connector, cfg(), 'customers', { mode: 'full_refresh' });
      expect(records).toHaveLength(h.store.customers.size);
    } finally {
      h.knobs.ignoreSortKey = false;
    }
  });
});
