import { SluiceError, connectionPages, graphqlTable, type ColumnType, type Connection, type CostSizing, type CursorSpec, type DataRecord, type DeleteFeed, type ExportJobDecl, type Json, type OrderKey, type ReadContext, type TableSpec } from '@sluice/core';
import { graphql, type ShopifyClient } from './client';
import { bulkStatus, cancelBulk, readBulkFile, startBulk } from './bulk';
import { PageCostModel } from './query-cost';
import type { ShopifyConfig } from './config';

/**
 * A Shopify table is declared as data (root connection, node fields, nested connections, transform);
 * this file turns the declaration into core's GraphQL table (../../../packages/core/src/engine/graphql.ts):
 * the engine pages the connection and runs the bulk operation as an export job; Shopify supplies only its
 * hooks: the query text, the cost model, nested connections completed per page, and the bulk operation's
 * mutations and JSONL file.
 */
export interface NestedConnection {
  /** Field on the node (`lineItems`). */
  field: string;
  /** GID type of its nodes (`LineItem`): how bulk lines find their field. */
  type: string;
  /** Selection of each child node; must include `id`. */
  fields: string;
  /** Children fetched with the parent page; the rest come from follow-up queries. */
  pageSize: number;
}

export interface ShopifyTableDef {
  name: string;
  description: string;
  /** Root connection field (`orders`). */
  root: string;
  /** GraphQL type of its nodes (`Order`). */
  type: string;
  /** Access scopes needed. */
  requires: string;
  /** Whether the connection takes `sortKey` (UPDATED_AT / CREATED_AT / ID). */
  sortable: boolean;
  /**
   * Count query that decides on a bulk backfill, and whether it takes `limit` in the API version we speak
   * (2025-01: ordersCount and productsCount do, customersCount does not; Shopify refuses an argument a
   * field does not take).
   */
  count?: { field: string; limit?: boolean };
  fields: string;
  nested?: NestedConnection[];
  /** Lists sized by `first` (no paging): a parent with a full list is re-read with the whole list. */
  lists?: { field: string; first: number; fields: string }[];
  columns?: Record<string, ColumnType>;
  /** Default: updatedAt (or createdAt), with the search-index lookback. */
  cursor?: CursorSpec;
  /**
   * The row's primary key `id` is the root node's own `id` (one row per node, the GID unchanged):
   * `deletes: { detect: reconcile }` then scans ids only (./key-scan.ts). Not for a table of children read
   * through their parents (transactions), whose keys a parent's id does not list.
   */
  keyIsNodeId?: boolean;
  /** `deletes: { detect: vendor }`: the table's deletion events (./delete-feed.ts), when Shopify keeps them. */
  deleteFeed?: DeleteFeed<ShopifyConfig, ShopifyClient>;
  /** One row per node, or several (a table of children read through their parents). */
  transform(node: Record<string, any>): DataRecord | DataRecord[];
}

type Ctx = ReadContext<ShopifyConfig, ShopifyClient>;
/** What a query of the source needs from its read: the client and the read's signal and progress (a table read, a delete feed). */
export type QueryCtx = Pick<Ctx, 'client' | 'signal' | 'report'>;

export const LOOKBACK_MS = 60_000;

/** Shopify timestamps are whole seconds: a lower bound floored to the second stays inclusive. */
export const searchTime = (iso: string) => new Date(Math.floor(Date.parse(iso) / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function searchFor(ctx: Ctx): string | undefined {
  if (!ctx.request.since) return undefined;
  const field = ctx.request.cursorField === 'createdAt' ? 'created_at' : 'updated_at';
  return `${field}:>='${searchTime(ctx.request.since)}'`;
}

function sortKeyFor(def: ShopifyTableDef, ctx: Ctx): string | undefined {
  if (!def.sortable) return undefined;
  if (ctx.request.mode === 'full_refresh' && !ctx.request.since) return 'ID';
  return ctx.request.cursorField === 'createdAt' ? 'CREATED_AT' : 'UPDATED_AT';
}

/**
 * The order guard's key of a node for a sort key (core's checkPageOrder). Shopify pages by an opaque
 * cursor over (sort value, id): ID is unique and numeric, so pages must start strictly after the last
 * one; timestamps are shown to the second while Shopify may sort finer, so ties are not checked by id
 * and a page may start at the previous page's last value (inclusive).
 */
export function orderOf(sortKey: string | undefined): { key: (node: Record<string, any>) => OrderKey | undefined; start: 'strict' | 'inclusive'; fields: string[] } | undefined {
  if (sortKey === 'ID') {
    return {
      key: (n) => {
        const id = /\/(\d+)(?:\?.*)?$/.exec(String(n['id']))?.[1];
        return id === undefined ? undefined : [Number(id)];
      },
      start: 'strict',
      fields: ['id'],
    };
  }
  const field = sortKey === 'UPDATED_AT' ? 'updatedAt' : sortKey === 'CREATED_AT' ? 'createdAt' : undefined;
  if (!field) return undefined;
  return {
    key: (n) => {
      const ms = typeof n[field] === 'string' ? Date.parse(n[field]) : NaN;
      return Number.isFinite(ms) ? [new Date(ms).toISOString()] : undefined;
    },
    start: 'inclusive',
    fields: [field],
  };
}

export function pagedQuery(def: ShopifyTableDef, sortKey: string | undefined): string {
  const nested = (def.nested ?? []).map((n) => `${n.field}(first: ${n.pageSize}) { pageInfo { hasNextPage endCursor } nodes { ${n.fields} } }`).join(' ');
  const lists = (def.lists ?? []).map((l) => `${l.field}(first: ${l.first}) { ${l.fields} }`).join(' ');
  const sort = sortKey ? `, sortKey: ${sortKey}` : '';
  return `query SluicePage($first: Int!, $after: String, $query: String) {
  ${def.root}(first: $first, after: $after, query: $query${sort}) {
    pageInfo { hasNextPage endCursor }
    nodes { ${def.fields} ${lists} ${nested} }
  }
}`;
}

export function bulkQuery(def: ShopifyTableDef, search: string | undefined, sortKey: string | undefined): string {
  const args = [search ? `query: ${JSON.stringify(search)}` : '', sortKey ? `sortKey: ${sortKey}` : ''].filter(Boolean).join(', ');
  const nested = (def.nested ?? []).map((n) => `${n.field} { edges { node { ${n.fields} } } }`).join(' ');
  const lists = (def.lists ?? []).map((l) => `${l.field} { ${l.fields} }`).join(' ');
  return `{ ${def.root}${args ? `(${args})` : ''} { edges { node { ${def.fields} ${lists} ${nested} } } } }`;
}

async function wantsBulk(def: ShopifyTableDef, ctx: Ctx, search: string | undefined): Promise<boolean> {
  const b = ctx.config.bulk;
  if (b.mode === 'never' || ctx.request.since !== undefined) return false;
  if (b.mode === 'always') return true;
  if (!def.count) return false;
  try {
    const { data } = await graphql<Record<string, { count: number } | null>>(
      ctx.client,
      countQuery(def.count),
      { query: search ?? null, ...(def.count.limit ? { limit: Math.max(1, b.threshold) } : {}) },
      { cost: 1, signal: ctx.signal, report: ctx.report },
    );
    const n = data['c']?.count ?? 0;
    // Paging is bound by the restore rate: estimate how long it would take at the requested cost per record.
    const perRecord = new PageCostModel(pagedQuery(def, sortKeyFor(def, ctx)), 'first').perItem;
    const pagingSeconds = (n * perRecord) / Math.max(1, ctx.client.bucket.restoreRate);
    ctx.log.info(`shopify ${def.name}: ${n} records to backfill, about ${Math.round(pagingSeconds)} s of paging (bulk threshold ${b.threshold} records or ${b.minPagingSeconds} s)`);
    return n >= b.threshold || pagingSeconds >= b.minPagingSeconds;
  } catch (e) {
    // Shopify refusing our own query is a defect to fix, never a reason to quietly take another plan.
    if (e instanceof SluiceError && e.kind === 'config') {
      const message = `Shopify refused the count query that chooses between a bulk operation and paging for ${def.name} (${e.message}); set bulk.mode to "never" or "always" to sync without it`;
      ctx.log.warn(`shopify ${def.name}: ${message}`);
      throw new SluiceError('config', message, { cause: e });
    }
    throw e;
  }
}

export const countQuery = (count: NonNullable<ShopifyTableDef['count']>) =>
  count.limit
    ? `query SluiceCount($query: String, $limit: Int) { c: ${count.field}(query: $query, limit: $limit) { count precision } }`
    : `query SluiceCount($query: String) { c: ${count.field}(query: $query) { count precision } }`;

/** Before the first page of a source: one cheap query so pages are sized against the real bucket. */
export async function learnBucket(ctx: QueryCtx): Promise<void> {
  if (ctx.client.bucket.observed()) return;
  await graphql(ctx.client, `query SluiceBucket { shop { id } }`, {}, { cost: 1, signal: ctx.signal, report: ctx.report });
}

/**
 * Shopify's cost model as core's cost hook: pages fit the bucket's points available now, learn from the
 * reported `requestedQueryCost`, and shrink under the single-query limit after a MAX_COST_EXCEEDED.
 */
export function shopifyCost(ctx: QueryCtx, model: PageCostModel): CostSizing {
  let maxCost = 1000;
  return {
    size: (requested) => ctx.client.bucket.fit(model.page(requested, maxCost)),
    estimate: (n) => model.estimate(n),
    calibrate: (n, cost) => model.calibrate(n, cost),
    tooCostly(n, cost, max) {
      model.calibrate(n, cost);
      maxCost = max;
    },
  };
}

/** The transport of every Shopify query: one POST through the cost governor. */
export const post = (ctx: QueryCtx) => async (req: { query: string; variables: Record<string, Json>; cost?: number }) => {
  const { data, requestedCost } = await graphql<Record<string, unknown>>(ctx.client, req.query, req.variables, { cost: req.cost ?? 1, signal: ctx.signal, report: ctx.report });
  return { data, cost: requestedCost };
};

/** Fetches the rest of nested connections that did not fit the parent page (core's connection pages, per parent). */
async function completeNested(def: ShopifyTableDef, ctx: Ctx, nodes: Record<string, any>[]): Promise<void> {
  for (const l of def.lists ?? []) {
    const query = `query SluiceList($id: ID!) { node(id: $id) { ... on ${def.type} { ${l.field} { ${l.fields} } } } }`;
    for (const node of nodes) {
      if (!Array.isArray(node[l.field]) || node[l.field].length < l.first) continue;
      const { data } = await graphql<{ node: Record<string, any> | null }>(ctx.client, query, { id: node['id'] }, { cost: 1 + 4 * l.first, signal: ctx.signal, report: ctx.report });
      if (Array.isArray(data.node?.[l.field])) node[l.field] = data.node[l.field];
    }
  }
  for (const n of def.nested ?? []) {
    const query = `query SluiceMore($id: ID!, $first: Int!, $after: String) {
  node(id: $id) { ... on ${def.type} { ${n.field}(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${n.fields} } } } }
}`;
    const model = new PageCostModel(query, 'first');
    for (const node of nodes) {
      const conn = node[n.field] as Partial<Connection> | undefined;
      const all = [...(conn?.nodes ?? [])];
      const after = conn?.pageInfo?.hasNextPage ? conn.pageInfo.endCursor : null;
      if (after) {
        const pages = connectionPages({
          vendor: 'Shopify',
          table: def.name,
          connection: `${n.field} of ${String(node['id'])}`,
          size: 50, // the rest of one parent: usually a few
          cost: shopifyCost(ctx, model),
          after,
          async fetch(req) {
            const { data, cost } = await post(ctx)({ query, variables: { id: node['id'], first: req.first, after: req.after }, cost: req.cost });
            const more = (data['node'] as Record<string, any> | null)?.[n.field] as Connection | undefined;
            // A parent gone since its page: nothing more to complete.
            return { connection: more ?? { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } }, cost };
          },
        });
        for await (const page of pages) all.push(...page.nodes);
      }
      node[n.field] = all;
    }
  }
}

/** The export-job hooks of a table: the count query choosing it, the bulk query, the JSONL download. */
function bulkJob(def: ShopifyTableDef): ExportJobDecl<Ctx> {
  const children = Object.fromEntries((def.nested ?? []).map((n) => [n.type, n.field]));
  const c = (ctx: Ctx) => ({ client: ctx.client, signal: ctx.signal, report: ctx.report });
  return {
    describe: def.count ? `bulk operation when ${def.count.field} reaches bulk.threshold (or paging would take bulk.minPagingSeconds)` : 'bulk operation when bulk.mode is "always"',
    wanted: (ctx) => wantsBulk(def, ctx, searchFor(ctx)),
    start: (ctx) => startBulk(c(ctx), bulkQuery(def, searchFor(ctx), sortKeyFor(def, ctx)), `${ctx.source}.${def.name}`),
    async poll(id, ctx) {
      const s = await bulkStatus(c(ctx), id);
      if (s.status === 'CREATED' || s.status === 'RUNNING' || s.status === 'CANCELING') return { state: 'running', note: `bulk operation ${id}: ${s.status}, ${s.objectCount} objects` };
      if (s.status === 'COMPLETED') return { state: 'completed', url: s.url, objectCount: Number(s.objectCount) || undefined };
      if (s.errorCode === 'ACCESS_DENIED') throw new SluiceError('permission', `Shopify: access denied to the bulk query of ${def.name}; the token needs ${def.requires}`);
      return { state: 'failed', reason: `bulk operation ${s.id} ended ${s.status}${s.errorCode ? ` (${s.errorCode})` : ''}` };
    },
    cancel: (id, ctx) => cancelBulk(ctx.client, id),
    timing: (ctx) => ({ pollIntervalMs: ctx.config.bulk.pollIntervalMs, timeoutMs: ctx.config.bulk.timeoutMs }),
    oneAtATime: (ctx) => (run) => ctx.client.withBulkSlot(run),
    download: (req, ctx) => readBulkFile(c(ctx), req.url, { skip: req.skip, children, expectedObjects: req.objectCount }),
  };
}

export function shopifyTable(def: ShopifyTableDef): TableSpec<ShopifyConfig, ShopifyClient> {
  return graphqlTable<ShopifyConfig, ShopifyClient>({
    vendor: 'Shopify',
    name: def.name,
    description: def.description,
    primaryKey: ['id'],
    partitionBy: 'createdAt',
    // Shopify's `query:` filter is served by a search index that trails writes by a few seconds: re-read
    // the last minute each sync (the merge removes the overlap) so a late-indexed update is not skipped.
    cursor: def.cursor ?? { fields: ['updatedAt', 'createdAt'], default: 'updatedAt', lookbackMs: LOOKBACK_MS },
    columns: /\blegacyResourceId\b/.test(def.fields) ? { legacyResourceId: 'BIGINT', ...def.columns } : def.columns,
    requires: def.requires,
    ...(def.deleteFeed ? { deleteFeed: def.deleteFeed } : {}),
    endpoint: `POST /admin/api/{config.apiVersion}/graphql.json: ${def.root}(first:, after:, query:${def.sortable ? ', sortKey:' : ''}) { nodes { … } }`,
    filter: { updatedAt: "query=updated_at:>='{value}'", createdAt: "query=created_at:>='{value}'" },
    paging: {
      kind: 'graphql-connection',
      size: { config: 'pageSize' },
      connection: def.root,
      query: (ctx) => {
        const search = searchFor(ctx);
        return { text: pagedQuery(def, sortKeyFor(def, ctx)), variables: { query: search ?? null } };
      },
      post: (req, ctx) => post(ctx)(req),
      async cost(query, ctx) {
        const model = new PageCostModel(query, 'first');
        await learnBucket(ctx);
        return shopifyCost(ctx, model);
      },
      order: (ctx) => orderOf(sortKeyFor(def, ctx)),
    },
    ...(def.nested?.length || def.lists?.length
      ? {
          perPage: {
            describe: [
              ...(def.nested ?? []).map((n) => `${n.field} (first ${n.pageSize}, the rest by follow-up queries)`),
              ...(def.lists ?? []).map((l) => `${l.field} (first ${l.first}, a full list re-read whole)`),
            ],
            run: (nodes, ctx) => completeNested(def, ctx, nodes),
          },
        }
      : {}),
    exportJob: bulkJob(def),
    transform: def.transform,
  });
}
