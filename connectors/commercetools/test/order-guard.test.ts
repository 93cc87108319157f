import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '@sluice/core';
import { start, type Handle } from '@sluice/emulators/commercetools/index';
import { expectedDocs, ids, read } from './helpers';

/**
 * The reported defect: against a commercetools API that ignored `sort`, key-set paging on
 * (lastModifiedAt, id) read 924 customer records, 566 of the 600 distinct, and the sync succeeded. The
 * emulator's `ignoreSort` switch answers that way; the read must fail naming the vendor, the table and
 * the two keys, with a non-retryable error.
 */
describe('commercetools: an API that ignores sort', () => {
  let h: Handle;
  beforeAll(async () => {
    h = await start({ seed: 16, counts: { customers: 600, orders: 10, carts: 0, payments: 0, 'product-projections': 0, categories: 0, 'discount-codes': 0, inventory: 0 }, ignoreSort: true });
  });
  afterAll(async () => h?.close());

  it('fails the customers read loudly instead of skipping and repeating records', async () => {
    const err = await read(h, 'customers', { mode: 'full_refresh' }, { config: { pageSize: 100 } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SluiceError);
    const e = err as SluiceError;
    expect(e.kind).toBe('inconsistent');
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/^commercetools customers: records came back out of order \(\(lastModifiedAt, id\) \("[^"]+Z", "[0-9a-f-]{36}"\) follows \(lastModifiedAt, id\) \("[^"]+Z", "[0-9a-f-]{36}"\)/);
  });

  it('reads every record once when the API sorts again', async () => {
    h.ignoreSort = false;
    try {
      const { records } = await read(h, 'customers', { mode: 'full_refresh' }, { config: { pageSize: 100 } });
      expect(ids(records).sort()).toEqual(ids(expectedDocs(h, 'customers')).sort());
    } finally {
      h.ignoreSort = true;
    }
  });
});
