import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTable, SluiceError } from '@sluice/core';
import { start, sourceConfig, type ShipStationEmulator } from '@sluice/emulators/shipstation/index';
import connector from '../src/index';
import { wallOrderKey } from '../src/pacific';

/**
 * The anchored page-number scans (orders, shipments, fulfillments) go through core's order guard: a
 * ShipStation that ignores `sortBy` fails the table loudly; the repeated fall-back hour, which
 * ShipStation may order by wall clock or by instant, never trips it.
 */
describe('shipstation: order guard', () => {
  let h: ShipStationEmulator;
  beforeAll(async () => {
    h = await start({ seed: 5, orders: 0, customers: 5, from: '2024-11-01T00:00:00Z', to: '2024-11-03T07:00:00Z', dst: false });
    // Modified around the fall-back: 00:50 PDT, 01:10 PDT, 01:40 PDT, 01:05 PST, 01:30 PST, 02:10 PST, and later.
    for (const at of ['2024-11-03T07:50:00.100Z', '2024-11-03T08:10:00.200Z', '2024-11-03T08:40:00.300Z', '2024-11-03T09:05:00.400Z', '2024-11-03T09:30:00.500Z', '2024-11-03T10:10:00.600Z'])
      h.generator.order('2024-11-02T12:00:00.000Z', at);
    for (let i = 0; i < 14; i++) h.generator.order('2024-11-02T12:00:00.000Z', new Date(Date.parse('2024-11-03T11:00:00Z') + i * 60_000).toISOString());
  });
  afterAll(async () => h?.close());

  const config = () => ({ ...sourceConfig(h), pageSize: 3 });

  it('reads across the repeated hour in pages of three without tripping the guard', async () => {
    const { records, pages } = await readTable(connector, config(), 'orders');
    expect(new Set(records.map((r) => r.orderId)).size).toBe(h.store.count('orders'));
    expect(pages).toBeGreaterThan(5);
  });

  it('keys the repeated hour as one value, so wall-clock and instant order both pass', () => {
    const walls = ['2024-11-03T00:50:00.1000000', '2024-11-03T01:10:00.2000000', '2024-11-03T01:05:00.4000000', '2024-11-03T01:40:00.3000000', '2024-11-03T02:10:00.6000000'];
    const keys = walls.map(wallOrderKey);
    expect(keys).toEqual(['2024-11-03 00:50:00', '2024-11-03 01:00:00', '2024-11-03 01:00:00', '2024-11-03 01:00:00', '2024-11-03 02:10:00']);
    expect(wallOrderKey('2024-07-01T12:30:59.9990000')).toBe('2024-07-01 12:30:59');
    expect(wallOrderKey('2024-07-01')).toBeUndefined();
  });

  it('fails the table loudly, naming vendor, table and keys, when ShipStation ignores sortBy', async () => {
    h.ignoreSort = true;
    // Storage order is creation order; make it disagree with modifyDate order.
    const first = h.store.list('orders')[0]!;
    h.store.update('orders', first.orderId as number, { orderStatus: 'shipped' }, { at: '2024-11-03T12:00:00.000Z' });
    try {
      const err = await readTable(connector, config(), 'orders').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SluiceError);
      expect((err as SluiceError).kind).toBe('inconsistent');
      expect((err as SluiceError).message).toMatch(/^ShipStation orders: records came back out of order \("2024-11-03 01:00:00" follows "2024-11-03 04:00:00" within one page\)/);
    } finally {
      h.ignoreSort = false;
    }
  });
});
