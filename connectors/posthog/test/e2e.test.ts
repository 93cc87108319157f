import fs from 'node:fs';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';
import { CONNECTORS } from '../../registry';
import { EMPTY_PROJECT_ID, NO_QUERY_SCOPE_KEY, start, sourceConfig, type PostHogEmulator } from '@sluice/emulators/posthog/index';
import { funnelStagesSql } from '../src/funnel';

/**
 * End to end through the real Temporal workflows into the warehouse: backfill, hourly lookback with
 * late-arriving events, identify linking, the query budget and 429s, check messages, and the funnel joined
 * with the Shopify emulator's orders.
 */
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const hasShopify = 'shopify' in CONNECTORS;

let ph: PostHogEmulator;
let shop: { url: string; close(): Promise<void>; store: { orders: Map<number, { id: number; email: string | null; createdAt: string }> } } | undefined;
let env: SluiceEnv;
let syncStarted = 0;
let syncEnded = 0;

const phSource = (config: Record<string, unknown> = {}): SourceYaml => ({ name: 'ph', type: 'posthog', config: { ...sourceConfig(ph), ...config } });

async function sources(config: Record<string, unknown> = {}): Promise<SourceYaml[]> {
  const list = [phSource({ funnel: { commerceSource: 'shop' }, ...config })];
  if (shop) {
    const { sourceConfig: shopConfig } = await import('@sluice/emulators/shopify/index');
    list.push({ name: 'shop', type: 'shopify', config: shopConfig(shop as never), tables: { orders: { mode: 'full_refresh' } } });
  }
  return list;
}

beforeAll(async () => {
  let orders: { id: number; email: string | null; createdAt: string }[] = [];
  if (hasShopify) {
    const s = await import('@sluice/emulators/shopify/index');
    // A generous cost bucket: the funnel, not Shopify's throttling, is under test here.
    shop = (await s.start({ customers: 200, orders: 120, bucketSize: 20_000, restoreRate: 10_000 })) as unknown as typeof shop;
    orders = [...(shop!.store.orders as Map<number, { id: number; email: string | null; createdAt: string }>).values()];
  }
  // The storefront's traffic: 35 recent days, plus the session that led to each Shopify order (2024-2025).
  ph = await start({ seed: 21, nowMs: Date.now() - HOUR, days: 35, orders });
  env = await sluiceEnv({ sources: await sources() });
});
afterAll(async () => {
  await env?.close();
  await ph?.close();
  await shop?.close();
});

describe('posthog end to end', () => {
  it('backfills backfillDays of events, persons, distinct ids and cohorts in a few large queries', async () => {
    const before = ph.queryLog.length;
    syncStarted = Date.now();
    const r = await env.run('sync', 'ph');
    syncEnded = Date.now();
    expect(r.code, r.stderr).toBe(0);
    const queries = ph.queryLog.length - before;
    expect(queries).toBeLessThanOrEqual(12); // 30 days of events in a handful of windows + persons + distinct ids

    const [ev] = await env.query<{ n: number; ids: number; min: string; max: string }>('SELECT count(*) n, count(DISTINCT uuid) ids, min("timestamp") min, max("timestamp") max FROM ph.events');
    const must = ph.project.events.filter((e) => e.timestampUs >= (syncEnded - 30 * DAY) * 1000).length;
    const may = ph.project.events.filter((e) => e.timestampUs >= (syncStarted - 30 * DAY) * 1000).length;
    expect(ev!.n).toBe(ev!.ids);
    expect(ev!.n).toBeGreaterThanOrEqual(must);
    expect(ev!.n).toBeLessThanOrEqual(may);
    expect(ev!.n).toBeLessThan(ph.project.events.length); // older than 30 days stays out

    // Spot-check values against the emulator, timestamps to the microsecond.
    const sample = ph.project.sortedEvents().filter((e) => e.event === 'product added to cart').slice(-5);
    const rows = await env.query<{ uuid: string; ts: string; url: string; sku: string }>(
      `SELECT uuid, strftime("timestamp" AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%f') ts, url, properties->>'sku' sku FROM ph.events WHERE uuid IN (${sample.map((e) => `'${e.uuid}'`).join(',')}) ORDER BY "timestamp"`,
    );
    expect(rows).toEqual(
      sample.map((e) => ({
        uuid: e.uuid,
        ts: new Date(Math.floor(e.timestampUs / 1000)).toISOString().slice(0, 19) + '.' + String(e.timestampUs % 1_000_000).padStart(6, '0'),
        url: e.properties.$current_url,
        sku: e.properties.sku,
      })),
    );

    const counts = await env.query<{ t: string; n: number }>(
      `SELECT 'persons' t, count(*) n FROM ph.persons UNION ALL SELECT 'pdi', count(*) FROM ph.person_distinct_ids UNION ALL SELECT 'cohorts', count(*) FROM ph.cohorts ORDER BY t`,
    );
    expect(counts).toEqual([
      { t: 'cohorts', n: ph.project.cohorts.length },
      { t: 'pdi', n: ph.project.pdi.size },
      { t: 'persons', n: ph.project.persons.size },
    ]);
    const daily = await env.query<{ total: number }>(`SELECT sum(count)::BIGINT total FROM ph.event_counts_daily`);
    expect(daily[0]!.total).toBe(ev!.n);
  });

  it('hourly sync re-reads lookbackHours: late-arriving events land once, nothing is duplicated or missed', async () => {
    const [{ max }] = (await env.query<{ max: string }>(`SELECT max("timestamp") max FROM ph.events`)) as [{ max: string }];
    const cursorMs = Date.parse(max);
    const late = ph.project.addEvent({ event: 'checkout started', distinct_id: 'late-e2e', timestamp: cursorMs - 3 * HOUR, properties: { $current_url: 'https://shop.example.com/checkout' } });
    const fresh = ph.project.addEvent({ event: '$pageview', distinct_id: 'late-e2e', timestamp: Date.now() - 60_000, properties: { $current_url: 'https://shop.example.com/products/mug' } });
    const [{ n: before }] = (await env.query<{ n: number }>('SELECT count(*) n FROM ph.events')) as [{ n: number }];
    const r = await env.run('sync', 'ph', '--table', 'events', '--json');
    expect(r.code, r.stderr).toBe(0);
    const [result] = JSON.parse(r.stdout);
    const t = result.tables.find((x: { table: string }) => x.table === 'events');
    // The lookback re-read the last 6 hours (more rows read than new), merge kept one row per uuid.
    expect(t.rowsRead).toBeGreaterThan(2);
    const [after] = await env.query<{ n: number; ids: number }>('SELECT count(*) n, count(DISTINCT uuid) ids FROM ph.events');
    expect(after).toEqual({ n: before + 2, ids: before + 2 });
    const got = await env.query<{ uuid: string }>(`SELECT uuid FROM ph.events WHERE distinct_id = 'late-e2e' ORDER BY "timestamp"`);
    expect(got.map((x) => x.uuid)).toEqual([late.uuid, fresh.uuid]);
    // Everything the emulator holds since the first sync's lower bound is in the warehouse.
    const [{ min }] = (await env.query<{ min: string }>(`SELECT min("timestamp") min FROM ph.events`)) as [{ min: string }];
    const expected = ph.project.events.filter((e) => e.timestampUs >= Date.parse(min) * 1000).length;
    expect(after!.n).toBe(expected);
  });

  it('links anonymous events to identified persons through person_distinct_ids', async () => {
    const linked = await env.query<{ distinct_id: string; email: string }>(
      `SELECT DISTINCT e.distinct_id, p.properties->>'email' email FROM ph.events e JOIN ph.person_distinct_ids d ON d.distinct_id = e.distinct_id JOIN ph.persons p ON p.id = d.person_id WHERE e.event = '$pageview' ORDER BY 1`,
    );
    const expected = [
      ...new Set(
        ph.project.events
          .filter((e) => e.event === '$pageview' && ph.project.pdi.has(e.distinct_id))
          .filter((e) => e.timestampUs >= (syncEnded - 30 * DAY) * 1000)
          .map((e) => e.distinct_id),
      ),
    ].sort();
    expect(linked.map((l) => l.distinct_id)).toEqual(expect.arrayContaining(expected));
    for (const l of linked) expect(l.email).toBe(ph.project.persons.get(ph.project.pdi.get(l.distinct_id)!)!.properties.email);
    // Anonymous ids (not emails) are among them: browsing before the login counts for the person.
    expect(linked.some((l) => !l.distinct_id.includes('@'))).toBe(true);
    // events.person_id agrees with the identify linking.
    const [{ bad }] = (await env.query<{ bad: number }>(
      `SELECT count(*) bad FROM ph.events e JOIN ph.person_distinct_ids d ON d.distinct_id = e.distinct_id WHERE e.person_id <> d.person_id`,
    )) as [{ bad: number }];
    expect(bad).toBe(0);
  });

  it('waits out 429s from the query budget and still completes', async () => {
    ph.knobs.queryLimit = 1;
    ph.knobs.queryWindowMs = 2_000;
    const start = ph.queryLog.length;
    try {
      const r = await env.run('sync', 'ph', '--table', 'events', '--table', 'person_distinct_ids');
      expect(r.code, r.stderr).toBe(0);
      expect(ph.queryLog.slice(start).filter((q) => q.status === 429).length).toBeGreaterThan(0);
      const [{ n, ids }] = (await env.query<{ n: number; ids: number }>('SELECT count(*) n, count(DISTINCT distinct_id) ids FROM ph.person_distinct_ids')) as [{ n: number; ids: number }];
      expect([n, ids]).toEqual([ph.project.pdi.size, ph.project.pdi.size]);
    } finally {
      ph.knobs.queryLimit = 100_000;
      ph.knobs.queryWindowMs = HOUR;
    }
  });

  it('check names the fix: invalid key, unknown project, missing scope, no events', async () => {
    const ok = await env.run('check', 'ph');
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout + ok.stderr).toContain('Connected to PostHog project');
    const cases: [Record<string, unknown>, number, string][] = [
      [{ personalApiKey: 'phx_revoked_key_0000' }, 1, 'Invalid API key (create a new one in PostHog → Settings → Personal API keys)'],
      [{ projectId: 777 }, 1, 'Project not found (copy the numeric project id from PostHog → Settings → Project)'],
      [{ personalApiKey: NO_QUERY_SCOPE_KEY }, 1, 'query:read'],
      [{ projectId: EMPTY_PROJECT_ID }, 0, 'PostHog is receiving no events'],
    ];
    try {
      for (const [override, code, text] of cases) {
        await env.writeConfig([phSource(override)]);
        const r = await env.run('check', 'ph');
        expect(r.code, `${JSON.stringify(override)}: ${r.stdout}${r.stderr}`).toBe(code);
        expect(r.stdout + r.stderr).toContain(text);
        expect(r.stdout + r.stderr).not.toContain('phx_revoked_key_0000');
      }
      // An invalid file cannot start a worker: edit it in place and only validate.
      const file = parse(fs.readFileSync(env.configPath, 'utf8'));
      file.sources[0].config.projectId = 'my-shop';
      fs.writeFileSync(env.configPath, stringify(file));
      const v = await env.run('validate');
      expect(v.code).not.toBe(0);
      expect(v.stdout + v.stderr).toContain('Project not found');
    } finally {
      await env.writeConfig(await sources());
    }
  });

  it.skipIf(!hasShopify)('funnel stages join PostHog persons to Shopify orders by email', async () => {
    // Import the whole history so the sessions that led to the 2024-2025 orders are in the warehouse.
    await env.writeConfig(await sources({ backfillDays: 1200 }));
    const full = await env.run('sync', 'ph', '--table', 'events', '--full-refresh');
    expect(full.code, full.stderr).toBe(0);
    const r = await env.run('sync', 'shop');
    expect(r.code, r.stderr).toBe(0);
    const sql = funnelStagesSql({ posthogSource: 'ph', commerceSource: 'shop', commerceType: 'shopify' });
    const stages = await env.query<{ stage: string; n: number }>(`SELECT stage, count(*) n FROM (${sql}) GROUP BY stage ORDER BY min(stage_order)`);
    expect(stages.map((s) => s.stage)).toEqual(['product_viewed', 'added_to_cart', 'checkout_started', 'order_completed']);
    expect(stages[3]!.n).toBe(shop!.store.orders.size);
    const count = (event: string, url?: RegExp) => ph.project.events.filter((e) => e.event === event && (!url || url.test(String(e.properties.$current_url)))).length;
    expect(stages[0]!.n).toBe(count('$pageview', /^https:\/\/shop\.example\.com\/products\//));
    expect(stages[1]!.n).toBe(count('product added to cart'));
    expect(stages[2]!.n).toBe(count('checkout started'));

    // Every Shopify order by a customer PostHog knows follows a checkout started by the same identity (email).
    const personEmails = new Set([...ph.project.persons.values()].map((p) => p.properties.email as string));
    const known = [...shop!.store.orders.values()].filter((o) => o.email && personEmails.has(o.email));
    expect(known.length).toBeGreaterThan(10);
    const journeys = await env.query<{ identity: string; ordered: string; checkout: string | null; viewed: string | null }>(
      `SELECT o.identity, o."timestamp" ordered,
              (SELECT max(c."timestamp") FROM (${sql}) c WHERE c.identity = o.identity AND c.stage = 'checkout_started' AND c."timestamp" < o."timestamp") checkout,
              (SELECT max(v."timestamp") FROM (${sql}) v WHERE v.identity = o.identity AND v.stage = 'product_viewed' AND v."timestamp" < o."timestamp") viewed
       FROM (${sql}) o WHERE o.stage = 'order_completed' AND o.identity IN (${[...personEmails].map((e) => `'${e}'`).join(',')})`,
    );
    expect(journeys).toHaveLength(known.length);
    for (const j of journeys) {
      expect(j.checkout, j.identity).not.toBeNull();
      expect(Date.parse(j.ordered) - Date.parse(j.checkout!)).toBeLessThan(HOUR);
      // The product view was anonymous when sent; identify linking gives it the customer's email.
      expect(j.viewed, j.identity).not.toBeNull();
    }
    // The engine maintains the cross-source view funnel.stages from the config's funnel block: same rows.
    const views = await env.query<{ n: number }>(`SELECT count(*) n FROM duckdb_views() WHERE schema_name = 'funnel' AND view_name = 'stages'`);
    expect(views).toEqual([{ n: 1 }]);
    const a = await env.query(`SELECT stage, count(*) n FROM funnel.stages GROUP BY ALL ORDER BY stage`);
    const b = await env.query(`SELECT stage, count(*) n FROM (${sql}) GROUP BY ALL ORDER BY stage`);
    expect(a).toEqual(b);
  });
});
