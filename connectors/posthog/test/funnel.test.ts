import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import connector from '../src/index';
import { funnelStagesSql, funnelView, urlGlobToRegex } from '../src/funnel';

let conn: DuckDBConnection;
const P1 = '11111111-1111-4111-8111-111111111111';
const STALE = '99999999-9999-5999-8999-999999999999'; // person_id stored before the identify (personless)
const Z9 = '22222222-2222-5222-8222-222222222222';

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRowObjectsJson() as Record<string, unknown>[];
}

beforeAll(async () => {
  const db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  for (const s of ['ph', 'shop', 'ct']) await conn.run(`CREATE SCHEMA ${s}`);
  await conn.run(`CREATE TABLE ph.events (uuid VARCHAR, event VARCHAR, distinct_id VARCHAR, person_id VARCHAR, "timestamp" TIMESTAMPTZ, properties JSON, url VARCHAR)`);
  await conn.run(`CREATE TABLE ph.person_distinct_ids (distinct_id VARCHAR, person_id VARCHAR)`);
  await conn.run(`CREATE TABLE ph.persons (id VARCHAR, created_at TIMESTAMPTZ, properties JSON, distinct_ids JSON)`);
  await conn.run(`CREATE TABLE shop.orders (id BIGINT, "createdAt" TIMESTAMPTZ, email VARCHAR)`);
  await conn.run(`CREATE TABLE ct.orders (id VARCHAR, "createdAt" TIMESTAMPTZ, "customerEmail" VARCHAR)`);
  const ev = (uuid: string, event: string, distinct: string, person: string, ts: string, url: string | null) =>
    `('${uuid}', '${event}', '${distinct}', '${person}', TIMESTAMPTZ '${ts}', '${JSON.stringify({ $current_url: url })}', ${url === null ? 'NULL' : `'${url}'`})`;
  await conn.run(`INSERT INTO ph.events VALUES
    ${ev('e1', '$pageview', 'a1', STALE, '2026-03-01 10:00:00+00', 'https://shop.example.com/products/mug')},
    ${ev('e2', 'product added to cart', 'ada@example.com', P1, '2026-03-01 10:05:00+00', 'https://shop.example.com/products/mug')},
    ${ev('e3', 'checkout started', 'ada@example.com', P1, '2026-03-01 10:07:00+00', 'https://shop.example.com/checkout')},
    ${ev('e4', '$pageview', 'z9', Z9, '2026-03-02 23:59:59+00', 'https://shop.example.com/')},
    ${ev('e5', '$pageview', 'z9', Z9, '2026-03-03 00:00:01+00', 'https://shop.example.com/products/cap?variant=1')},
    ${ev('e6', 'custom', 'z9', Z9, '2026-03-03 00:00:02+00', null)},
    ${ev('e7', '$pageview', 'z9', Z9, '2026-03-03 00:00:03+00', 'https://shop.example.com/collections/products/x')},
    ${ev('e8', 'Product Added', 'z9', Z9, '2026-03-03 00:00:04+00', 'https://shop.example.com/p/cap')},
    ${ev('e9', '$pageview', 'z9', Z9, '2026-03-03 00:00:05+00', '/p/hat')}`);
  await conn.run(`INSERT INTO ph.person_distinct_ids VALUES ('a1', '${P1}'), ('ada@example.com', '${P1}')`);
  await conn.run(`INSERT INTO ph.persons VALUES ('${P1}', TIMESTAMPTZ '2026-03-01 10:04:00+00', '{"email":" Ada@Example.com "}', '["a1","ada@example.com"]')`);
  await conn.run(`INSERT INTO shop.orders VALUES (1, TIMESTAMPTZ '2026-03-01 10:09:00+00', 'ADA@example.com'), (2, TIMESTAMPTZ '2026-03-04 08:00:00+00', NULL)`);
  await conn.run(`INSERT INTO ct.orders VALUES ('o-1', TIMESTAMPTZ '2026-03-01 11:00:00+00', 'ada@example.com')`);
});
afterAll(() => conn?.closeSync());

describe('funnel.stages SQL', () => {
  it('maps PostHog events to stages with the defaults and adds the Shopify orders', async () => {
    const sql = funnelStagesSql({ posthogSource: 'ph', commerceSource: 'shop', commerceType: 'shopify' });
    const r = await rows(`SELECT strftime("timestamp", '%Y-%m-%d %H:%M:%S') AS ts, identity, person_id, stage, stage_order, source, source_type FROM (${sql}) ORDER BY "timestamp", stage_order`);
    expect(r).toEqual([
      // e1 was anonymous when synced; person_distinct_ids links it to the identified person (identity = email).
      { ts: '2026-03-01 10:00:00', identity: 'ada@example.com', person_id: P1, stage: 'product_viewed', stage_order: 1, source: 'ph', source_type: 'posthog' },
      { ts: '2026-03-01 10:05:00', identity: 'ada@example.com', person_id: P1, stage: 'added_to_cart', stage_order: 2, source: 'ph', source_type: 'posthog' },
      { ts: '2026-03-01 10:07:00', identity: 'ada@example.com', person_id: P1, stage: 'checkout_started', stage_order: 3, source: 'ph', source_type: 'posthog' },
      { ts: '2026-03-01 10:09:00', identity: 'ada@example.com', person_id: null, stage: 'order_completed', stage_order: 4, source: 'shop', source_type: 'shopify' },
      { ts: '2026-03-03 00:00:01', identity: `posthog:${Z9}`, person_id: Z9, stage: 'product_viewed', stage_order: 1, source: 'ph', source_type: 'posthog' },
      { ts: '2026-03-04 08:00:00', identity: null, person_id: null, stage: 'order_completed', stage_order: 4, source: 'shop', source_type: 'shopify' },
    ]);
    const types = await rows(`SELECT column_name, column_type FROM (DESCRIBE ${sql})`);
    expect(types.find((t) => t.column_name === 'timestamp')?.column_type).toBe('TIMESTAMP WITH TIME ZONE');
  });

  it('applies per-stage overrides (event lists, URL globs, a stage left out) and commercetools orders', async () => {
    const sql = funnelStagesSql({
      posthogSource: 'ph',
      commerceSource: 'ct',
      commerceType: 'commercetools',
      stages: { product_viewed: { event: '$pageview', url: '/p/*' }, added_to_cart: { event: ['Product Added', 'product added to cart'] }, checkout_started: false },
    });
    const r = await rows(`SELECT stage, count(*)::INT AS n, list(identity ORDER BY "timestamp") AS who FROM (${sql}) GROUP BY stage ORDER BY stage`);
    expect(r).toEqual([
      { stage: 'added_to_cart', n: 2, who: ['ada@example.com', `posthog:${Z9}`] },
      { stage: 'order_completed', n: 1, who: ['ada@example.com'] },
      { stage: 'product_viewed', n: 1, who: [`posthog:${Z9}`] },
    ]);
  });

  it('falls back to the event person_id without person tables, and rejects an unknown commerce type', async () => {
    const sql = funnelStagesSql({ posthogSource: 'ph', commerceSource: 'shop', commerceType: 'shopify', posthogTables: new Set(['events']) });
    const r = await rows(`SELECT identity FROM (${sql}) WHERE stage = 'product_viewed' ORDER BY "timestamp"`);
    expect(r.map((x) => x.identity)).toEqual([`posthog:${STALE}`, `posthog:${Z9}`]);
    expect(() => funnelStagesSql({ posthogSource: 'ph', commerceSource: 'x', commerceType: 'woocommerce' })).toThrow(/funnel\.orders/);
    const custom = funnelStagesSql({ posthogSource: 'ph', commerceSource: 'ct', commerceType: 'woocommerce', orders: { timestamp: '"createdAt"', email: '"customerEmail"' } });
    expect((await rows(`SELECT count(*)::INT AS n FROM (${custom}) WHERE stage = 'order_completed'`))[0]!.n).toBe(1);
  });

  it('matches URL globs on the path only', () => {
    const re = new RegExp(urlGlobToRegex('/products/*'));
    expect(re.test('https://shop.example.com/products/mug')).toBe(true);
    expect(re.test('/products/mug?x=1')).toBe(true);
    expect(re.test('https://shop.example.com/collections/products/mug')).toBe(false);
    expect(re.test('https://shop.example.com/')).toBe(false);
  });

  it('builds the view from a PostHog source funnel block or a top-level funnel block', async () => {
    const present = new Map([
      ['ph', new Set(['events', 'persons', 'person_distinct_ids'])],
      ['shop', new Set(['orders'])],
    ]);
    const sources = [
      { name: 'ph', type: 'posthog', config: { funnel: { commerceSource: 'shop' } } },
      { name: 'shop', type: 'shopify', config: {} },
    ];
    const v = funnelView({ sources, present })!;
    expect([v.schema, v.name]).toEqual(['funnel', 'stages']);
    await conn.run(`CREATE SCHEMA IF NOT EXISTS funnel`);
    await conn.run(`CREATE OR REPLACE VIEW funnel.stages AS ${v.sql}`);
    expect((await rows(`SELECT count(*)::INT AS n FROM funnel.stages`))[0]!.n).toBe(6);
    const top = funnelView({ sources: [{ ...sources[0]!, config: {} }, sources[1]!], funnel: { commerce: 'shop', stages: { checkout_started: false } }, present })!;
    expect(top.sql).not.toContain('checkout started');
    expect(funnelView({ sources: [{ ...sources[0]!, config: {} }, sources[1]!], present })).toBeUndefined();
    expect(funnelView({ sources, present: new Map([['ph', new Set(['events'])]]) })).toBeUndefined(); // orders not synced yet
    expect(() => funnelView({ sources, funnel: { commerce: 'nope' }, present })).toThrow(/no commerce source named "nope"/);
  });
});

describe('event_counts_daily view', () => {
  it('counts events per UTC day and event name', async () => {
    const [v] = connector.views!({ source: 'ph', tables: new Set(['events']) });
    await conn.run(`SET TimeZone = 'America/Los_Angeles'`); // the day must not depend on the session's zone
    try {
      const r = await rows(`SELECT CAST(day AS VARCHAR) AS day, event, count::INT AS count FROM (${v!.sql}) ORDER BY day, event`);
      expect(r).toEqual([
        { day: '2026-03-01', event: '$pageview', count: 1 },
        { day: '2026-03-01', event: 'checkout started', count: 1 },
        { day: '2026-03-01', event: 'product added to cart', count: 1 },
        { day: '2026-03-02', event: '$pageview', count: 1 },
        { day: '2026-03-03', event: '$pageview', count: 3 },
        { day: '2026-03-03', event: 'Product Added', count: 1 },
        { day: '2026-03-03', event: 'custom', count: 1 },
      ]);
    } finally {
      await conn.run(`SET TimeZone = 'UTC'`);
    }
  });
});
