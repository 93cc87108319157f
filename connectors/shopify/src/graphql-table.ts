import { SluiceError, checkPageOrder, sleep, type ColumnType, type CursorSpec, type DataRecord, type Json, type OrderKey, type Page, type ReadContext, type TableSpec } from '@sluice/core';
import { graphql, MaxCostExceeded, type ShopifyClient } from './client';
import { BulkUnavailable, readBulkFile, runBulk, waitBulk } from './bulk';
import { PageCostModel } from './query-cost';
import type { ShopifyConfig } from './config';

/**
 * A Shopify table is declared as data (root connection, node fields, nested connections, transform);
 * this file turns the declaration into a `read` that pages through the connection (cost-sized pages,
 * nested connections completed with follow-up queries) or backfills through a bulk operation.
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
  /** One row per node, or several (a table of children read through their parents). */
  transform(node: Record<string, any>): DataRecord | DataRecord[];
}

const rowsOf = (def: ShopifyTableDef, nodes: Record<string, any>[]): DataRecord[] => nodes.flatMap((n): DataRecord[] => {
  const rows = def.transform(n);
  return Array.isArray(rows) ? rows : [rows];
});

type Ctx = ReadContext<ShopifyConfig, ShopifyClient>;

type Checkpoint = { done?: true; page?: { after: string | null; last?: Json[] | null }; bulk?: { id: string; skip: number } } | undefined;

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
function orderOf(sortKey: string | undefined): { key: (node: Record<string, any>) => OrderKey | undefined; start: 'strict' | 'inclusive'; fields: string[] } | undefined {
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

async function* bulkPhase(def: ShopifyTableDef, ctx: Ctx, resume: { id: string; skip: number } | undefined): AsyncGenerator<Page> {
  const c = { client: ctx.client, signal: ctx.signal, report: ctx.report };
  const op = resume ? await waitBulk(c, resume.id) : await runBulk(c, bulkQuery(def, searchFor(ctx), sortKeyFor(def, ctx)), `${ctx.source}.${def.name}`);
  if (op.status !== 'COMPLETED') {
    if (op.errorCode === 'ACCESS_DENIED') throw new SluiceError('permission', `Shopify: access denied to the bulk query of ${def.name}; the token needs ${def.requires}`);
    throw new BulkUnavailable(`bulk operation ${op.id} ended ${op.status}${op.errorCode ? ` (${op.errorCode})` : ''}`);
  }
  if (!resume) yield { records: [], checkpoint: { bulk: { id: op.id, skip: 0 } } };
  if (!op.url) {
    yield { records: [], checkpoint: { done: true } };
    return;
  }
  const children = Object.fromEntries((def.nested ?? []).map((n) => [n.type, n.field]));
  // A broken download is resumed in place: a fresh link, skipping the records already staged.
  let url = op.url;
  let skip = resume?.skip ?? 0;
  for (let attempt = 1; ; attempt++) {
    try {
      const file = readBulkFile(c, url, { operationId: op.id, skip, children, pageSize: 1000, transform: def.transform, expectedObjects: Number(op.objectCount) || undefined });
      for await (const page of file) {
        const b = (page.checkpoint as { bulk?: { skip: number } }).bulk;
        if (b) skip = b.skip;
        yield page;
      }
      return;
    } catch (e) {
      if (!(e instanceof SluiceError) || e.kind !== 'transient' || attempt >= 3 || ctx.signal.aborted) throw e;
      ctx.log.warn(`shopify ${def.name}: ${e.message}; downloading again (attempt ${attempt + 1})`);
      ctx.report({ type: 'retry', attempt, reason: e.message });
      await sleep(500 * attempt, ctx.signal);
      const again = await waitBulk(c, op.id);
      if (!again.url) throw e;
      url = again.url;
    }
  }
}

/** Before the first page of a source: one cheap query so pages are sized against the real bucket. */
async function learnBucket(ctx: Ctx): Promise<void> {
  if (ctx.client.bucket.observed()) return;
  await graphql(ctx.client, `query SluiceBucket { shop { id } }`, {}, { cost: 1, signal: ctx.signal, report: ctx.report });
}

/** Fetches the rest of nested connections that did not fit the parent page. */
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
      const conn = node[n.field] as { pageInfo?: { hasNextPage?: boolean; endCursor?: string | null }; nodes?: unknown[] } | undefined;
      const all = [...(conn?.nodes ?? [])];
      let info = conn?.pageInfo;
      let maxCost = 1000;
      while (info?.hasNextPage && info.endCursor) {
        const size = ctx.client.bucket.fit(model.page(50, maxCost)); // the rest of one parent: usually a few
        let res;
        try {
          res = await graphql<{ node: Record<string, any> | null }>(
            ctx.client,
            query,
            { id: node['id'], first: size, after: info.endCursor },
            { cost: model.estimate(size), signal: ctx.signal, report: ctx.report },
          );
        } catch (e) {
          if (e instanceof MaxCostExceeded && size > 1) {
            model.calibrate(size, e.cost);
            maxCost = e.maxCost;
            continue;
          }
          throw e;
        }
        const { data, requestedCost } = res;
        model.calibrate(size, requestedCost);
        const more = data.node?.[n.field];
        if (!more) break;
        all.push(...(more.nodes ?? []));
        if (more.pageInfo?.endCursor === info.endCursor) throw new SluiceError('bad_response', `Shopify repeated a ${n.field} cursor for ${node['id']}`);
        info = more.pageInfo;
      }
      node[n.field] = all;
    }
  }
}

async function* pagePhase(def: ShopifyTableDef, ctx: Ctx, after: string | null, lastKey: OrderKey | null = null): AsyncGenerator<Page> {
  const sortKey = sortKeyFor(def, ctx);
  const order = orderOf(sortKey);
  const query = pagedQuery(def, sortKey);
  const search = searchFor(ctx);
  const model = new PageCostModel(query, 'first');
  let maxCost = 1000;
  const seen = new Set<string>();
  await learnBucket(ctx);
  for (;;) {
    const size = ctx.client.bucket.fit(model.page(ctx.config.pageSize, maxCost));
    let result;
    try {
      result = await graphql<Record<string, { pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: Record<string, any>[] }>>(
        ctx.client,
        query,
        { first: size, after, query: search ?? null },
        { cost: model.estimate(size), signal: ctx.signal, report: ctx.report },
      );
    } catch (e) {
      if (e instanceof MaxCostExceeded && size > 1) {
        model.calibrate(size, e.cost);
        maxCost = e.maxCost;
        continue;
      }
      throw e;
    }
    model.calibrate(size, result.requestedCost);
    const conn = result.data[def.root];
    if (!conn) throw new SluiceError('bad_response', `Shopify answered without ${def.root}`);
    if (order) lastKey = checkPageOrder({ vendor: 'Shopify', table: def.name, keys: conn.nodes.map(order.key), after: lastKey, start: order.start, fields: order.fields });
    await completeNested(def, ctx, conn.nodes);
    const records = rowsOf(def, conn.nodes);
    const next = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
    if (!next) {
      yield { records, checkpoint: { done: true } };
      return;
    }
    if (seen.has(next)) throw new SluiceError('bad_response', `Shopify returned the ${def.root} cursor ${next} twice; stopping to avoid an endless loop`);
    seen.add(next);
    yield { records, checkpoint: { page: { after: next, ...(order ? { last: lastKey as Json[] | null } : {}) } } };
    after = next;
  }
}

export function shopifyTable(def: ShopifyTableDef): TableSpec<ShopifyConfig, ShopifyClient> {
  return {
    name: def.name,
    description: def.description,
    primaryKey: ['id'],
    partitionBy: 'createdAt',
    // Shopify's `query:` filter is served by a search index that trails writes by a few seconds: re-read
    // the last minute each sync (the merge removes the overlap) so a late-indexed update is not skipped.
    cursor: def.cursor ?? { fields: ['updatedAt', 'createdAt'], default: 'updatedAt', lookbackMs: LOOKBACK_MS },
    columns: /\blegacyResourceId\b/.test(def.fields) ? { legacyResourceId: 'BIGINT', ...def.columns } : def.columns,
    requires: def.requires,
    reads: {
      endpoint: `POST /admin/api/{config.apiVersion}/graphql.json: ${def.root}(first:, after:, query:${def.sortable ? ', sortKey:' : ''}) { nodes { … } }`,
      paging: {
        kind: 'graphql-connection',
        pageSize: { config: 'pageSize' },
        // What makes Shopify's paging its own: pages sized to the query-cost bucket, nested connections
        // completed by follow-up queries, and a backfill through a bulk operation (start, poll, download JSONL).
        costSized: true,
        ...(def.nested?.length ? { nested: def.nested.map((n) => `${n.field} (first ${n.pageSize}, the rest by follow-up queries)`) } : {}),
        backfill: def.count ? `bulk operation when ${def.count.field} reaches bulk.threshold (or paging would take bulk.minPagingSeconds)` : 'bulk operation when bulk.mode is "always"',
      },
      filter: { updatedAt: "query=updated_at:>='{value}'", createdAt: "query=created_at:>='{value}'" },
    },
    async *read(ctx) {
      const cp = ctx.request.checkpoint as Checkpoint;
      if (cp?.done) return;
      if (cp?.page) {
        yield* pagePhase(def, ctx, cp.page.after, cp.page.last ?? null);
        return;
      }
      if (cp?.bulk || (await wantsBulk(def, ctx, searchFor(ctx)))) {
        try {
          yield* bulkPhase(def, ctx, cp?.bulk);
          return;
        } catch (e) {
          if (!(e instanceof BulkUnavailable)) throw e;
          ctx.log.warn(`shopify ${def.name}: ${e.message}; paging instead`);
          ctx.report({ type: 'note', message: `${e.message}; paging instead` });
        }
      }
      yield* pagePhase(def, ctx, null);
    },
  };
}
