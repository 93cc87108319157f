import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';
import { start as startPostHog, sourceConfig as phConfig, type PostHogEmulator } from '../../packages/emulators/src/posthog/index';
import { start as startShopify, sourceConfig as shopConfig, type ShopifyEmulator } from '../../packages/emulators/src/shopify/index';

/**
 * Hashed emails on both sides of the cross-source funnel (issue 18): PostHog persons' `properties.email`
 * and Shopify's order and customer emails, hashed with one SLUICE_HASH_KEY, synced through Temporal from the
 * emulators. The engine-maintained `funnel.stages` view and the Shopify views must still join a person's
 * journey to their orders (hashed compared with hashed), and no clear email of those fields is stored.
 */
const KEY = 'funnel-hash-key-c0ffee5eed1234';
const hmac = (v: string) => createHmac('sha256', KEY).update(v.trim().toLowerCase()).digest('hex');
const HOUR = 3600_000;

describe('funnel and Shopify views over hashed emails', () => {
  let ph: PostHogEmulator;
  let shop: ShopifyEmulator;
  let env: SluiceEnv;
  type Order = { id: number; email: string | null; createdAt: string };

  beforeAll(async () => {
    shop = await startShopify({ customers: 120, orders: 60, bucketSize: 20_000, restoreRate: 10_000 });
    const orders = [...(shop.store.orders as unknown as Map<number, Order>).values()];
    ph = await startPostHog({ seed: 18, nowMs: Date.now() - HOUR, days: 2, orders, customers: 120 });
    process.env.SLUICE_HASH_KEY = KEY;
    env = await sluiceEnv({
      sources: [
        { name: 'ph_hashed', type: 'posthog', config: { ...phConfig(ph), backfillDays: 1200, funnel: { commerceSource: 'shop_hashed' } }, tables: { events: null, persons: { columns: { hash: ['properties.email'] } }, person_distinct_ids: null } as never },
        { name: 'shop_hashed', type: 'shopify', config: shopConfig(shop), tables: { orders: { mode: 'full_refresh', columns: { hash: ['email'] } }, customers: { columns: { hash: ['email', 'phone'] } } } as never },
      ],
    });
  });
  afterAll(async () => {
    await env?.close();
    await ph?.close();
    await shop?.close();
    delete process.env.SLUICE_HASH_KEY;
  });

  it('joins each known customer’s order to their PostHog journey by hashed email', async () => {
    for (const s of ['ph_hashed', 'shop_hashed']) {
      const r = await env.run('sync', s);
      expect(r.code, r.stderr).toBe(0);
    }
    const orders = [...(shop.store.orders as unknown as Map<number, Order>).values()];
    const personEmails = new Set([...ph.project.persons.values()].map((p) => p.properties.email as string).filter(Boolean));
    const known = orders.filter((o) => o.email && personEmails.has(o.email));
    expect(known.length).toBeGreaterThan(5);

    // Stored hashed: the persons' and orders' emails are HMACs, none in clear.
    const persons = await env.query<{ email: string }>(`SELECT properties->>'email' AS email FROM ph_hashed.persons WHERE properties->>'email' IS NOT NULL`);
    expect(persons.length).toBeGreaterThan(0);
    for (const p of persons) expect(p.email).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(persons.map((p) => p.email))).toEqual(new Set([...personEmails].map(hmac)));
    const stored = await env.query<{ email: string | null }>(`SELECT email FROM shop_hashed.orders`);
    expect(new Set(stored.map((o) => o.email))).toEqual(new Set(orders.map((o) => (o.email ? hmac(o.email) : null))));

    // The funnel: every order by a customer PostHog knows follows a checkout by the same (hashed) identity.
    const journeys = await env.query<{ identity: string; ordered: string; checkout: string | null }>(
      `SELECT o.identity, o."timestamp" AS ordered,
              (SELECT max(c."timestamp") FROM funnel.stages c WHERE c.identity = o.identity AND c.stage = 'checkout_started' AND c."timestamp" < o."timestamp") AS checkout
       FROM funnel.stages o WHERE o.stage = 'order_completed' AND o.identity IN (${known.map((k) => `'${hmac(k.email!)}'`).join(', ')})`,
    );
    expect(journeys).toHaveLength(known.length);
    for (const j of journeys) {
      expect(j.checkout, j.identity).not.toBeNull();
      expect(Date.parse(j.ordered) - Date.parse(j.checkout!)).toBeLessThan(HOUR);
    }

    // The Shopify views: order_events carries the customer's hashed email, the same as customer_identities.
    const linked = await env.query<{ n: number }>(`SELECT count(*)::INT AS n FROM shop_hashed.order_events e JOIN shop_hashed.customer_identities c ON c.email = e.email`);
    expect(linked[0]!.n).toBeGreaterThan(0);
    const ids = await env.query<{ email: string | null }>(`SELECT email FROM shop_hashed.customer_identities WHERE email IS NOT NULL LIMIT 5`);
    for (const i of ids) expect(i.email).toMatch(/^[0-9a-f]{64}$/);
  });
});
