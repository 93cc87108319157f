import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger, readTable, SluiceError, type DeleteFeedPage } from '@sluice/core';
import { start, sourceConfig, gid, DEMO_TOKEN, type ShopifyEmulator } from '@sluice/emulators/shopify/index';
import connector from '../src/index';
import { deletedId, deletionSearch } from '../src/delete-feed';

/**
 * `deletes: { detect: vendor }` on products: the deletionEvents feed read against the emulator, whose store
 * records a deletion event when a product is deleted.
 */
const T0 = Date.parse('2026-03-01T10:00:00Z');
const NO_PRODUCTS = 'shpat_no_read_products_0123456789';

function feedOf(h: ShopifyEmulator, extra: Record<string, unknown> = {}) {
  const config = connector.config.parse({ ...sourceConfig(h), bulk: { mode: 'never' }, ...extra });
  const log = memoryLogger();
  const client = connector.connect(config, { source: 'shop', log, report: () => undefined });
  const feed = connector.tables.find((t) => t.name === 'products')!.deleteFeed!;
  return async (since: string | undefined): Promise<DeleteFeedPage[]> => {
    const pages: DeleteFeedPage[] = [];
    for await (const p of feed.read({ source: 'shop', table: 'products', config, client, since, signal: new AbortController().signal, report: () => undefined, log })) pages.push(p);
    return pages;
  };
}

async function post(h: ShopifyEmulator, query: string, variables: Record<string, unknown> = {}, token = DEMO_TOKEN) {
  const res = await fetch(h.endpoint(), { method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-access-token': token }, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] } };
}

describe('shopify products: deletionEvents feed', () => {
  let h: ShopifyEmulator;
  let victims: number[];
  let tableIds: string[];
  beforeAll(async () => {
    h = await start({ seed: 31, orders: 5, customers: 5, products: 12, restoreRate: 1_000_000, tokens: { [DEMO_TOKEN]: ['read_orders', 'read_all_orders', 'read_customers', 'read_products', 'read_inventory', 'read_locations'], [NO_PRODUCTS]: ['read_orders'] } });
    tableIds = (await readTable(connector, { ...sourceConfig(h), bulk: { mode: 'never' } }, 'products', { mode: 'full_refresh' })).records.map((r) => String(r['id']));
    // Seven products deleted a minute apart, not in id order; an order deleted too leaves no event.
    victims = [...h.store.products.keys()].filter((_, i) => i % 2 === 0 || i === 11).reverse();
    expect(victims).toHaveLength(7);
    victims.forEach((id, i) => {
      h.store.clock = () => T0 + i * 60_000;
      expect(h.store.delete('products', id)).toBe(true);
    });
    h.store.delete('orders', [...h.store.orders.keys()][0]!);
  });
  afterAll(async () => h?.close());

  it('the store records one deletion event per deleted product, nothing for other resources', () => {
    expect(h.store.deletionEvents.map((e) => [e.subjectType, e.subjectId])).toEqual(victims.map((id) => ['PRODUCT', id]));
    expect(h.store.deletionEvents.map((e) => e.occurredAt)).toEqual(victims.map((_, i) => new Date(T0 + i * 60_000).toISOString().replace('.000Z', 'Z')));
  });

  it('reads every event oldest first across several pages; the ids are the products table keys (GIDs)', async () => {
    const pages = await feedOf(h, { pageSize: 3 })(undefined);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    const ids = pages.flatMap((p) => p.ids);
    expect(ids).toEqual(victims.map((id) => gid('Product', id)));
    for (const id of ids) expect(tableIds).toContain(id);
    expect(ids.every((id) => /^gid:\/\/shopify\/Product\/\d+$/.test(id))).toBe(true);
    expect(pages.map((p) => p.lastEventAt).filter(Boolean)).toEqual([...pages.map((p) => p.lastEventAt)].filter(Boolean).sort());
    expect(pages[pages.length - 1]!.lastEventAt).toBe(new Date(T0 + 6 * 60_000).toISOString());
  });

  it('from a feed cursor on: events at or after it (floored to the second), through the query filter', async () => {
    const since = new Date(T0 + 3 * 60_000 + 700).toISOString();
    expect(deletionSearch(since)).toBe("occurred_at:>='2026-03-01T10:03:00Z'");
    const pages = await feedOf(h, { pageSize: 2 })(since);
    expect(pages.flatMap((p) => p.ids)).toEqual(victims.slice(3).map((id) => gid('Product', id)));
    // Nothing since: one empty page, no event time.
    expect(await feedOf(h)(new Date(T0 + 3_600_000).toISOString())).toEqual([{ ids: [], lastEventAt: undefined }]);
  });

  it('the feed is paged within the cost budget and never throttled', async () => {
    const throttled = h.stats.throttled;
    await feedOf(h, { pageSize: 250 })(undefined);
    expect(h.stats.throttled).toBe(throttled);
  });

  it('without read_products the feed fails naming the scope', async () => {
    const err = await feedOf(h, { accessToken: NO_PRODUCTS })(undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).kind).toBe('permission');
    expect((err as SluiceError).message).toContain('read_products');
  });

  it('subjectId: a GID is kept, a numeric id becomes the GID, another type is refused', () => {
    expect(deletedId('PRODUCT', 'gid://shopify/Product/42')).toBe('gid://shopify/Product/42');
    expect(deletedId('PRODUCT', '42')).toBe('gid://shopify/Product/42');
    expect(deletedId('PRODUCT', 42)).toBe('gid://shopify/Product/42');
    expect(() => deletedId('PRODUCT', 'gid://shopify/Collection/42')).toThrow(/not a Product id/);
    expect(() => deletedId('PRODUCT', null)).toThrow(SluiceError);
  });

  it('only products declare a feed: read_products, no retention (Shopify documents none)', () => {
    const withFeed = connector.tables.filter((t) => t.deleteFeed);
    expect(withFeed.map((t) => t.name)).toEqual(['products']);
    expect(withFeed[0]!.deleteFeed).toMatchObject({ requires: 'read_products' });
    expect(withFeed[0]!.deleteFeed!.retentionMs).toBeUndefined();
    expect(withFeed[0]!.deleteFeed!.describe).toContain('deletionEvents(subjectTypes: [PRODUCT], sortKey: CREATED_AT');
  });
});

describe('emulator: deletionEvents as the Admin API serves it', () => {
  let h: ShopifyEmulator;
  beforeAll(async () => {
    h = await start({ seed: 32, orders: 2, customers: 2, products: 6 });
    [...h.store.products.keys()].slice(0, 4).forEach((id, i) => {
      h.store.clock = () => T0 + i * 1000;
      h.store.delete('products', id);
    });
  });
  afterAll(async () => h?.close());
  const Q = `query($first: Int, $after: String, $query: String, $types: [DeletionEventSubjectType!], $sort: DeletionEventSortKeys, $reverse: Boolean) {
    deletionEvents(first: $first, after: $after, query: $query, subjectTypes: $types, sortKey: $sort, reverse: $reverse) {
      pageInfo { hasNextPage endCursor } edges { cursor node { occurredAt subjectId subjectType } }
    }
  }`;

  it('pages with cursors and pageInfo, filters on occurred_at and subjectTypes, sorts by CREATED_AT or ID', async () => {
    const first = await post(h, Q, { first: 3, sort: 'CREATED_AT' });
    const c = first.body.data.deletionEvents;
    expect(c.edges).toHaveLength(3);
    expect(c.pageInfo.hasNextPage).toBe(true);
    expect(c.edges[0].node).toEqual({ occurredAt: '2026-03-01T10:00:00Z', subjectId: gid('Product', [...h.store.deletionEvents][0]!.subjectId), subjectType: 'PRODUCT' });
    const rest = await post(h, Q, { first: 3, after: c.pageInfo.endCursor, sort: 'CREATED_AT' });
    expect(rest.body.data.deletionEvents.edges).toHaveLength(1);
    expect(rest.body.data.deletionEvents.pageInfo.hasNextPage).toBe(false);

    const since = await post(h, Q, { first: 10, query: "occurred_at:>='2026-03-01T10:00:02Z'", sort: 'CREATED_AT' });
    expect(since.body.data.deletionEvents.edges.map((e: any) => e.node.occurredAt)).toEqual(['2026-03-01T10:00:02Z', '2026-03-01T10:00:03Z']);
    const reversed = await post(h, Q, { first: 1, sort: 'CREATED_AT', reverse: true });
    expect(reversed.body.data.deletionEvents.edges[0].node.occurredAt).toBe('2026-03-01T10:00:03Z');
    const collections = await post(h, Q, { first: 10, types: ['COLLECTION'] });
    expect(collections.body.data.deletionEvents.edges).toEqual([]);
  });

  it('refuses what Shopify refuses: no first/last, a page above 250, an unknown subject type', async () => {
    expect((await post(h, Q, {})).body.errors![0]!.message).toBe('you must provide one of first or last');
    expect((await post(h, Q, { first: 251 })).body.errors![0]!.message).toMatch(/between 0 and 250/);
    const bad = await post(h, Q, { first: 1, types: ['ORDER'] });
    expect(bad.body.data ?? null).toBeNull();
    expect(bad.body.errors![0]!.message).toMatch(/DeletionEventSubjectType/);
  });
});
