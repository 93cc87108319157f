import { describe, expect, it } from 'vitest';
import { defineConnector, planTable, tableCatalogue } from '../src/index';
import { FEED_LAG_MS, feedRetentionRefusal, nextFeedCursor, type DeletesPolicy } from '../src/policies/deletes';

/** The pure parts of `deletes: { detect: vendor }`: which tables take it, the feed cursor, the retention guard. */
const feed = { describe: 'GET /messages where type = "OrderDeleted"', requires: 'view_messages', retentionMs: 15 * 86_400_000, read: async function* () {} };
const connector = defineConnector({
  type: 'example',
  description: 'delete feed tests',
  config: { safeParse: () => ({ success: true, data: {} }) } as never,
  secrets: [],
  connect: () => ({}),
  check: async () => ({ ok: true, message: 'ok' }),
  tables: [
    { name: 'orders', description: '', primaryKey: ['id'], cursor: { fields: ['updatedAt'], default: 'updatedAt' }, deleteFeed: feed, read: async function* () {} },
    { name: 'payments', description: '', primaryKey: ['id'], cursor: { fields: ['updatedAt'], default: 'updatedAt' }, read: async function* () {} },
  ],
});
const table = (name: string) => connector.tables.find((t) => t.name === name)!;
const vendor: DeletesPolicy = { detect: 'vendor', handle: 'soft', maxFraction: 0.5 };

describe('detect: vendor', () => {
  it('plans on a table with a delete feed; refuses (and does not plan) one without', () => {
    const ok = planTable(table('orders'), { mode: 'incremental', deletes: vendor });
    expect(ok.problems).toEqual([]);
    expect(ok.plan.deletes).toEqual(vendor);
    const no = planTable(table('payments'), { mode: 'incremental', deletes: vendor });
    expect(no.problems).toEqual([{ setting: 'deletes', field: 'detect', value: 'vendor', reason: expect.stringContaining('payments has no vendor delete feed') }]);
    expect(no.plan.deletes).toBeUndefined();
    // reconcile stays available on both.
    expect(planTable(table('payments'), { deletes: { ...vendor, detect: 'reconcile' } }).problems).toEqual([]);
  });

  it('the catalogue shows the feed (request, scope, retention) and nothing of a table without one', () => {
    expect(tableCatalogue(table('orders')).deleteFeed).toEqual({ describe: feed.describe, requires: 'view_messages', retentionMs: 15 * 86_400_000 });
    expect(tableCatalogue(table('payments'))).not.toHaveProperty('deleteFeed');
  });

  it('the saved cursor: the later of the last event, the read start less the lag, and the saved one', () => {
    const start = Date.parse('2026-03-10T12:00:00.000Z');
    expect(nextFeedCursor({ saved: undefined, lastEventAt: undefined, readStartedAt: start })).toBe(new Date(start - FEED_LAG_MS).toISOString());
    expect(nextFeedCursor({ saved: '2026-03-01T00:00:00.000Z', lastEventAt: '2026-03-10T11:59:00.000Z', readStartedAt: start })).toBe('2026-03-10T11:59:00.000Z');
    // A clock that went back never moves the cursor back.
    expect(nextFeedCursor({ saved: '2026-03-11T00:00:00.000Z', lastEventAt: undefined, readStartedAt: start })).toBe('2026-03-11T00:00:00.000Z');
  });

  it('a saved cursor older than the retention is refused with the way out; within it, or never read, is fine', () => {
    const now = Date.parse('2026-03-20T00:00:00.000Z');
    const p = { source: 'ct', table: 'orders', retentionMs: 15 * 86_400_000, now, describe: feed.describe };
    expect(feedRetentionRefusal({ ...p, saved: undefined })).toBeUndefined();
    expect(feedRetentionRefusal({ ...p, saved: '2026-03-06T00:00:00.000Z' })).toBeUndefined();
    const msg = feedRetentionRefusal({ ...p, saved: '2026-03-01T00:00:00.000Z' });
    expect(msg).toContain('ct.orders: the vendor\'s delete feed (GET /messages where type = "OrderDeleted") was last read up to 2026-03-01T00:00:00.000Z, 19 day(s) ago');
    expect(msg).toContain('keeps its events only 15 day(s)');
    expect(msg).toContain('nothing was deleted. Reconcile once');
    expect(feedRetentionRefusal({ ...p, retentionMs: undefined, saved: '2020-01-01T00:00:00.000Z' })).toBeUndefined();
  });
});
