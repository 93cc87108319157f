import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kind, parse, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { memoryLogger, readTable, type DataRecord, type Json, type TableSpec } from '@sluice/core';
import { start, sourceConfig, gid, type ShopifyEmulator, type GraphqlLogEntry } from '@sluice/emulators/shopify/index';
import connector from '../src/index';
import { TABLE_DEFS } from '../src/tables';
import { KEY_SCAN_PAGE } from '../src/key-scan';

/**
 * Reconciliation's key scans (`deletes: { detect: reconcile }`): every table keyed by its node's id reads
 * `nodes { id }` only, through core's connection paging under the cost bucket, and lists exactly the keys
 * a full read of the table stores.
 */
const KEYED = ['orders', 'customers', 'products', 'inventory_items'] as const;
const ROOT: Record<string, string> = { orders: 'orders', customers: 'customers', products: 'products', inventory_items: 'inventoryItems' };

const cfg = (h: ShopifyEmulator) => ({ ...sourceConfig(h), bulk: { mode: 'never' } });

function specOf(table: string): TableSpec {
  return connector.tables.find((t) => t.name === table)! as TableSpec;
}

/** Runs a table's key scan as the reconcile activity does (full refresh, no lower bound, no checkpoint). */
async function scan(h: ShopifyEmulator, table: string, extra: Record<string, unknown> = {}) {
  const config = connector.config.parse({ ...cfg(h), ...extra });
  const log = memoryLogger();
  const client = connector.connect(config, { source: 'test', log, report: () => undefined });
  const spec = specOf(table);
  const pages: { records: DataRecord[]; checkpoint: Json }[] = [];
  const from = h.queries.length;
  for await (const p of spec.keyScan!.read({
    source: 'test',
    table,
    config,
    client,
    request: { mode: 'full_refresh', cursorField: spec.cursor?.default, since: undefined, checkpoint: undefined },
    signal: new AbortController().signal,
    report: () => undefined,
    log,
  }))
    pages.push(p);
  return { pages, queries: h.queries.slice(from) };
}

/** The root connection field of a logged query, and the fields its `nodes` select. */
function rootOf(q: GraphqlLogEntry): { field: FieldNode; nodeFields: string[] } {
  const op = parse(q.query).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const field = op.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD)!;
  const nodes = field.selectionSet!.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === 'nodes');
  return { field, nodeFields: (nodes?.selectionSet?.selections ?? []).map((s) => (s.kind === Kind.FIELD ? s.name.value : `<${s.kind}>`)) };
}

const cost = (qs: GraphqlLogEntry[]) => qs.reduce((s, q) => s + (q.actualCost ?? 0), 0);

describe('shopify key scans (deletes: { detect: reconcile })', () => {
  let h: ShopifyEmulator;
  beforeAll(async () => {
    // More than one 250-node page of every keyed table (inventory items: one per variant, 1 to 4 per product).
    h = await start({ seed: 4242, orders: 600, customers: 300, products: 260, restoreRate: 1_000_000 });
    expect(h.store.inventoryItems.size).toBeGreaterThan(KEY_SCAN_PAGE);
  });
  afterAll(async () => h?.close());

  it('declared on the tables keyed by their node id, not on transactions (read through orders)', () => {
    expect(connector.tables.filter((t) => t.keyScan).map((t) => t.name)).toEqual([...KEYED]);
    expect(TABLE_DEFS.filter((d) => d.keyIsNodeId).map((d) => d.name)).toEqual([...KEYED]);
    expect(specOf('transactions').keyScan).toBeUndefined();
    for (const t of KEYED) {
      expect(specOf(t).primaryKey).toEqual(['id']);
      expect(specOf(t).keyScan!.reads).toMatchObject({ paging: { kind: 'graphql-connection', pageSize: KEY_SCAN_PAGE, costSized: true } });
      expect(specOf(t).keyScan!.reads.endpoint).toContain(`${ROOT[t]}(first:, after:`);
      expect(specOf(t).keyScan!.reads.endpoint).toContain('{ nodes { id } }');
    }
  });

  for (const table of KEYED) {
    it(`${table}: exactly the live keys of a full read, in the rows' format, over several ids-only pages costing less`, async () => {
      const fromFull = h.queries.length;
      const full = await readTable(connector, cfg(h), table, { mode: 'full_refresh' });
      const fullQueries = h.queries.slice(fromFull);
      const keys = full.records.map((r) => r['id'] as string);
      expect(new Set(keys).size).toBe(keys.length);

      const { pages, queries } = await scan(h, table);
      const scanned = pages.flatMap((p) => p.records);
      // Rows carry the key only, exactly as the table's rows hold it (the GID string).
      expect(scanned.every((r) => Object.keys(r).join() === 'id')).toBe(true);
      expect(scanned.map((r) => r['id'])).toEqual(expect.arrayContaining(keys));
      expect(scanned.map((r) => r['id'] as string).sort()).toEqual([...keys].sort());
      const type = table === 'inventory_items' ? 'InventoryItem' : table === 'orders' ? 'Order' : table === 'customers' ? 'Customer' : 'Product';
      expect(scanned.every((r) => new RegExp(`^gid://shopify/${type}/\\d+$`).test(String(r['id'])))).toBe(true);

      // Several pages, Shopify's largest while the bucket holds them; the last checkpoint says done.
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.length).toBe(Math.ceil(keys.length / KEY_SCAN_PAGE));
      expect(pages.slice(0, -1).every((p) => p.records.length === KEY_SCAN_PAGE)).toBe(true);
      expect(pages.at(-1)!.checkpoint).toEqual({ done: true });
      expect(pages.slice(0, -1).every((p) => (p.checkpoint as { page?: unknown }).page !== undefined)).toBe(true);

      // Every request of the scan (after the one bucket probe of a fresh client, and the orders' scope check) selects ids only.
      const paged = queries.filter((q) => !/SluiceBucket|SluiceScopes/.test(q.query));
      expect(paged).toHaveLength(pages.length);
      for (const q of paged) {
        const { field, nodeFields } = rootOf(q);
        expect(field.name.value).toBe(ROOT[table]);
        expect(nodeFields).toEqual(['id']);
        expect(q.query).not.toMatch(/bulkOperation/);
        const args = Object.fromEntries((field.arguments ?? []).map((a) => [a.name.value, a.value.kind === Kind.ENUM ? a.value.value : a.value.kind]));
        if (table === 'inventory_items') expect(args['sortKey']).toBeUndefined();
        else expect(args['sortKey']).toBe('ID');
        expect(q.variables['first']).toBe(KEY_SCAN_PAGE);
        // 2 for the connection + 1 per node (the node object; its scalar id is free).
        expect(q.requestedCost).toBe(2 + KEY_SCAN_PAGE);
      }
      expect(paged.map((q) => q.actualCost)).toEqual(pages.map((p) => 2 + p.records.length));
      // Cheaper than the full read, in total and per key.
      const fullCost = cost(fullQueries);
      const scanCost = cost(queries);
      expect(scanCost).toBeLessThan(fullCost);
      expect(h.stats.throttled).toBe(0);
      console.info(`${table}: ${keys.length} keys; key scan ${paged.length} page(s), ${scanCost} points (requested ${paged[0]!.requestedCost}/page); full read ${full.pages} page(s), ${fullCost} points (first page requested ${fullQueries.find((q) => /SluicePage/.test(q.query))?.requestedCost})`);
    });
  }

  it('orders: without read_all_orders (Shopify would list 60 days only) the scan refuses before listing anything', async () => {
    h.tokens.set('shpat_no_all_orders', new Set(['read_orders', 'read_customers', 'read_products']));
    const from = h.queries.length;
    await expect(scan(h, 'orders', { accessToken: 'shpat_no_all_orders' })).rejects.toMatchObject({
      kind: 'permission',
      message: expect.stringMatching(/orders needs the read_all_orders scope: .*last 60 days.*nothing was deleted/),
    });
    expect(h.queries.slice(from).filter((q) => /SluiceKeys/.test(q.query))).toHaveLength(0);
    // Tables whose listing does not depend on it scan as before.
    expect((await scan(h, 'customers', { accessToken: 'shpat_no_all_orders' })).pages.length).toBeGreaterThan(0);
  });

  it('a deleted record is no longer listed; the others still are', async () => {
    const before = (await scan(h, 'customers')).pages.flatMap((p) => p.records.map((r) => r['id']));
    const victim = [...h.store.customers.keys()][137]!;
    expect(h.store.delete('customers', victim)).toBe(true);
    const after = (await scan(h, 'customers')).pages.flatMap((p) => p.records.map((r) => r['id']));
    expect(after).toEqual(before.filter((id) => id !== gid('Customer', victim)));
  });

  it('pages are sized by the cost model to what the bucket holds (a small bucket: smaller pages, never throttled)', async () => {
    const throttled = h.stats.throttled;
    h.bucket.reset(120, 1_000_000);
    try {
      const { pages, queries } = await scan(h, 'orders');
      const paged = queries.filter((q) => /SluiceKeys/.test(q.query));
      // A page of n costs 2 + n: at most 118 in a 120-point bucket.
      expect(Math.max(...paged.map((q) => Number(q.variables['first'])))).toBeLessThanOrEqual(118);
      expect(pages.length).toBeGreaterThan(Math.ceil(h.store.orders.size / KEY_SCAN_PAGE));
      expect(pages.flatMap((p) => p.records).length).toBe(h.store.orders.size);
      expect(h.stats.throttled).toBe(throttled);
    } finally {
      h.bucket.reset(2000, 1_000_000);
    }
  });
});
