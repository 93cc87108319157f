import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kind, parse, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { start, sourceConfig, gid, type ShopifyEmulator, type GraphqlLogEntry } from '@sluice/emulators/shopify/index';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';

/**
 * Reconciliation of Shopify orders (`deletes: { detect: reconcile }`), end to end: `sluice sync` through
 * Temporal, the Shopify emulator (an order deleted there between syncs) and the DuckLake warehouse. The
 * key scan reads `orders(sortKey: ID) { nodes { id } }` only, never the orders' full read.
 */

type TableResultJson = { table: string; outcome: string; rowsWritten: number; rowsDeleted?: number; error?: string };

/** The root field of a logged query and the fields its `nodes` select. */
function rootOf(q: GraphqlLogEntry): { name: string; args: Record<string, unknown>; nodeFields: string[] } | undefined {
  const op = parse(q.query).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const field = op?.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD);
  if (!field) return undefined;
  const nodes = field.selectionSet?.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === 'nodes');
  return {
    name: field.name.value,
    args: Object.fromEntries((field.arguments ?? []).map((a) => [a.name.value, a.value.kind === Kind.ENUM ? a.value.value : a.value.kind === Kind.VARIABLE ? q.variables[a.value.name.value] : a.value.kind])),
    nodeFields: (nodes?.selectionSet?.selections ?? []).map((s) => (s.kind === Kind.FIELD ? s.name.value : `<${s.kind}>`)),
  };
}

describe('deletes: { detect: reconcile } on Shopify orders (ids-only key scan)', () => {
  let shop: ShopifyEmulator;
  let env: SluiceEnv;
  const sources = (): SourceYaml[] => [
    {
      name: 'rec_shop',
      type: 'shopify',
      config: { ...sourceConfig(shop), bulk: { mode: 'never' }, pageSize: 5 },
      tables: { orders: { mode: 'incremental', deletes: { detect: 'reconcile', handle: 'soft' } } as never },
    },
  ];
  async function sync(...args: string[]): Promise<{ code: number; tables: Record<string, TableResultJson>; stderr: string }> {
    const r = await env.run('sync', ...args, '--json');
    const tables = Object.fromEntries((JSON.parse(r.stdout)[0].tables as TableResultJson[]).map((t) => [t.table, t]));
    return { code: r.code, tables, stderr: r.stderr };
  }

  beforeAll(async () => {
    shop = await start({ seed: 2323, orders: 24, customers: 8, products: 6, restoreRate: 1_000_000 });
    env = await sluiceEnv({ sources: sources() });
  });
  afterAll(async () => {
    await env?.close();
    await shop?.close();
  });

  it('marks the order deleted at Shopify between syncs (the others NULL); the reconcile selected ids only', async () => {
    const first = await sync('rec_shop');
    expect(first.code, first.stderr).toBe(0);
    expect(first.tables.orders).toMatchObject({ outcome: 'succeeded', rowsWritten: 24, rowsDeleted: 0 });

    const victim = [...shop.store.orders.keys()][9]!;
    expect(shop.store.delete('orders', victim)).toBe(true);
    const from = shop.queries.length;
    const second = await sync('rec_shop');
    expect(second.code, second.stderr).toBe(0);
    expect(second.tables.orders).toMatchObject({ outcome: 'succeeded', rowsDeleted: 1 });

    const marked = await env.query<{ id: string }>(`SELECT id FROM rec_shop.orders WHERE _sluice_deleted_at IS NOT NULL`);
    expect(marked.map((r) => r.id)).toEqual([gid('Order', victim)]);
    const live = await env.query<{ id: string }>(`SELECT id FROM rec_shop.orders WHERE _sluice_deleted_at IS NULL ORDER BY id`);
    expect(live.map((r) => r.id)).toEqual([...shop.store.orders.keys()].map((id) => gid('Order', id)).sort());

    // The second sync's order reads: the incremental extract (filtered by updated_at) and the key scan
    // (no filter, ids only, sorted by ID). No unfiltered read selects anything but ids, no bulk operation.
    const reads = shop.queries.slice(from).map((q) => ({ q, root: rootOf(q) })).filter((r) => r.root?.name === 'orders');
    const scans = reads.filter((r) => !r.root!.args['query']);
    expect(scans.length).toBeGreaterThanOrEqual(1);
    for (const s of scans) {
      expect(s.root!.nodeFields).toEqual(['id']);
      expect(s.root!.args['sortKey']).toBe('ID');
      // A key-only page is the largest Shopify serves (the table's pageSize 5 is for full reads): 2 + 250 points.
      expect(s.root!.args['first']).toBe(250);
      expect(s.q.requestedCost).toBe(252);
      expect(s.q.actualCost).toBe(2 + 23);
    }
    const extracts = reads.filter((r) => r.root!.args['query']);
    expect(extracts.every((r) => String(r.root!.args['query']).startsWith('updated_at:>='))).toBe(true);
    expect(shop.queries.slice(from).some((q) => /bulkOperationRunQuery/.test(q.query))).toBe(false);
  });

  it('sluice connectors shopify shows the key scans of the tables keyed by their node id (not transactions)', async () => {
    const json = JSON.parse((await env.run('connectors', 'shopify', '--json')).stdout) as { tables: { name: string; keyScan?: { endpoint: string; paging: { kind: string; pageSize?: number } } }[] }[];
    const tables = json[0]!.tables;
    expect(tables.filter((t) => t.keyScan).map((t) => t.name)).toEqual(['orders', 'customers', 'products', 'inventory_items']);
    expect(tables.find((t) => t.name === 'orders')!.keyScan).toMatchObject({ endpoint: expect.stringContaining('orders(first:, after:, sortKey: ID) { nodes { id } }'), paging: { kind: 'graphql-connection', pageSize: 250 } });
  });
});
