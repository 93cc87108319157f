import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/core';
import { WarehousePaths, insertSyncSql, withLake } from '@sluice/warehouse';
import { readExportState } from '@sluice/warehouse/exports';
import { start as startPostHog, PostHogProject, type PostHogEmulator } from '@sluice/emulators/posthog/index';
import { exportOnce } from '../src/export-activity';
import type { Runtime, RuntimeTable } from '../src/runtime';
import type { RuntimeExport } from '../src/export-shared';

/**
 * One export run (exportOnce: what the activity runs) on a real lake and the PostHog emulator, without
 * Temporal: the cursor across runs, cancellations and refunds of known orders, column policies, a lake
 * without the source's tables, and a 400 that leaves the cursor alone.
 */
const KEY = 'phc_exportOnceTestKey0123456789abcdefghijklm';
const PROJECT = 6201;
let ph: PostHogEmulator;
let dir: string;
let paths: WarehousePaths;

const exp = (o: Partial<RuntimeExport> = {}): RuntimeExport => ({
  name: 'once',
  type: 'posthog',
  from: 'once_shop',
  sourceType: 'shopify',
  schedule: 'manual',
  host: ph.url,
  projectApiKey: KEY,
  events: { order: 'order completed', refunded: 'order refunded', cancelled: 'order cancelled' },
  distinctId: 'email',
  batchSize: 3,
  ...o,
});
const CONNECTOR = { tables: [{ name: 'customers', cursor: { lookbackMs: 60_000 } }, { name: 'orders', cursor: { lookbackMs: 60_000 } }] } as never;
const rt = (e: RuntimeExport, tables: RuntimeTable[] = []): Runtime => ({
  warehouse: paths,
  sources: new Map([[e.from, { name: e.from, type: 'shopify', connector: CONNECTOR, config: {}, tables }]]),
  log: createLogger({ name: 'test', level: 'warn' }),
  views: () => [],
  exports: new Map([[e.name, e]]),
});
const run = (e: RuntimeExport, tables: RuntimeTable[] = []) => exportOnce(rt(e, tables), e, { runId: `r${Math.random()}`, heartbeat: () => undefined });
const sql = (q: string) => withLake(paths, {}, async ({ conn }) => void (await conn.run(q)));
const sent = () => ph.capture.received.filter((e) => e.projectId === PROJECT);

beforeAll(async () => {
  ph = await startPostHog({ events: 0, customers: [] });
  ph.projects.set(PROJECT, new PostHogProject(PROJECT, 'once', 1));
  ph.capture.tokens.set(KEY, PROJECT);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-export-once-'));
  paths = new WarehousePaths(path.join(dir, 'wh'));
});
afterAll(async () => {
  await ph.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('exportOnce', () => {
  it('a lake without the source tables: a clear error naming them, and nothing sent', async () => {
    await expect(run(exp())).rejects.toThrow(/the warehouse has no once_shop\.customers and once_shop\.orders yet: sync the source first \(`sluice sync once_shop`\)/);
    expect(sent()).toHaveLength(0);
  });

  it('sends persons then orders in bounded batches; later runs send only cancellations, refunds and new orders', async () => {
    await sql(`CREATE SCHEMA once_shop`);
    await sql(`CREATE TABLE once_shop.customers (id VARCHAR, email VARCHAR, "firstName" VARCHAR, "lastName" VARCHAR, phone VARCHAR, "numberOfOrders" BIGINT, "amountSpent" DECIMAL(18,2), "amountSpentCurrency" VARCHAR, "createdAt" TIMESTAMPTZ, "updatedAt" TIMESTAMPTZ)`);
    await sql(`INSERT INTO once_shop.customers SELECT 'c' || i, 'C' || i || '@Example.com', 'F' || i, 'L' || i, '+1' || i, 1, 10, 'USD', TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i), TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) FROM range(5) t(i)`);
    await sql(`CREATE TABLE once_shop.orders (id VARCHAR, name VARCHAR, email VARCHAR, "customerId" VARCHAR, "createdAt" TIMESTAMPTZ, "updatedAt" TIMESTAMPTZ, "cancelledAt" VARCHAR, "totalPrice" DECIMAL(18,2), "totalRefunded" DECIMAL(18,2), "currencyCode" VARCHAR, "lineItems" JSON)`);
    await sql(`INSERT INTO once_shop.orders SELECT 'o' || i, '#' || i, NULL, CASE WHEN i < 6 THEN 'c' || (i % 5) END, TIMESTAMPTZ '2024-02-01 00:00:00+00' + to_seconds(i), TIMESTAMPTZ '2024-02-01 00:00:00+00' + to_seconds(i), NULL, 10 + i, 0, 'USD', '[1,2]' FROM range(7) t(i)`);
    const r1 = await run(exp());
    expect(r1).toMatchObject({ persons: 5, events: 12, batches: 5 });
    const first = sent();
    expect(first.map((e) => e.event)).toEqual([...Array(5).fill('$identify'), ...Array(7).fill('order completed')]);
    expect(first.find((e) => e.properties.order_id === 'o6')!.properties.$process_person_profile).toBe(false);
    expect(first.find((e) => e.properties.order_id === 'o1')!.distinct_id).toBe('c1@example.com');
    expect(ph.projects.get(PROJECT)!.persons.size).toBe(5);

    // o2 cancelled, o3 refunded, a new order o7; nothing else changed.
    await sql(`UPDATE once_shop.orders SET "cancelledAt" = '2024-03-01T00:00:00Z', "updatedAt" = TIMESTAMPTZ '2024-03-01 00:00:00+00' WHERE id = 'o2'`);
    await sql(`UPDATE once_shop.orders SET "totalRefunded" = 5, "updatedAt" = TIMESTAMPTZ '2024-03-01 00:00:01+00' WHERE id = 'o3'`);
    await sql(`INSERT INTO once_shop.orders VALUES ('o7', '#7', NULL, 'c0', TIMESTAMPTZ '2024-03-02 00:00:00+00', TIMESTAMPTZ '2024-03-02 00:00:00+00', NULL, 99, 0, 'USD', '[1]')`);
    const before = sent().length;
    const r2 = await run(exp());
    expect(r2).toMatchObject({ persons: 0, events: 3 });
    expect(sent().slice(before).map((e) => [e.event, e.properties.order_id])).toEqual([
      ['order cancelled', 'o2'],
      ['order refunded', 'o3'],
      ['order completed', 'o7'],
    ]);
    expect((await run(exp())).events).toBe(0);
  });

  it('excluded or hashed columns are not sent; a hashed email makes the vendor id the distinct id', async () => {
    const e = exp({ name: 'once_policy' });
    const tables: RuntimeTable[] = [
      { name: 'customers', mode: 'incremental', columns: { exclude: ['phone'], hash: ['email'] } },
      { name: 'orders', mode: 'incremental' },
    ];
    const before = sent().length;
    await run(e, tables);
    const mine = sent().slice(before);
    const identify = mine.filter((x) => x.event === '$identify');
    expect(identify.map((x) => x.distinct_id).sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    for (const x of identify) expect(Object.keys(x.properties.$set as object).sort()).toEqual(['first_name', 'last_name', 'name', 'orders_count', 'shopify_customer_id', 'total_spent', 'total_spent_currency']);
    expect(mine.find((x) => x.properties.order_id === 'o1')!.distinct_id).toBe('c1');
  });

  it("records updated within the lookback before the newest sync's start wait for the next run", async () => {
    const e = exp({ name: 'once_horizon' });
    await run(e);
    const sync = (startedAt: string) =>
      sql(insertSyncSql({ source: 'once_shop', table: 'orders', syncId: startedAt, mode: 'incremental', fullRefresh: false, startedAt, finishedAt: startedAt, outcome: 'succeeded', rowsRead: 1, rowsWritten: 1, pages: 1, schemaChanges: [] }));
    await sql(`INSERT INTO once_shop.orders VALUES ('o8', '#8', NULL, 'c1', TIMESTAMPTZ '2024-04-01 00:00:30+00', TIMESTAMPTZ '2024-04-01 00:00:30+00', NULL, 5, 0, 'USD', '[1]')`);
    await sync('2024-04-01T00:01:00.000Z'); // 30 s after o8: the vendor may still commit an older change
    const before = sent().length;
    expect((await run(e)).events).toBe(0);
    await sync('2024-04-01T00:05:00.000Z');
    expect((await run(e)).events).toBe(1);
    expect(sent().slice(before).map((x) => x.properties.order_id)).toEqual(['o8']);
  });

  it("a customer PostHog already knows (identified on the storefront) is linked to that person, not made twice", async () => {
    // A storefront's project: visitors who logged in are persons identified by the shop's customer emails.
    const shopPh = await startPostHog({ customers: 30, anonymousVisitors: 5, days: 10 });
    const store = shopPh.project;
    const known = shopPh.customers.map((c) => c.email.toLowerCase()).filter((e) => store.pdi.has(e)).slice(0, 4);
    expect(known.length).toBe(4);
    await sql(`CREATE SCHEMA link_shop`);
    await sql(`CREATE TABLE link_shop.customers AS SELECT * FROM once_shop.customers WHERE false`);
    const emails = [...known, 'new1@example.com', 'new2@example.com'];
    await sql(`INSERT INTO link_shop.customers VALUES ${emails.map((e, i) => `('lc${i}', '${e}', 'F', 'L', NULL, 1, 10, 'USD', TIMESTAMPTZ '2024-01-01 00:00:00+00', TIMESTAMPTZ '2024-01-01 00:00:00+00')`).join(', ')}`);
    await sql(`CREATE TABLE link_shop.orders AS SELECT * FROM once_shop.orders WHERE false`);
    const personsBefore = store.persons.size;
    const personOf = (e: string) => store.pdi.get(e);
    const before = known.map(personOf);
    try {
      const r = await run(exp({ name: 'once_link', from: 'link_shop', host: shopPh.url, projectApiKey: `phc_${shopPh.projectId}` }));
      expect(r.persons).toBe(6);
      expect(store.persons.size).toBe(personsBefore + 2);
      expect(known.map(personOf)).toEqual(before);
      expect(store.persons.get(personOf(known[0]!)!)!.properties.shopify_customer_id).toBe('lc0');
    } finally {
      await shopPh.close();
    }
  });

  it('a batch PostHog refuses (400) fails the run and leaves the cursor where it was', async () => {
    const e = exp({ name: 'once_refused' });
    ph.faults.push({ match: (r) => r.path.startsWith('/batch'), times: 1, kind: { type: 'status', status: 400, body: { type: 'validation_error', detail: 'bad batch' } } });
    await expect(run(e)).rejects.toThrow(/PostHog refused a batch of export "once_refused" \(HTTP 400: bad batch\)/);
    const state = await withLake(paths, { readOnly: true }, ({ conn }) => readExportState(conn, 'once_refused'));
    expect(state.cursor).toBeUndefined();
  });
});
