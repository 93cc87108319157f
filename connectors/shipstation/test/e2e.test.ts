import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from '@sluice/core';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';
import { start, sourceConfig, type ShipStationEmulator } from '@sluice/emulators/shipstation/index';
import { AUTH_FAILED, NO_API_ACCESS } from '../src/index';

/**
 * End to end through the real Temporal workflows into the warehouse: first and incremental syncs with
 * both orders cursors, records in the ambiguous DST hour, full refresh after deletions, bad credentials,
 * a plan without API access, and a run that hits the rate limit.
 */
const PK: Record<string, string> = { orders: 'orderId', shipments: 'shipmentId', fulfillments: 'fulfillmentId', products: 'productId', customers: 'customerId', stores: 'storeId', warehouses: 'warehouseId' };
const TABLES = Object.keys(PK);

/** The warehouse renders TIMESTAMPTZ to the microsecond in UTC. */
const UTC = (col: string) => `strftime("${col}" AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')`;
const micro = (iso: string) => `${iso.slice(0, 23)}000Z`;
/** Exact, except a first-pass (PDT) wall time in the repeated hour, which reads as standard time. */
const asRead = (iso: string) => {
  const local = DateTime.fromISO(iso, { zone: 'utc' }).setZone('America/Los_Angeles');
  return micro(local.getPossibleOffsets().length > 1 && local.offset === -420 ? new Date(Date.parse(iso) + 3_600_000).toISOString() : iso);
};

let ss: ShipStationEmulator;
let env: SluiceEnv;
const sources = (over: Record<string, unknown> = {}): SourceYaml[] => [
  { name: 'ss', type: 'shipstation', config: { ...sourceConfig(ss), ...over } },
  { name: 'ss_created', type: 'shipstation', config: { ...sourceConfig(ss), ...over }, tables: { orders: { mode: 'incremental', cursor: 'createDate' } } },
];

async function sync(...args: string[]) {
  const r = await env.run('sync', ...args, '--json');
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return (JSON.parse(r.stdout) as { tables: { table: string; rowsRead: number; outcome: string; cursorAfter?: string }[] }[]).flatMap((s) => s.tables);
}

async function warehouseIds(source: string, table: string): Promise<number[]> {
  const rows = await env.query<{ id: number }>(`SELECT "${PK[table]}" AS id FROM ${source}.${table} ORDER BY 1`);
  return rows.map((r) => Number(r.id));
}
const storeIds = (table: string) => ss.store.list(table as never).map((r) => r[PK[table]!] as number).sort((a, b) => a - b);

beforeAll(async () => {
  ss = await start({ seed: 31, rateLimit: { limit: 100_000 } });
  env = await sluiceEnv({ sources: sources() });
});
afterAll(async () => {
  await env?.close();
  await ss?.close();
});

describe('shipstation end to end', () => {
  it('first sync lands every table, timestamps in UTC (DST hour included), money as decimals, partitioned by UTC month', async () => {
    const results = await sync('ss');
    expect(results.map((t) => [t.table, t.outcome]).sort()).toEqual(TABLES.map((t) => [t, 'succeeded']).sort());
    for (const table of TABLES) expect(await warehouseIds('ss', table), table).toEqual(storeIds(table));

    const rows = await env.query<{ orderId: number; c: string; m: string }>(`SELECT "orderId", ${UTC('createDate')} c, ${UTC('modifyDate')} m FROM ss.orders`);
    const got = new Map(rows.map((r) => [Number(r.orderId), r]));
    const planted = new Set(ss.dst.orders.map((d) => d.orderId));
    for (const t of ss.store.truth('orders')) {
      if (planted.has(t.orderId as number)) continue;
      expect([got.get(t.orderId as number)!.c, got.get(t.orderId as number)!.m]).toEqual([asRead(t.createDate as string), asRead(t.modifyDate as string)]);
    }
    const dst = (note: string) => got.get(ss.dst.orders.find((d) => d.note.includes(note))!.orderId)!;
    expect(dst('second (PST)')).toMatchObject({ c: '2024-11-03T09:15:00.010000Z', m: '2024-11-03T09:45:00.020000Z' });
    expect(dst('wall clock goes backwards')).toMatchObject({ c: '2024-11-03T08:50:00.200000Z', m: '2024-11-03T09:10:00.300000Z' });
    expect(dst('01:59:59.5 PST')).toMatchObject({ c: '2024-03-10T09:59:59.500000Z', m: '2024-03-10T10:00:00.500000Z' });

    const [money] = await env.query<{ total: string; typ: string }>(`SELECT sum("orderTotal")::VARCHAR total, typeof(any_value("orderTotal")) typ FROM ss.orders`);
    const expected = ss.store.list('orders').reduce((s, o) => s + Math.round((o.orderTotal as number) * 100), 0);
    expect(money!.typ).toBe('DECIMAL(18,2)');
    expect(money!.total).toBe((expected / 100).toFixed(2));

    const months = fs.readdirSync(path.join(env.warehouse, 'data/ss/orders/year=2024')).filter((d) => d.startsWith('month='));
    expect(months).toContain('month=11');
    const [nov] = await env.query<{ n: number }>(`SELECT count(*) n FROM ss.orders WHERE "createDate" >= TIMESTAMPTZ '2024-11-01 00:00:00+00' AND "createDate" < TIMESTAMPTZ '2024-12-01 00:00:00+00'`);
    expect(Number(nov!.n)).toBe(ss.store.truth('orders').filter((o) => asRead(o.createDate as string).startsWith('2024-11')).length);
  });

  it('incremental by modifyDate merges updates and inserts; by createDate takes only new orders', async () => {
    await sync('ss_created');
    expect(await warehouseIds('ss_created', 'orders')).toEqual(storeIds('orders'));
    const old = ss.store.list('orders')[5]!;
    ss.store.update('orders', old.orderId as number, { orderStatus: 'cancelled' }, { at: '2025-02-01T18:00:00.000Z' });
    const fresh = ss.generator.order('2025-02-02T09:30:00.250Z', '2025-02-02T09:30:00.250Z', { orderStatus: 'awaiting_shipment' });
    const [byModify] = await sync('ss', '--table', 'orders');
    expect(byModify!.rowsRead).toBeLessThan(10);
    expect(byModify!.cursorAfter).toContain('2025-02-02T09:30:00.250');
    const rows = await env.query<{ orderId: number; orderStatus: string; m: string }>(`SELECT "orderId", "orderStatus", ${UTC('modifyDate')} m FROM ss.orders WHERE "orderId" IN (${old.orderId}, ${fresh.orderId}) ORDER BY 1`);
    expect(rows.map((r) => [Number(r.orderId), r.orderStatus, r.m])).toEqual([
      [old.orderId, 'cancelled', '2025-02-01T18:00:00.000000Z'],
      [fresh.orderId, 'awaiting_shipment', '2025-02-02T09:30:00.250000Z'],
    ]);
    expect(await warehouseIds('ss', 'orders')).toEqual(storeIds('orders'));

    const [byCreate] = await sync('ss_created', '--table', 'orders');
    expect(byCreate!.rowsRead).toBeLessThan(10);
    const created = await env.query<{ orderId: number; orderStatus: string }>(`SELECT "orderId", "orderStatus" FROM ss_created.orders WHERE "orderId" IN (${old.orderId}, ${fresh.orderId}) ORDER BY 1`);
    // The update of an old order is not picked up by the createDate cursor; the new order is.
    expect(created.map((r) => [Number(r.orderId), r.orderStatus])).toEqual([
      [old.orderId, old.orderStatus],
      [fresh.orderId, 'awaiting_shipment'],
    ]);
    expect(await warehouseIds('ss_created', 'orders')).toEqual(storeIds('orders'));
  });

  it('full refresh after deletions mirrors the account', async () => {
    for (const [table, n] of [['customers', 3], ['products', 2], ['stores', 1], ['warehouses', 1]] as const) {
      for (const r of ss.store.list(table).slice(0, n)) ss.store.delete(table, r[PK[table]!] as number);
    }
    await sync('ss', '--table', 'customers', '--table', 'products', '--table', 'stores', '--table', 'warehouses');
    for (const table of ['customers', 'products', 'stores', 'warehouses']) expect(await warehouseIds('ss', table), table).toEqual(storeIds(table));
  });

  it('a run that hits the rate limit waits for each reset: zero 429s and every record lands', async () => {
    ss.rateLimit.limit = 4;
    ss.rateLimit.windowMs = 2000;
    ss.resetRateLimit();
    const before = ss.throttled();
    const windowsBefore = ss.windows().length;
    try {
      const t0 = Date.now();
      const results = await sync('ss', '--full-refresh');
      expect(results.filter((t) => t.outcome !== 'succeeded'), 'tables that did not succeed').toEqual([]);
      expect(ss.throttled() - before).toBe(0);
      const windows = ss.windows().slice(windowsBefore);
      const requests = windows.reduce((n, w) => n + w.count, 0);
      expect(requests).toBe(3 + 1 + 1 + 1 + 1 + 1 + 1);
      // At most 4 per window, so at least 3 windows. (Whether every window is filled depends on how fast
      // Temporal starts the table activities; the governor's precision is tested in connector.test.ts and bench/shipstation.ts.)
      expect(windows.filter((w) => w.count > 4), 'windows over the limit').toEqual([]);
      expect(windows.length).toBeGreaterThanOrEqual(3);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2 * 2000 - 200);
      for (const table of TABLES) expect(await warehouseIds('ss', table), table).toEqual(storeIds(table));
    } finally {
      ss.rateLimit.limit = 100_000;
      ss.rateLimit.windowMs = 60_000;
      ss.resetRateLimit();
    }
  });

  it('check names the fix for bad credentials and for a plan without API access', async () => {
    const ok = await env.run('check', 'ss');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    try {
      await env.writeConfig(sources({ apiSecret: 'not-the-secret-42' }));
      const bad = await env.run('check', 'ss');
      expect(bad.code).toBe(1);
      expect(bad.stdout + bad.stderr).toContain(AUTH_FAILED);
      expect(bad.stdout + bad.stderr).not.toContain('not-the-secret-42');
      const failed = await env.run('sync', 'ss', '--table', 'stores');
      expect(failed.code).not.toBe(0);
      expect(failed.stdout + failed.stderr).toContain('authentication failed');
      for (const status of [402, 403] as const) {
        ss.noApiStatus = status;
        await env.writeConfig(sources(ss.noApiCredentials));
        const denied = await env.run('check', 'ss');
        expect(denied.code).toBe(1);
        expect(denied.stdout + denied.stderr).toContain(NO_API_ACCESS);
      }
    } finally {
      await env.writeConfig(sources());
    }
  });
});

describe('shipstation end to end: the repeated fall-back hour', () => {
  let dst: ShipStationEmulator;
  let denv: SluiceEnv;
  beforeAll(async () => {
    // An account whose "now" is 2024-11-03 01:30 PDT: the first pass through the repeated hour.
    dst = await start({ seed: 8, orders: 60, customers: 20, from: '2024-10-20T00:00:00Z', to: '2024-11-03T08:30:00Z', dst: false });
    dst.generator.order('2024-11-03T08:20:00.000Z', '2024-11-03T08:45:00.000Z'); // 01:20 → 01:45 PDT
    denv = await sluiceEnv({
      sources: [
        { name: 'ssm', type: 'shipstation', config: sourceConfig(dst), tables: { orders: { mode: 'incremental' }, shipments: { mode: 'incremental' } } },
        { name: 'ssc', type: 'shipstation', config: sourceConfig(dst), tables: { orders: { mode: 'incremental', cursor: 'createDate' } } },
      ],
    });
  });
  afterAll(async () => {
    await denv?.close();
    await dst?.close();
  });

  it('records written in the second 01:xx after a sync in the first are never missed, with both cursors', async () => {
    for (const s of ['ssm', 'ssc']) expect((await denv.run('sync', s)).code).toBe(0);
    // Clocks fall back. 01:05 and 01:10 PST come after 01:45 PDT but sort before it on the wall clock.
    const target = dst.store.list('orders')[3]!;
    dst.store.update('orders', target.orderId as number, { orderStatus: 'shipped' }, { at: '2024-11-03T09:10:00.000Z' });
    const late = dst.generator.order('2024-11-03T09:05:00.000Z', '2024-11-03T09:05:00.000Z');
    const label = dst.generator.shipment(late, '2024-11-03T09:07:30.000Z');
    for (const s of ['ssm', 'ssc']) {
      const r = await denv.run('sync', s);
      expect(r.code, r.stderr).toBe(0);
    }
    const q = async <T>(sql: string) => denv.query<T>(sql);
    const m = await q<{ orderId: number; orderStatus: string; m: string; c: string }>(`SELECT "orderId", "orderStatus", ${UTC('modifyDate')} m, ${UTC('createDate')} c FROM ssm.orders WHERE "orderId" IN (${target.orderId}, ${late.orderId}) ORDER BY 1`);
    expect(m.map((r) => [Number(r.orderId), r.orderStatus, r.m])).toEqual([
      [target.orderId, 'shipped', '2024-11-03T09:10:00.000000Z'],
      [late.orderId, late.orderStatus, '2024-11-03T09:05:00.000000Z'],
    ]);
    expect(m[1]!.c).toBe('2024-11-03T09:05:00.000000Z');
    const ids = (rows: { id: number }[]) => rows.map((r) => Number(r.id));
    const all = dst.store.list('orders').map((o) => o.orderId as number).sort((a, b) => a - b);
    expect(ids(await q<{ id: number }>(`SELECT "orderId" id FROM ssm.orders ORDER BY 1`))).toEqual(all);
    expect(ids(await q<{ id: number }>(`SELECT "orderId" id FROM ssc.orders ORDER BY 1`))).toEqual(all);
    const [s] = await q<{ c: string }>(`SELECT ${UTC('createDate')} c FROM ssm.shipments WHERE "shipmentId" = ${label.shipmentId}`);
    expect(s!.c).toBe('2024-11-03T09:07:30.000000Z');
  });
});
