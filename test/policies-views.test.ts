import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { applyColumnPolicy } from '../packages/core/src/policies/columns';
import { hmacHasher } from '../packages/core/src/policies/hmac';
import { funnelStagesSql } from '../connectors/posthog/src/funnel';
import { views as shopifyViews } from '../connectors/shopify/src/views';

/**
 * The cross-source views with hashed emails (issue 18): PostHog persons' `properties.email` and Shopify's
 * order and customer emails hashed with one key compare hashed with hashed, so the funnel still joins
 * an identified person to their orders, and the Shopify views still bind. Records go through the same
 * policy code the extract applies, into real DuckDB tables shaped as the connectors land them.
 */
const KEY = 'views-test-hash-key-5d1c0a9e77';
const hash = hmacHasher(KEY);
const expected = createHmac('sha256', KEY).update('ada@example.com').digest('hex');
const P1 = '11111111-1111-4111-8111-111111111111';
let conn: DuckDBConnection;

const lit = (v: unknown) => (v === null || v === undefined ? 'NULL' : typeof v === 'object' ? `'${JSON.stringify(v).replace(/'/g, "''")}'` : typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
async function insert(table: string, records: Record<string, unknown>[], columns: string[]) {
  await conn.run(`INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ${records.map((r) => `(${columns.map((c) => lit(r[c])).join(', ')})`).join(', ')}`);
}
async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

beforeAll(async () => {
  conn = await (await DuckDBInstance.create(':memory:')).connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  for (const s of ['ph', 'shop']) await conn.run(`CREATE SCHEMA ${s}`);
  await conn.run(`CREATE TABLE ph.events (uuid VARCHAR, event VARCHAR, distinct_id VARCHAR, person_id VARCHAR, "timestamp" TIMESTAMPTZ, properties JSON, url VARCHAR)`);
  await conn.run(`CREATE TABLE ph.person_distinct_ids (distinct_id VARCHAR, person_id VARCHAR)`);
  await conn.run(`CREATE TABLE ph.persons (id VARCHAR, created_at TIMESTAMPTZ, properties JSON, distinct_ids JSON)`);
  await conn.run(`CREATE TABLE shop.orders (id VARCHAR, name VARCHAR, "processedAt" TIMESTAMPTZ, "createdAt" TIMESTAMPTZ, "customerId" VARCHAR, email VARCHAR, "totalPrice" DECIMAL(12,2), "currentTotalPrice" DECIMAL(12,2), "currencyCode" VARCHAR, "displayFinancialStatus" VARCHAR, "cancelledAt" TIMESTAMPTZ)`);
  await conn.run(`CREATE TABLE shop.customers (id VARCHAR, "legacyResourceId" VARCHAR, email VARCHAR, phone VARCHAR, "firstName" VARCHAR, "lastName" VARCHAR, "createdAt" TIMESTAMPTZ, "updatedAt" TIMESTAMPTZ)`);

  await insert('ph.events', [{ uuid: 'e1', event: 'product added to cart', distinct_id: 'a1', person_id: P1, timestamp: '2026-03-01 10:05:00+00', properties: {}, url: 'https://shop.example.com/products/mug' }], ['uuid', 'event', 'distinct_id', 'person_id', 'timestamp', 'properties', 'url']);
  await insert('ph.person_distinct_ids', [{ distinct_id: 'a1', person_id: P1 }], ['distinct_id', 'person_id']);
  // What the policies of sluice.yaml do to the records before they are staged.
  const persons = applyColumnPolicy([{ id: P1, created_at: '2026-03-01 10:04:00+00', properties: { email: ' Ada@Example.com ', plan: 'pro' }, distinct_ids: ['a1'] }], { exclude: [], hash: ['properties.email'] }, hash);
  await insert('ph.persons', persons, ['id', 'created_at', 'properties', 'distinct_ids']);
  const orders = applyColumnPolicy(
    [
      { id: 'gid://shopify/Order/1', name: '#1001', processedAt: '2026-03-01 10:09:00+00', createdAt: '2026-03-01 10:09:00+00', customerId: 'gid://shopify/Customer/7', email: 'ADA@example.com', totalPrice: 12.5, currentTotalPrice: 12.5, currencyCode: 'EUR', displayFinancialStatus: 'PAID', cancelledAt: null },
      { id: 'gid://shopify/Order/2', name: '#1002', processedAt: '2026-03-02 08:00:00+00', createdAt: '2026-03-02 08:00:00+00', customerId: null, email: 'bob@example.com', totalPrice: 3, currentTotalPrice: 3, currencyCode: 'EUR', displayFinancialStatus: 'PAID', cancelledAt: null },
    ],
    { exclude: [], hash: ['email'] },
    hash,
  );
  await insert('shop.orders', orders, ['id', 'name', 'processedAt', 'createdAt', 'customerId', 'email', 'totalPrice', 'currentTotalPrice', 'currencyCode', 'displayFinancialStatus', 'cancelledAt']);
  const customers = applyColumnPolicy([{ id: 'gid://shopify/Customer/7', legacyResourceId: '7', email: 'ada@example.com', phone: '+4930123', firstName: 'Ada', lastName: 'L', createdAt: '2026-01-01 00:00:00+00', updatedAt: '2026-01-01 00:00:00+00' }], { exclude: ['lastName'], hash: ['email', 'phone'] }, hash);
  await insert('shop.customers', customers, ['id', 'legacyResourceId', 'email', 'phone', 'firstName', 'lastName', 'createdAt', 'updatedAt']);
});
afterAll(() => conn?.closeSync());

describe('views over hashed emails', () => {
  it('the funnel joins the PostHog person to their Shopify order: both identities are the same HMAC', async () => {
    const sql = funnelStagesSql({ posthogSource: 'ph', commerceSource: 'shop', commerceType: 'shopify' });
    const r = await rows(`SELECT identity, stage, source_type FROM (${sql}) ORDER BY "timestamp"`);
    expect(r).toEqual([
      { identity: expected, stage: 'added_to_cart', source_type: 'posthog' },
      { identity: expected, stage: 'order_completed', source_type: 'shopify' },
      { identity: createHmac('sha256', KEY).update('bob@example.com').digest('hex'), stage: 'order_completed', source_type: 'shopify' },
    ]);
  });

  it('the Shopify views bind and carry the hashes', async () => {
    for (const v of shopifyViews({ source: 'shop', tables: new Set(['orders', 'customers']) })) await conn.run(`CREATE VIEW shop.${v.name} AS ${v.sql}`);
    const events = await rows(`SELECT order_name, email FROM shop.order_events ORDER BY order_name`);
    expect(events).toEqual([
      { order_name: '#1001', email: expected },
      { order_name: '#1002', email: createHmac('sha256', KEY).update('bob@example.com').digest('hex') },
    ]);
    const ids = await rows(`SELECT customer_id, email, phone FROM shop.customer_identities`);
    expect(ids).toEqual([{ customer_id: 'gid://shopify/Customer/7', email: expected, phone: createHmac('sha256', KEY).update('+4930123').digest('hex') }]);
  });
});
