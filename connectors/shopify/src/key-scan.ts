import { describeGraphql, graphqlTable, SluiceError, type GraphqlTableDecl, type KeyScan, type Page, type ReadContext } from '@sluice/core';
import { learnBucket, orderOf, post, shopifyCost, type ShopifyTableDef } from './graphql-table';
import { PageCostModel } from './query-cost';
import type { ShopifyClient } from './client';
import type { ShopifyConfig } from './config';

/**
 * Reconciliation's key scan (`deletes: { detect: reconcile }`) of a table whose primary key is its root
 * connection's node `id` (the GID, stored as is): the connection with `nodes { id }` only, paged by core's
 * GraphQL connection paging under the cost bucket. A key-only node costs 1 point (an object; its scalar
 * `id` is free), so a page of n costs 2 + n: the PageCostModel asks Shopify's largest page (250, 252 points)
 * whenever the bucket holds it. Sorted by ID where the connection takes a sort key (order guard on the
 * numeric id); `inventoryItems` takes none and pages in Shopify's default order, unguarded as its table.
 * Never a bulk operation: the scan runs in the reconciliation's activity, page by page.
 */
export const KEY_SCAN_PAGE = 250;

/**
 * Scopes without which Shopify lists only part of a table: a key scan then makes every stored row it does
 * not list look deleted, so it refuses to start (the sync fails naming the scope; nothing is deleted).
 */
const COMPLETE_LISTING: Readonly<Record<string, { scope: string; why: string }>> = {
  orders: { scope: 'read_all_orders', why: 'without it Shopify lists only the orders of the last 60 days, so every older stored order would look deleted' },
};

async function requireScope(ctx: ReadContext<ShopifyConfig, ShopifyClient>, table: string, need: { scope: string; why: string }): Promise<void> {
  const { data } = await post(ctx)({ query: 'query SluiceScopes { currentAppInstallation { accessScopes { handle } } }', variables: {}, cost: 1 });
  const scopes = ((data['currentAppInstallation'] as { accessScopes?: { handle?: string }[] } | undefined)?.accessScopes ?? []).map((s) => s.handle);
  if (!scopes.includes(need.scope))
    throw new SluiceError('permission', `deletes: { detect: reconcile } on ${table} needs the ${need.scope} scope: ${need.why}. Add ${need.scope} to the app's access scopes, or remove deletes: from ${table}; nothing was deleted`);
}

export function keyScanQuery(def: ShopifyTableDef): string {
  return `query SluiceKeys($first: Int!, $after: String) {
  ${def.root}(first: $first, after: $after${def.sortable ? ', sortKey: ID' : ''}) {
    pageInfo { hasNextPage endCursor }
    nodes { id }
  }
}`;
}

export function keyScan(def: ShopifyTableDef): KeyScan<ShopifyConfig, ShopifyClient> {
  const text = keyScanQuery(def);
  const decl: GraphqlTableDecl<ShopifyConfig, ShopifyClient> = {
    vendor: 'Shopify',
    name: def.name,
    description: `${def.name}: ids only`,
    primaryKey: ['id'],
    endpoint: `POST /admin/api/{config.apiVersion}/graphql.json: ${def.root}(first:, after:${def.sortable ? ', sortKey: ID' : ''}) { nodes { id } }`,
    paging: {
      kind: 'graphql-connection',
      size: KEY_SCAN_PAGE,
      connection: def.root,
      query: () => ({ text }),
      post: (req, ctx) => post(ctx)(req),
      async cost(query, ctx) {
        await learnBucket(ctx);
        return shopifyCost(ctx, new PageCostModel(query, 'first'));
      },
      order: () => orderOf(def.sortable ? 'ID' : undefined),
    },
    // The row's key exactly as the table stores it: the node's GID.
    transform: (n) => ({ id: n['id'] }),
  };
  // Core's engine for a GraphQL table, run for its paging only: pages end with `{ done: true }` as the table's.
  const table = graphqlTable(decl);
  const need = COMPLETE_LISTING[def.name];
  return {
    reads: describeGraphql(decl),
    read: need
      ? async function* (ctx): AsyncIterable<Page> {
          await requireScope(ctx, def.name, need);
          yield* table.read(ctx);
        }
      : table.read,
  };
}
