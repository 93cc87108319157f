import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyText } from '@sluice/testing/temporal';
import { start as startPostHog, PostHogProject, type PostHogEmulator } from '@sluice/emulators/posthog/index';
import { start as startShopify, sourceConfig as shopifyConfig, type ShopifyEmulator } from '@sluice/emulators/shopify/index';
import { start as startCt, sourceConfig as ctConfig, type Handle as CtEmulator } from '@sluice/emulators/commercetools/index';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';

/**
 * Commerce into PostHog, end to end through Temporal: a Shopify and a commercetools source are synced into
 * the lake, their exports send customers as persons and orders as events to the PostHog emulator's
 * capture API, exactly once: a second run sends nothing, changes send exactly the changes, a worker
 * killed mid-export leaves no duplicate and no gap, a refused key fails clearly with the cursor unchanged.
 */
const SHOP_KEY = 'phc_shopExportTestKey0123456789abcdefghijklmn';
const CT_KEY = 'phc_ctExportTestKey0123456789abcdefghijklmnop';
const SHOP_PROJECT = 6101;
const CT_PROJECT = 6102;

let ph: PostHogEmulator;

const events = (projectId: number, name?: string) => ph.projects.get(projectId)!.events.filter((e) => name === undefined || e.event === name);
const received = (projectId: number) => ph.capture.received.filter((e) => e.projectId === projectId);
const dupUuids = (projectId: number) => {
  const uuids = events(projectId).map((e) => e.uuid);
  return uuids.length - new Set(uuids).size;
};

async function until(cond: () => boolean, timeoutMs = 120_000) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  ph = await startPostHog({ events: 0, customers: [] });
  for (const [id, key] of [[SHOP_PROJECT, SHOP_KEY], [CT_PROJECT, CT_KEY]] as const) {
    ph.projects.set(id, new PostHogProject(id, `exports ${id}`, id));
    ph.capture.tokens.set(key, id);
  }
  process.env.EXPORT_TEST_SHOP_KEY = SHOP_KEY;
  process.env.EXPORT_TEST_CT_KEY = CT_KEY;
});
afterAll(async () => {
  await ph?.close();
});

describe('export: shopify → PostHog (after each sync)', () => {
  let shop: ShopifyEmulator;
  let env: SluiceEnv;
  const sources = (): SourceYaml[] => [
    { name: 'exp_shop', type: 'shopify', config: { ...shopifyConfig(shop), bulk: { mode: 'never' } }, tables: { customers: { mode: 'incremental' }, orders: { mode: 'incremental' } } },
  ];
  const exportsBlock = () => ({
    exports: [{ name: 'exp_shop_ph', type: 'posthog', from: 'exp_shop', config: { host: ph.url, projectApiKey: '${EXPORT_TEST_SHOP_KEY}', batchSize: 50 } }],
  });

  beforeAll(async () => {
    shop = await startShopify({ seed: 31, orders: 150, customers: 40, products: 6, restoreRate: 1_000_000 });
    env = await sluiceEnv({ sources: sources(), extra: exportsBlock() });
  });
  afterAll(async () => {
    await env?.close();
    await shop?.close();
  });

  const lastExport = () => env.client.workflow.getHandle('sluice:export:exp_shop_ph').result() as Promise<{ persons: number; events: number; batches: number }>;

  it('a sync starts the export: one person per distinct customer, one `order completed` per order', async () => {
    const r = await env.run('sync', 'exp_shop');
    expect(r.code, r.stderr).toBe(0);
    const result = await lastExport();
    const customers = [...shop.store.customers.values()];
    const distinct = new Set(customers.map((c) => (c.email ? c.email.toLowerCase() : `gid://shopify/Customer/${c.id}`)));
    const project = ph.projects.get(SHOP_PROJECT)!;
    expect(project.persons.size).toBe(distinct.size);
    expect(events(SHOP_PROJECT, '$identify').length).toBe(customers.length);
    expect(events(SHOP_PROJECT, 'order completed').length).toBe(shop.store.orders.size);
    expect(new Set(events(SHOP_PROJECT, 'order completed').map((e) => e.properties.order_id)).size).toBe(shop.store.orders.size);
    expect(dupUuids(SHOP_PROJECT)).toBe(0);
    expect(result.persons).toBe(customers.length);
    expect(result.events).toBe(received(SHOP_PROJECT).length);

    // A customer's person carries what the store knows of them, and their orders are on that person.
    const c = customers.find((x) => x.email && [...shop.store.orders.values()].some((o) => o.customerId === x.id))!;
    const personId = project.pdi.get(c.email!.toLowerCase())!;
    expect(project.persons.get(personId)!.properties).toMatchObject({ email: c.email!.toLowerCase(), shopify_customer_id: `gid://shopify/Customer/${c.id}` });
    expect(project.persons.get(personId)!.is_identified).toBe(true);
    const theirs = [...shop.store.orders.values()].filter((o) => o.customerId === c.id).length;
    expect(events(SHOP_PROJECT, 'order completed').filter((e) => project.pdi.get(e.distinct_id) === personId).length).toBe(theirs);

    // Revenue adds up to the warehouse's.
    const [w] = await env.query<{ revenue: string }>('SELECT sum("totalPrice") AS revenue FROM exp_shop.orders');
    const sent = events(SHOP_PROJECT, 'order completed').reduce((s, e) => s + Math.round(Number(e.properties.revenue) * 100), 0);
    expect(sent).toBe(Math.round(Number(w!.revenue) * 100));
  });

  it('a second export sends nothing', async () => {
    const before = received(SHOP_PROJECT).length;
    const batches = ph.capture.batches;
    const r = await env.run('export', 'exp_shop_ph', '--json');
    expect(r.code, r.stderr).toBe(0);
    const [res] = JSON.parse(r.stdout) as { persons: number; events: number; batches: number }[];
    expect(res).toMatchObject({ persons: 0, events: 0, batches: 0 });
    expect(received(SHOP_PROJECT).length).toBe(before);
    expect(ph.capture.batches).toBe(batches);
  });

  it('10 new orders and 3 changed customers: exactly those are sent, through a 500 and a 429', async () => {
    const maxUpdated = [...shop.store.orders.values(), ...shop.store.customers.values()].map((o) => o.updatedAt).sort().at(-1)!;
    shop.store.clock = () => Date.parse(maxUpdated) + 86_400_000;
    const customerIds = [...shop.store.customers.keys()];
    const variants = [...shop.store.variants.keys()];
    const created = Array.from({ length: 10 }, (_, i) => shop.store.createOrder({ customerId: customerIds[i % 5]!, variantIds: variants.slice(0, 2), quantity: 1 }));
    const changed = [customerIds[11]!, customerIds[12]!, customerIds[13]!].map((id, i) => shop.store.update('customers', id, { phone: `+1555000999${i}` }));
    ph.faults.push({ match: (req) => req.path.startsWith('/batch'), times: 1, kind: { type: 'status', status: 500 } });
    ph.faults.push({ match: (req) => req.path.startsWith('/batch'), times: 1, kind: { type: 'status', status: 429, headers: { 'retry-after': '1' }, body: { type: 'throttled', detail: 'slow down' } } });
    const before = received(SHOP_PROJECT).length;
    const requestsBefore = ph.requests.filter((r) => r.path.startsWith('/batch')).length;
    const r = await env.run('sync', 'exp_shop');
    expect(r.code, r.stderr).toBe(0);
    const result = await lastExport();
    const sent = received(SHOP_PROJECT).slice(before);
    expect(sent.filter((e) => e.event === 'order completed').map((e) => e.properties.order_id).sort()).toEqual(created.map((o) => `gid://shopify/Order/${o.id}`).sort());
    expect(sent.filter((e) => e.event === '$identify').map((e) => (e.properties.$set as { shopify_customer_id: string }).shopify_customer_id).sort()).toEqual(changed.map((c) => `gid://shopify/Customer/${c.id}`).sort());
    expect(sent.length).toBe(13);
    expect(result).toMatchObject({ persons: 3, events: 13 });
    // The faults were met and retried: two refused requests before the accepted one.
    const statuses = ph.requests.filter((q) => q.path.startsWith('/batch')).slice(requestsBefore).map((q) => q.status);
    expect(statuses.slice(0, 3)).toEqual([500, 429, 200]);
    const project = ph.projects.get(SHOP_PROJECT)!;
    expect(project.persons.get(project.pdi.get(changed[0]!.email!.toLowerCase())!)!.properties.phone).toBe('+15550009990');
    expect(dupUuids(SHOP_PROJECT)).toBe(0);
  });

  it('status lists the export with its cursor and outcome; check verifies the key; the key is nowhere in history or output', async () => {
    const s = await env.run('status', '--json');
    expect(s.code, s.stderr).toBe(0);
    const row = (JSON.parse(s.stdout) as { kind?: string; export?: string; outcome: string; cursor: { orders?: { updatedUs: number } } }[]).find((x) => x.kind === 'export')!;
    expect(row).toMatchObject({ export: 'exp_shop_ph', outcome: 'succeeded' });
    const newest = [...shop.store.orders.values()].map((o) => Date.parse(o.updatedAt)).sort((a, b) => a - b).at(-1)!;
    expect(Math.floor(row.cursor.orders!.updatedUs / 1000)).toBe(newest);
    const text = await env.run('status');
    expect(text.stdout).toMatch(/exp_shop_ph .*after_sync/);

    const c = await env.run('check', 'exp_shop_ph');
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('✓ export exp_shop_ph');
    const hist = historyText(await env.client.workflow.getHandle('sluice:export:exp_shop_ph').fetchHistory());
    expect(hist).not.toContain(SHOP_KEY);
    expect(hist).toContain('exp_shop_ph');
    for (const out of [s, text, c]) expect(out.stdout + out.stderr).not.toContain(SHOP_KEY);
    const lake = await env.query<{ n: number }>(`SELECT count(*) AS n FROM sluice.exports WHERE CAST("cursor" AS VARCHAR) LIKE '%${SHOP_KEY.slice(4, 20)}%' OR coalesce(error, '') LIKE '%${SHOP_KEY.slice(4, 20)}%'`);
    expect(Number(lake[0]!.n)).toBe(0);
  });

  it('an export on a clock of its own gets a Temporal Schedule; status shows its next run', async () => {
    const block = exportsBlock();
    (block.exports[0] as Record<string, unknown>).schedule = { every: '2h' };
    await env.writeConfig(sources(), block);
    const scheduleId = 'sluice-schedule:sluice:export:exp_shop_ph';
    try {
      const r = await env.run('schedules', 'apply');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/export exp_shop_ph\s+every 2h\s+created/);
      const d = await env.client.schedule.getHandle(scheduleId).describe();
      expect(d.spec.intervals?.[0]?.every).toBe(7_200_000);
      expect(d.action).toMatchObject({ workflowType: 'exportToPostHog', workflowId: 'sluice:export:exp_shop_ph', taskQueue: env.taskQueue, args: [{ name: 'exp_shop_ph', trigger: 'schedule' }] });
      expect(historyText(d.action)).not.toContain(SHOP_KEY);
      const row = (JSON.parse((await env.run('status', '--json')).stdout) as { kind?: string; schedule: string; nextRun: string }[]).find((x) => x.kind === 'export')!;
      expect(row.schedule).toBe('every 2h');
      const inMs = Date.parse(row.nextRun) - Date.now();
      expect(inMs).toBeGreaterThan(0);
      expect(inMs).toBeLessThanOrEqual(7_200_000 + 60_000);
      // Back to after_sync: the schedule goes.
      await env.writeConfig(sources(), exportsBlock());
      expect((await env.run('schedules', 'apply')).stdout).toMatch(/export exp_shop_ph\s+deleted/);
    } finally {
      await env.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
      await env.client.schedule.getHandle(`sluice-schedule:sluice:maintenance:${env.taskQueue}`).delete().catch(() => undefined);
    }
  });
});

describe('export: commercetools → PostHog, worker killed mid-export, refused key', () => {
  let ct: CtEmulator;
  let env: SluiceEnv;
  const workers: ChildProcess[] = [];
  let workerLogs = '';
  // Real `sluice worker` processes, logging JSON at debug level (read for the key at the end).
  const startWorker = async () => {
    const w = await env.workerProcess({ SLUICE_LOG_FORMAT: 'json', SLUICE_LOG_LEVEL: 'debug' });
    w.stdout!.on('data', (d) => (workerLogs += d));
    w.stderr!.on('data', (d) => (workerLogs += d));
    workers.push(w);
  };
  const sources = (): SourceYaml[] => [{ name: 'exp_ct', type: 'commercetools', config: ctConfig(ct), tables: { customers: { mode: 'incremental' }, orders: { mode: 'incremental' } } }];
  const extra = () => ({ exports: [{ name: 'exp_ct_ph', type: 'posthog', from: 'exp_ct', schedule: 'manual', config: { host: ph.url, projectApiKey: '${EXPORT_TEST_CT_KEY}', batchSize: 20 } }] });

  beforeAll(async () => {
    ct = await startCt({ seed: 77, counts: { customers: 120, orders: 300, carts: 5, payments: 5, 'product-projections': 5, categories: 3, 'discount-codes': 2, inventory: 2 } });
    env = await sluiceEnv({ worker: false, sources: sources(), extra: extra() });
    await startWorker();
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await env?.close();
    await ct?.close();
  });

  const cursorOf = async () => {
    const s = await env.run('status', '--json');
    return (JSON.parse(s.stdout) as { kind?: string; cursor: unknown }[]).find((x) => x.kind === 'export')!.cursor;
  };

  it('the worker is SIGKILLed mid-export; the next worker carries on: same counts, no duplicate uuid, at most one batch re-sent', async () => {
    const r = await env.run('sync', 'exp_ct');
    expect(r.code, r.stderr).toBe(0);
    // Slow PostHog down so the export is still sending when the worker dies.
    ph.faults.push({ match: (req) => req.path.startsWith('/batch'), kind: { type: 'delay', ms: 150 } });
    const batchesBefore = ph.capture.batches;
    const run = env.run('export', 'exp_ct_ph', '--json');
    await until(() => ph.capture.batches - batchesBefore >= 6);
    workers[0]!.kill('SIGKILL');
    const killedAt = received(CT_PROJECT).length;
    await startWorker();
    const res = await run;
    ph.faults.length = 0;
    expect(res.code, res.stderr).toBe(0);
    expect(killedAt).toBeLessThan(received(CT_PROJECT).length);
    // The run's counts include what the killed attempt committed (the retried attempt carried them on):
    // every event PostHog holds, the batch in flight at the kill counted once.
    const [result] = JSON.parse(res.stdout) as { persons: number; events: number }[];
    expect(result!.events).toBe(events(CT_PROJECT).length);
    expect(result!.persons).toBe(events(CT_PROJECT, '$identify').length);

    const customers = ct.store.all('customers');
    const orders = ct.store.all('orders');
    const project = ph.projects.get(CT_PROJECT)!;
    expect(project.persons.size).toBe(new Set(customers.map((c) => String(c.email).toLowerCase())).size);
    expect(events(CT_PROJECT, '$identify').length).toBe(customers.length);
    expect(events(CT_PROJECT, 'order completed').length).toBe(orders.length);
    expect(events(CT_PROJECT, 'order cancelled').length).toBe(orders.filter((o) => o.orderState === 'Cancelled').length);
    expect(dupUuids(CT_PROJECT)).toBe(0);
    // What was sent twice is at most the batch in flight when the worker died (batches of 20 events).
    const resent = received(CT_PROJECT).filter((e) => e.duplicate).length;
    expect(resent).toBeLessThanOrEqual(20);
    // Guest orders made no person; orders of known customers went to their person.
    const known = new Set(customers.map((c) => c.id));
    const guest = orders.filter((o) => !known.has(o.customerId as string)).length;
    expect(events(CT_PROJECT, 'order completed').filter((e) => e.properties.$process_person_profile === false).length).toBe(guest);

    const again = await env.run('export', 'exp_ct_ph', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)[0]).toMatchObject({ events: 0, batches: 0 });
  });

  it('a refused key (401) fails with a clear message and the cursor unchanged; fixed, the export sends exactly what is new', async () => {
    const customerIds = ct.store.all('customers').map((c) => String(c.id));
    // (five minutes ago: an export leaves the last minute before a sync, its lookback, to the next run)
    const fresh = [0, 1, 2].map((i) => ct.store.insert('orders', { customerId: customerIds[i], orderState: 'Open' }, { at: Date.now() - 5 * 60_000 }));
    const r = await env.run('sync', 'exp_ct');
    expect(r.code, r.stderr).toBe(0);
    const cursor = await cursorOf();
    ph.capture.tokens.delete(CT_KEY);
    const before = received(CT_PROJECT).length;
    const failed = await env.run('export', 'exp_ct_ph');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('PostHog refused the project API key of export "exp_ct_ph" (HTTP 401');
    expect(failed.stderr).toContain('phc_');
    expect(failed.stdout + failed.stderr).not.toContain(CT_KEY);
    expect(received(CT_PROJECT).length).toBe(before);
    expect(await cursorOf()).toEqual(cursor);
    const status = JSON.parse((await env.run('status', '--json')).stdout) as { kind?: string; outcome: string; error: string }[];
    expect(status.find((x) => x.kind === 'export')).toMatchObject({ outcome: 'failed', error: expect.stringContaining('HTTP 401') });
    const check = await env.run('check', 'exp_ct_ph');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('✗ export exp_ct_ph');

    ph.capture.tokens.set(CT_KEY, CT_PROJECT);
    const ok = await env.run('export', 'exp_ct_ph', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    const sent = received(CT_PROJECT).slice(before);
    expect(sent.map((e) => e.properties.order_id).sort()).toEqual(fresh.map((o) => o.id).sort());
    expect(sent.every((e) => e.event === 'order completed')).toBe(true);

    // The workers logged the export (its outcome, the refused key) and never the key.
    await new Promise((r) => setTimeout(r, 300));
    expect(workerLogs).toContain('export exp_ct_ph: ');
    expect(workerLogs).toContain('PostHog refused the project API key of export');
    expect(workerLogs).not.toContain(CT_KEY);
  });
});
