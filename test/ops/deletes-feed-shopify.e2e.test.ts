import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, sourceConfig, gid, DEMO_TOKEN, type ShopifyEmulator } from '@sluice/emulators/shopify/index';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';

/**
 * Deletions from Shopify's own feed (`deletes: { detect: vendor }` on products), end to end: `sluice sync`
 * through Temporal, the Shopify emulator (products deleted there between syncs leave deletion events, read
 * through `deletionEvents`) and the DuckLake warehouse.
 */

type TableResultJson = { table: string; outcome: string; rowsWritten: number; rowsDeleted?: number; error?: string };
const ALL = ['read_orders', 'read_all_orders', 'read_customers', 'read_products', 'read_inventory', 'read_locations'];
const NO_PRODUCTS = 'shpat_feed_no_read_products_0123456789';

describe('deletes: { detect: vendor } (Shopify deletionEvents)', () => {
  let shop: ShopifyEmulator;
  let env: SluiceEnv;
  const sources = (): SourceYaml[] => [
    {
      name: 'feed_shop',
      type: 'shopify',
      config: { ...sourceConfig(shop), bulk: { mode: 'never' }, pageSize: 4 },
      tables: { products: { mode: 'incremental', deletes: { detect: 'vendor' } } as never, customers: { mode: 'incremental' } },
    },
    {
      name: 'feed_shop_hard',
      type: 'shopify',
      config: { ...sourceConfig(shop), bulk: { mode: 'never' } },
      tables: { products: { mode: 'incremental', deletes: { detect: 'vendor', handle: 'hard' } } as never },
    },
    {
      name: 'feed_shop_noscope',
      type: 'shopify',
      config: { ...sourceConfig(shop), accessToken: NO_PRODUCTS, bulk: { mode: 'never' } },
      tables: { products: { mode: 'incremental', deletes: { detect: 'vendor' } } as never },
    },
  ];
  async function sync(...args: string[]): Promise<{ code: number; tables: Record<string, TableResultJson>; stderr: string }> {
    const r = await env.run('sync', ...args, '--json');
    const tables = Object.fromEntries((JSON.parse(r.stdout)[0].tables as TableResultJson[]).map((t) => [t.table, t]));
    return { code: r.code, tables, stderr: r.stderr };
  }
  const feedCursor = async (source: string) =>
    (await env.query<{ c: string | null }>(`SELECT max(delete_feed_cursor) AS c FROM sluice.syncs WHERE source = '${source}' AND "table" = 'products' AND outcome = 'succeeded'`))[0]!.c;

  beforeAll(async () => {
    shop = await start({ seed: 1919, orders: 4, customers: 6, products: 10, restoreRate: 1_000_000, tokens: { [DEMO_TOKEN]: ALL, [NO_PRODUCTS]: ['read_orders', 'read_customers'] } });
    env = await sluiceEnv({ sources: sources() });
  });
  afterAll(async () => {
    await env?.close();
    await shop?.close();
  });

  it('soft-marks / hard-removes exactly the products deleted at Shopify between syncs; the feed cursor is saved and advances', async () => {
    const first = await sync('feed_shop');
    expect(first.code, first.stderr).toBe(0);
    expect(first.tables.products).toMatchObject({ outcome: 'succeeded', rowsWritten: 10, rowsDeleted: 0 });
    const hard1 = await sync('feed_shop_hard');
    expect(hard1.code, hard1.stderr).toBe(0);
    const c1 = await feedCursor('feed_shop');
    expect(c1).toBeTruthy();

    const ids = [...shop.store.products.keys()];
    const gone = [ids[1]!, ids[6]!];
    for (const id of gone) expect(shop.store.delete('products', id)).toBe(true);
    // A customer deleted too: Shopify keeps no deletion event for it, and customers have no feed.
    shop.store.delete('customers', [...shop.store.customers.keys()][0]!);
    expect(shop.store.deletionEvents.map((e) => e.subjectId)).toEqual(gone);

    const second = await sync('feed_shop');
    expect(second.code, second.stderr).toBe(0);
    expect(second.tables.products).toMatchObject({ outcome: 'succeeded', rowsDeleted: 2 });
    const marked = await env.query<{ id: string }>(`SELECT id FROM feed_shop.products WHERE _sluice_deleted_at IS NOT NULL ORDER BY id`);
    expect(marked.map((r) => r.id)).toEqual(gone.map((id) => gid('Product', id)).sort());
    expect(await env.query(`SELECT count(*)::INT AS n FROM feed_shop.products WHERE _sluice_deleted_at IS NULL`)).toEqual([{ n: 8 }]);
    const c2 = await feedCursor('feed_shop');
    expect(Date.parse(c2!)).toBeGreaterThan(Date.parse(c1!));

    const hard2 = await sync('feed_shop_hard');
    expect(hard2.code, hard2.stderr).toBe(0);
    expect(hard2.tables.products!.rowsDeleted).toBe(2);
    const left = await env.query<{ id: string }>(`SELECT id FROM feed_shop_hard.products ORDER BY id`);
    expect(left.map((r) => r.id)).toEqual([...shop.store.products.keys()].map((id) => gid('Product', id)).sort());

    // Nothing new at Shopify: nothing more is marked, the cursor still moves on.
    const third = await sync('feed_shop', '--table', 'products');
    expect(third.code, third.stderr).toBe(0);
    expect(third.tables.products!.rowsDeleted).toBe(0);
    expect(Date.parse((await feedCursor('feed_shop'))!)).toBeGreaterThanOrEqual(Date.parse(c2!));
  });

  it('without read_products: check and the sync name the scope (the feed needs the one the products table needs)', async () => {
    const check = await env.run('check', 'feed_shop_noscope');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('`read_products` (needed by products)');
    const r = await sync('feed_shop_noscope');
    expect(r.code).toBe(1);
    expect(r.tables.products).toMatchObject({ outcome: 'failed' });
    expect(r.tables.products!.error).toContain('read_products');
  });

  it('sluice connectors shopify shows the products feed, with no retention', async () => {
    const json = JSON.parse((await env.run('connectors', 'shopify', '--json')).stdout) as { tables: { name: string; deleteFeed?: { requires?: string; retentionMs?: number; describe: string } }[] }[];
    expect(json[0]!.tables.filter((t) => t.deleteFeed).map((t) => t.name)).toEqual(['products']);
    const feed = json[0]!.tables.find((t) => t.name === 'products')!.deleteFeed!;
    expect(feed).toMatchObject({ requires: 'read_products' });
    expect(feed.retentionMs).toBeUndefined();
    expect(feed.describe).toContain('deletionEvents(subjectTypes: [PRODUCT]');
  });
});
