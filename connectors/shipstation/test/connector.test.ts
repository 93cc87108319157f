import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime, readTable, SluiceError, type DataRecord } from '@sluice/core';
import { start, sourceConfig, type ShipStationEmulator } from '@sluice/emulators/shipstation/index';
import connector, { AUTH_FAILED, NO_API_ACCESS } from '../src/index';
import { pacificLowerBound, wallLowerBound, wallOrderKey } from '../src/pacific';

/** The emulator's truth (UTC ms precision) as the connector renders it (microseconds, Z). */
const micro = (iso: string) => `${iso.slice(0, 23)}000Z`;
/**
 * What the connector must produce for a true instant: exact, except that a wall time in the repeated
 * fall-back hour reads as standard time (PST), so a first-pass (PDT) instant lands one hour later.
 */
const asRead = (iso: string) => {
  const local = DateTime.fromISO(iso, { zone: 'utc' }).setZone('America/Los_Angeles');
  const firstPass = local.getPossibleOffsets().length > 1 && local.offset === -420;
  return micro(firstPass ? new Date(Date.parse(iso) + 3_600_000).toISOString() : iso);
};
/** Distinct ids, sorted (records sharing a page-boundary timestamp are read twice; the merge keeps one). */
const ids = (records: DataRecord[], pk: string) => [...new Set(records.map((r) => r[pk] as number))].sort((a, b) => a - b);
const truthIds = (h: ShipStationEmulator, kind: Parameters<ShipStationEmulator['store']['truth']>[0], pk: string) =>
  h.store.truth(kind).map((r) => r[pk] as number).sort((a, b) => a - b);

async function check(config: unknown) {
  const cfg = connector.config.parse(config);
  const client = connector.connect(cfg, { source: 'test', log: console, report: () => {} });
  return connector.check({ config: cfg, client, log: console, signal: new AbortController().signal });
}

describe('shipstation connector', () => {
  let h: ShipStationEmulator;
  let config: Record<string, unknown>;
  beforeAll(async () => {
    h = await start({ seed: 5, rateLimit: { limit: 100_000 } });
    config = sourceConfig(h);
  });
  afterAll(() => h.close());

  it('declares the seven tables, modes, cursors and partitions of the issue', () => {
    const t = Object.fromEntries(connector.tables.map((x) => [x.name, x]));
    expect(Object.keys(t)).toEqual(['orders', 'shipments', 'fulfillments', 'products', 'customers', 'stores', 'warehouses']);
    expect(t.orders!.cursor).toMatchObject({ fields: ['modifyDate', 'createDate'], default: 'modifyDate' });
    expect(t.shipments!.cursor!.default).toBe('createDate');
    expect(t.fulfillments!.modes).toEqual(['incremental', 'full_refresh', 'append_only']);
    for (const name of ['products', 'customers', 'stores', 'warehouses']) expect(t[name]!.modes).toEqual(['full_refresh']);
    for (const x of connector.tables) expect(x.partitionBy).toBe('createDate');
    expect(connector.secrets).toEqual(['apiKey', 'apiSecret']);
    expect((connector.config.parse({ apiKey: 'k', apiSecret: 's' }) as { baseUrl: string }).baseUrl).toBe('https://ssapi.shipstation.com');
  });

  it('reads every order (modifyDate cursor) with every timestamp in UTC, equal to the emulator’s truth', async () => {
    const before = h.requests.length;
    const { records, checkpoints } = await readTable(connector, config, 'orders');
    expect(ids(records, 'orderId')).toEqual(truthIds(h, 'orders', 'orderId'));
    expect(records.length - h.store.count('orders')).toBeLessThanOrEqual(2); // re-read at the two page boundaries
    const reqs = h.requests.slice(before).map((r) => new URLSearchParams(r.query));
    expect(reqs).toHaveLength(3);
    for (const q of reqs) expect([q.get('page'), q.get('pageSize'), q.get('sortBy'), q.get('sortDir')]).toEqual(['1', '500', 'ModifyDate', 'ASC']);
    // After each page the filter moves up to the last modifyDate read (Pacific wall clock, to the second).
    const walls = h.store.rendered('orders').map((o) => o.modifyDate as string).sort();
    expect(reqs[0]!.get('modifyDateStart')).toBeNull();
    expect(reqs[1]!.get('modifyDateStart')).toBe(walls[499]!.slice(0, 19).replace('T', ' '));
    expect(checkpoints.at(-1)).toEqual({ done: true });
    // The checkpoint also carries the page's last order key (core's order guard checks a resumed page against it).
    expect(checkpoints[0]).toEqual({ state: { anchor: walls[499]!.slice(0, 19).replace('T', ' '), page: 1 }, last: [wallOrderKey(walls[499])] });
    const truth = new Map(h.store.truth('orders').map((o) => [o.orderId, o]));
    const dst = new Set(h.dst.orders.map((d) => d.orderId));
    let compared = 0;
    for (const r of records) {
      if (dst.has(r.orderId as number)) continue;
      const t = truth.get(r.orderId)!;
      for (const f of ['createDate', 'modifyDate', 'orderDate', 'paymentDate', 'shipByDate'] as const) {
        if (t[f] === null) expect(r[f]).toBeNull();
        else expect(r[f], `${r.orderId}.${f}`).toBe(asRead(t[f] as string));
      }
      const items = r.items as { createDate: string }[];
      expect(items[0]!.createDate).toBe(asRead(t.createDate as string));
      compared++;
    }
    expect(compared).toBeGreaterThan(1000);
    // Ascending by the cursor, as sent by ShipStation (wall clock) and converted (monotone).
    const mods = records.map((r) => Date.parse(r.modifyDate as string));
    expect(mods.every((m, i) => i === 0 || m >= mods[i - 1]!)).toBe(true);
    // Money stays numeric (DECIMAL(18,2) declared), date-only stays a date.
    const shipped = records.find((r) => r.orderStatus === 'shipped')!;
    expect(typeof shipped.orderTotal).toBe('number');
    expect(shipped.shipDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(connector.tables[0]!.columns!.orderTotal).toBe('DECIMAL(18,2)');
  });

  it('converts records created and modified inside the DST transitions to exact UTC instants', async () => {
    const { records } = await readTable(connector, config, 'orders', { since: '2024-03-10T00:00:00.000Z' });
    const byNote = (s: string) => {
      const id = h.dst.orders.find((d) => d.note.includes(s))!.orderId;
      return records.find((r) => r.orderId === id)!;
    };
    // Unambiguous around the fall-back hour.
    expect(byNote('00:59:59.99 PDT')).toMatchObject({ createDate: '2024-11-03T07:59:59.990000Z', modifyDate: '2024-11-03T10:00:00.000000Z' });
    // Second pass (PST) through 01:xx: the standard-time reading is the truth.
    expect(byNote('second (PST)')).toMatchObject({ createDate: '2024-11-03T09:15:00.010000Z', modifyDate: '2024-11-03T09:45:00.020000Z' });
    // Modified "before" created on the wall clock: creation was in the first (PDT) pass; both exact.
    expect(byNote('wall clock goes backwards')).toMatchObject({ createDate: '2024-11-03T08:50:00.200000Z', modifyDate: '2024-11-03T09:10:00.300000Z' });
    expect(byNote('01:59:59.997 PDT')).toMatchObject({ createDate: '2024-11-03T08:59:59.997000Z', modifyDate: '2024-11-03T09:00:00.003000Z' });
    // Nothing in the record tells the first pass from the second: documented standard-time reading (+1 h).
    expect(byNote('first (PDT)')).toMatchObject({ createDate: '2024-11-03T09:20:00.123000Z', modifyDate: '2024-11-03T09:50:00.457000Z' });
    // Spring forward: exact on both sides of the gap; a client-supplied time inside the gap does not crash.
    expect(byNote('01:59:59.5 PST')).toMatchObject({ createDate: '2024-03-10T09:59:59.500000Z', modifyDate: '2024-03-10T10:00:00.500000Z', orderDate: '2024-03-10T10:30:00.000000Z' });
    expect(byNote('lies in the gap')).toMatchObject({ createDate: '2024-03-10T10:30:00.000000Z', orderDate: '2024-03-10T10:15:00.000000Z' });
  });

  it('never misses a record changed in the repeated fall-back hour, whatever the saved cursor', async () => {
    const truth = h.store.truth('orders');
    const { records: all } = await readTable(connector, config, 'orders', { since: '2024-03-01T00:00:00Z' });
    for (const d of h.dst.orders) {
      const converted = all.find((r) => r.orderId === d.orderId)!;
      const trueMod = truth.find((o) => o.orderId === d.orderId)!.modifyDate as string;
      // The engine saves the converted value as the cursor; the next sync starts there.
      const { records } = await readTable(connector, config, 'orders', { since: converted.modifyDate as string });
      const got = new Set(records.map((r) => r.orderId));
      const mustHave = truth.filter((o) => (o.modifyDate as string) >= trueMod).map((o) => o.orderId);
      expect(mustHave.filter((id) => !got.has(id)), d.note).toEqual([]);
    }
    expect(pacificLowerBound('2024-11-03T09:50:00.457000Z')).toBe('2024-11-03 00:50:00');
    expect(pacificLowerBound('2024-11-03T08:50:00.457Z')).toBe('2024-11-03 00:50:00');
    expect(pacificLowerBound('2024-11-03T10:00:00.000Z')).toBe('2024-11-03 02:00:00');
    expect(pacificLowerBound('2024-03-10T10:00:00.500Z')).toBe('2024-03-10 03:00:00');
    expect(pacificLowerBound('2024-07-01T19:30:59.999Z')).toBe('2024-07-01 12:30:59');
    // Page anchors: the raw wall clock, widened the same way.
    expect(wallLowerBound('2024-11-03T01:40:00.1230000')).toBe('2024-11-03 00:40:00');
    expect(wallLowerBound('2024-11-03T02:00:00.0000000')).toBe('2024-11-03 02:00:00');
    expect(wallLowerBound('2024-07-01T12:30:59.9990000')).toBe('2024-07-01 12:30:59');
    expect(wallLowerBound('2024-07-01')).toBeUndefined();
  });

  it('incremental by modifyDate picks up updates; by createDate only new orders', async () => {
    const { records: all } = await readTable(connector, config, 'orders');
    const cursor = all.map((r) => r.modifyDate as string).sort().at(-1)!;
    const target = all[10]!.orderId as number;
    h.store.update('orders', target, { orderStatus: 'cancelled' }, { at: Date.parse(cursor) + 3_600_000 });
    const fresh = h.generator.order(Date.parse(cursor) + 7_200_000);
    const before = h.requests.length;
    const { records } = await readTable(connector, config, 'orders', { since: cursor });
    const q = new URLSearchParams(h.requests[before]!.query);
    expect(q.get('modifyDateStart')).toBe(pacificLowerBound(cursor));
    const got = ids(records, 'orderId');
    expect(got).toEqual(expect.arrayContaining([target, fresh.orderId as number]));
    expect(records.every((r) => (r.modifyDate as string) >= cursor)).toBe(true);
    expect(records.find((r) => r.orderId === target)!.orderStatus).toBe('cancelled');

    const createdCursor = all.map((r) => r.createDate as string).sort().at(-1)!;
    const b2 = h.requests.length;
    const byCreate = await readTable(connector, config, 'orders', { cursorField: 'createDate', since: createdCursor });
    const q2 = new URLSearchParams(h.requests[b2]!.query);
    expect([q2.get('sortBy'), q2.get('createDateStart'), q2.get('modifyDateStart')]).toEqual(['CreateDate', pacificLowerBound(createdCursor), null]);
    const createdIds = ids(byCreate.records, 'orderId');
    expect(createdIds).toContain(fresh.orderId);
    expect(createdIds).not.toContain(target);
    const expected = h.store.truth('orders').filter((o) => Date.parse(o.createDate as string) >= Date.parse(createdCursor) - 1000).map((o) => o.orderId as number);
    expect(createdIds).toEqual(expected.sort((a, b) => a - b));
    await expect(readTable(connector, config, 'orders', { cursorField: 'orderDate' })).rejects.toThrow(/cursor "orderDate" is not supported/);
  });

  it('reads shipments and fulfillments by createDate, including the DST-hour ones', async () => {
    for (const [table, pk] of [['shipments', 'shipmentId'], ['fulfillments', 'fulfillmentId']] as const) {
      const { records } = await readTable(connector, config, table);
      expect(ids(records, pk)).toEqual(truthIds(h, table, pk));
      const truth = new Map(h.store.truth(table).map((r) => [r[pk], r]));
      for (const r of records) {
        const t = truth.get(r[pk])!;
        expect(r.createDate, `${table} ${r[pk]}`).toBe(asRead(t.createDate as string));
      }
      const since = '2024-11-03T09:30:00Z';
      const b = h.requests.length;
      const inc = await readTable(connector, config, table, { since });
      expect(new URLSearchParams(h.requests[b]!.query).get('createDateStart')).toBe('2024-11-03 00:30:00');
      expect(new URLSearchParams(h.requests[b]!.query).get('sortBy')).toBe('CreateDate');
      const want = h.store.truth(table).filter((r) => (r.createDate as string) >= since).map((r) => r[pk]);
      expect(ids(inc.records, pk)).toEqual(expect.arrayContaining(want));
    }
  });

  it('full refresh of products, customers, stores and warehouses matches the store after deletions', async () => {
    for (const [table, pk] of [['products', 'productId'], ['customers', 'customerId'], ['stores', 'storeId'], ['warehouses', 'warehouseId']] as const) {
      const first = await readTable(connector, config, table);
      expect(ids(first.records, pk), table).toEqual(truthIds(h, table, pk));
      const victims = first.records.slice(0, Math.min(2, first.records.length - 1)).map((r) => r[pk] as number);
      for (const id of victims) h.store.delete(table, id);
      const second = await readTable(connector, config, table);
      expect(ids(second.records, pk), table).toEqual(truthIds(h, table, pk));
      for (const id of victims) expect(ids(second.records, pk)).not.toContain(id);
      const t = new Map(h.store.truth(table).map((r) => [r[pk], r]));
      for (const r of second.records) expect(r.createDate).toBe(asRead(t.get(r[pk])!.createDate as string));
    }
  });

  it('resumes after the page checkpoint', async () => {
    const first = await readTable(connector, config, 'orders', {}, { maxPages: 1 });
    expect(first.checkpoints).toEqual([{ state: { anchor: expect.any(String), page: 1 }, last: [expect.any(String)] }]);
    const rest = await readTable(connector, config, 'orders', { checkpoint: first.checkpoints[0] });
    expect(rest.pages).toBe(2);
    expect(new Set([...first.records, ...rest.records].map((r) => r.orderId)).size).toBe(h.store.count('orders'));
    const products = await readTable(connector, config, 'products', {}, { maxPages: 1 });
    expect(products.checkpoints).toEqual([{ done: true }]);
    const done = await readTable(connector, config, 'stores', { checkpoint: { done: true } });
    expect(done.records).toEqual([]);
  });

  it('an order modified mid-sync does not make another slip past a page boundary', async () => {
    const first = await readTable(connector, config, 'orders', {}, { maxPages: 1 });
    // Between two pages, an order on the first page changes: it moves to the end of the ordering.
    const moved = first.records[7]!.orderId as number;
    h.store.update('orders', moved, { orderStatus: 'on_hold' });
    const rest = await readTable(connector, config, 'orders', { checkpoint: first.checkpoints[0] });
    const got = new Set([...first.records, ...rest.records].map((r) => r.orderId));
    expect(h.store.list('orders').filter((o) => !got.has(o.orderId)).map((o) => o.orderId)).toEqual([]);
    expect(rest.records.find((r) => r.orderId === moved)?.orderStatus).toBe('on_hold');
  });

  it('retries a 500 and an HTML error page from an edge proxy, then lands every record', async () => {
    h.faults.push({ times: 1, match: (r) => r.path === '/shipments', kind: { type: 'status', status: 500, body: { Message: 'An error has occurred.' } } });
    h.faults.push({ times: 1, match: (r) => r.path === '/shipments', kind: { type: 'html', status: 502 } });
    const { records, events } = await readTable(connector, config, 'shipments');
    expect(ids(records, 'shipmentId')).toEqual(truthIds(h, 'shipments', 'shipmentId'));
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(2);
    expect(h.faults.every((f) => f.times === 0)).toBe(true);
  });

  it('check: ok with the demo keys; operator messages for bad keys and plans without API access', async () => {
    const ok = await check(config);
    expect(ok.ok).toBe(true);
    expect(ok.message).toMatch(/orders visible/);
    const bad = await check({ ...config, apiSecret: 'wrong-secret-123' }).catch((e) => e);
    expect(bad).toBeInstanceOf(SluiceError);
    expect(bad.kind).toBe('auth');
    expect(bad.message).toContain(AUTH_FAILED);
    expect(bad.message).not.toContain('wrong-secret-123');
    for (const status of [402, 403] as const) {
      h.noApiStatus = status;
      const denied = await check({ ...config, ...{ apiKey: h.noApiCredentials.apiKey, apiSecret: h.noApiCredentials.apiSecret } }).catch((e) => e);
      expect(denied.kind).toBe('permission');
      expect(denied.message).toContain(NO_API_ACCESS);
      expect(denied.retryable).toBe(false);
    }
    const readErr = await readTable(connector, { ...config, apiKey: 'nobody' }, 'orders').catch((e) => e);
    expect(readErr.kind).toBe('auth');
  });
});

describe('shipstation rate limit', () => {
  it('spends the whole budget, waits exactly until the window resets, and never hits a 429 (2 s window, 10 requests)', async () => {
    // Small pages: this measures the governor, not how fast 1.5 MB pages render (bench/shipstation.ts does both).
    const h = await start({ seed: 9, orders: 120, customers: 600, rateLimit: { limit: 10, windowMs: 2000 } });
    try {
      const config = sourceConfig(h);
      const cfg = connector.config.parse(config);
      const client = connector.connect(cfg, { source: 'test', log: console, report: () => {} });
      const t0 = Date.now();
      // Every table of the source at once through one shared client (the budget is per key pair), and
      // alongside, three loops of small reads (36 requests) so that demand never stops.
      const small = ['stores', 'warehouses', 'products', 'fulfillments'];
      const events: { type: string; reason?: string }[] = [];
      const [runs] = await Promise.all([
        Promise.all(connector.tables.map((t) => readTable(connector, config, t.name, {}, { client }).then((r) => ({ table: t.name, ...r })))),
        ...[0, 1, 2].map(async (k) => {
          for (let i = 0; i < 12; i++) events.push(...(await readTable(connector, config, small[(i + k) % small.length]!, {}, { client })).events);
        }),
      ]);
      expect(h.throttled()).toBe(0);
      const requests = h.requests.filter((r) => r.at >= t0);
      expect(requests.every((r) => r.status === 200)).toBe(true);
      const first = runs.reduce((n, r) => n + r.pages, 0);
      expect(first).toBe(1 + 1 + 1 + 1 + 2 + 1 + 1);
      expect(requests.length).toBe(first + 36);
      for (const r of runs) {
        const pk = connector.tables.find((t) => t.name === r.table)!.primaryKey[0];
        expect(ids(r.records, pk), r.table).toEqual(truthIds(h, r.table as any, pk));
      }
      const waits = [...runs.flatMap((r) => r.events), ...events].filter((e) => e.type === 'wait');
      expect(waits.length).toBeGreaterThanOrEqual(4);
      for (const w of waits) expect((w as { reason: string }).reason).toMatch(/^rate limited, resuming in [12] s$/);
      // The whole budget spent in every window but the last, and each window opened right at the reset.
      const windows = h.windows();
      const total = first + 36;
      expect(windows.map((w) => w.count)).toEqual([...Array(Math.floor(total / 10)).fill(10), ...(total % 10 ? [total % 10] : [])]);
      for (let i = 1; i < windows.length; i++) expect(windows[i]!.start - windows[i - 1]!.end).toBeLessThan(400);
      for (let i = 2; i < windows.length; i++) expect(windows[i]!.start - windows[i - 1]!.end).toBeLessThan(200);
    } finally {
      await h.close();
    }
  });

  it('on a 429 (another application spent the budget) waits X-Rate-Limit-Reset seconds and reports it', async () => {
    const h = await start({ seed: 2, orders: 50, customers: 20, rateLimit: { limit: 10, windowMs: 2000 } });
    try {
      const config = sourceConfig(h);
      await fetch(h.url + '/stores', { headers: { authorization: 'Basic ' + Buffer.from(`${h.credentials.apiKey}:${h.credentials.apiSecret}`).toString('base64') } });
      h.consume(9);
      const t0 = Date.now();
      const { records, events } = await readTable(connector, config, 'orders');
      expect(ids(records, 'orderId')).toEqual(truthIds(h, 'orders', 'orderId'));
      expect(h.throttled()).toBe(1);
      expect(events.some((e) => e.type === 'wait' && /^rate limited, resuming in 2 s$/.test(e.reason))).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    } finally {
      await h.close();
    }
  });

  it('tolerates a reset header rounded down: the margin learns, then no more 429s', async () => {
    const h = await start({ seed: 3, orders: 30, customers: 10, rateLimit: { limit: 4, windowMs: 1500, resetRounding: 'floor' } });
    try {
      const config = sourceConfig(h);
      const cfg = connector.config.parse(config);
      const client = connector.connect(cfg, { source: 'test', log: console, report: () => {} });
      for (let i = 0; i < 6; i++) await readTable(connector, config, 'stores', {}, { client }).then((r) => expect(r.records.length).toBe(3));
      const early = h.throttled();
      for (let i = 0; i < 16; i++) await readTable(connector, config, 'warehouses', {}, { client });
      expect(h.throttled() - early).toBe(0);
      expect(early).toBeGreaterThanOrEqual(1); // the first reset came too early: that is how it learns
      expect(early).toBeLessThanOrEqual(2);
    } finally {
      await h.close();
    }
  });
});
