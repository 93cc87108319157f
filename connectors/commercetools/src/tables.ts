import { keysetPaging, paginate, restTable, selectRecords, SluiceError, type ColumnType, type DataRecord, type DeleteFeed, type HttpRequest, type TableSpec } from '@sluice/core';
import type { CommercetoolsClient } from './client';
import { graphqlKeyScan } from './key-scan';
import type { CommercetoolsConfig } from './config';

/**
 * Writes that commit late (concurrent transactions) can carry a lastModifiedAt slightly before the
 * newest one already read. Re-reading the last minute costs little; merge/append dedupe the overlap.
 */
export const LOOKBACK_MS = 60_000;

/** A quoted predicate value (commercetools strings are double-quoted, backslash-escaped). */
export const quote = (v: unknown) => JSON.stringify(String(v));

/** Normalises the engine's lower bound to the API's millisecond UTC form; floors sub-millisecond digits. */
export function sinceValue(since: string): string {
  const ms = Date.parse(since);
  if (!Number.isFinite(ms)) throw new SluiceError('config', `cursor value "${since}" is not a valid timestamp`);
  return new Date(ms).toISOString();
}

/** Strictly after the last (lastModifiedAt, id) seen, in the (lastModifiedAt asc, id asc) order. */
export const afterPredicate = (lastModifiedAt: unknown, id: unknown) =>
  `lastModifiedAt > ${quote(lastModifiedAt)} or (lastModifiedAt = ${quote(lastModifiedAt)} and id > ${quote(id)})`;

/** Adds a predicate to the request's `where` list (commercetools ANDs repeated `where` parameters). */
const addWhere = (req: HttpRequest, predicate: string): HttpRequest => {
  const where = req.query?.where;
  const list = where === undefined || where === null ? [] : Array.isArray(where) ? where : [String(where)];
  return { ...req, query: { ...req.query, where: [...list, predicate] } };
};

const TIMESTAMPS: Record<string, ColumnType> = { createdAt: 'TIMESTAMPTZ', lastModifiedAt: 'TIMESTAMPTZ' };

/**
 * The declarations: one line of data per table. `graphql`: the table's query field in the GraphQL API, which
 * reconciliation's key scan selects `id` from (./key-scan.ts); product projections have none (the GraphQL
 * `products` field lists unpublished products too, so it would keep rows the REST read no longer lists).
 */
export const TABLES = [
  { name: 'orders', endpoint: 'orders', graphql: 'orders', scope: 'view_orders', description: 'Orders with line items, prices (cent amounts), addresses and states', columns: { completedAt: 'TIMESTAMPTZ' }, deleted: 'OrderDeleted' },
  { name: 'carts', endpoint: 'carts', graphql: 'carts', scope: 'view_orders', description: 'Carts (active, ordered, merged, frozen) with line items and totals' },
  { name: 'customers', endpoint: 'customers', graphql: 'customers', scope: 'view_customers', description: 'Customers with addresses (the password hash is dropped)', columns: { dateOfBirth: 'DATE' }, drop: ['password'], deleted: 'CustomerDeleted' },
  { name: 'payments', endpoint: 'payments', graphql: 'payments', scope: 'view_payments', description: 'Payments with planned amount, method and transactions' },
  { name: 'product_projections', endpoint: 'product-projections', scope: 'view_products', description: 'Current (published) product projections with variants and prices' },
  { name: 'categories', endpoint: 'categories', graphql: 'categories', scope: 'view_categories', description: 'Category tree (ancestors, parent, order hints)' },
  { name: 'discount_codes', endpoint: 'discount-codes', graphql: 'discountCodes', scope: 'view_discount_codes', description: 'Discount codes and the cart discounts they activate', columns: { validFrom: 'TIMESTAMPTZ', validUntil: 'TIMESTAMPTZ' } },
  { name: 'inventory', endpoint: 'inventory', graphql: 'inventoryEntries', scope: 'view_products', description: 'Inventory entries per SKU and supply channel', columns: { expectedDelivery: 'TIMESTAMPTZ' }, deleted: 'InventoryEntryDeleted' },
] as const satisfies readonly { name: string; endpoint: string; graphql?: string; scope: string; description: string; columns?: Record<string, ColumnType>; drop?: readonly string[]; deleted?: string }[];

function transform(drop: readonly string[]) {
  return (record: DataRecord): DataRecord => {
    if (drop.length === 0) return record;
    const out = { ...record };
    for (const f of drop) delete out[f];
    return out;
  };
}

/** The scope Messages need, and how long the API keeps them by default (the project's `deleteDaysAfterCreation`). */
export const MESSAGES_SCOPE = 'view_messages';
export const MESSAGE_RETENTION_MS = 15 * 86_400_000;

/** Strictly after the last (createdAt, id) seen, in the (createdAt asc, id asc) order of Messages. */
const afterMessage = (createdAt: unknown, id: unknown) => `createdAt > ${quote(createdAt)} or (createdAt = ${quote(createdAt)} and id > ${quote(id)})`;

/**
 * `deletes: { detect: vendor }`: the table's ResourceDeleted Messages (`OrderDeleted`…), key-set paged on
 * (createdAt, id) by the engine from the feed cursor on; `resource.id` is the deleted record's id.
 */
export function messagesFeed(type: string): DeleteFeed<CommercetoolsConfig, CommercetoolsClient> {
  return {
    describe: `GET /{config.projectKey}/messages where type = "${type}"`,
    requires: MESSAGES_SCOPE,
    retentionMs: MESSAGE_RETENTION_MS,
    async *read(ctx) {
      const where = [`type = ${quote(type)}`, ...(ctx.since ? [`createdAt >= ${quote(sinceValue(ctx.since))}`] : [])];
      const size = ctx.config.pageSize;
      const pages = paginate({
        http: ctx.client.http,
        request: { method: 'GET', path: `/${encodeURIComponent(ctx.config.projectKey)}/messages`, query: { where, sort: ['createdAt asc', 'id asc'], limit: size, withTotal: false } },
        paginator: keysetPaging({ fields: ['createdAt', 'id'], size, apply: (after, req) => (after ? addWhere(req, afterMessage(after[0], after[1])) : req) }),
        records: selectRecords('results'),
        signal: ctx.signal,
        report: ctx.report,
        table: `${ctx.table} (${type} messages)`,
      });
      for await (const page of pages) {
        const ids: string[] = [];
        for (const m of page.records) {
          const id = (m.resource as { id?: unknown } | undefined)?.id;
          if (typeof id !== 'string' || !id) throw new SluiceError('bad_response', `commercetools answered a ${type} message without resource.id (message ${String(m.id)}); nothing was deleted`);
          ids.push(id);
        }
        const last = page.records[page.records.length - 1];
        yield { ids, lastEventAt: last ? String(last.createdAt) : undefined };
      }
    },
  };
}

export const tables: TableSpec<CommercetoolsConfig, CommercetoolsClient>[] = TABLES.map((t) => {
  const table = restTable<CommercetoolsConfig, CommercetoolsClient>({
    name: t.name,
    description: t.description,
    primaryKey: ['id'],
    partitionBy: 'createdAt',
    cursor: { fields: ['lastModifiedAt'], default: 'lastModifiedAt', lookbackMs: LOOKBACK_MS, filter: { param: 'where', template: 'lastModifiedAt >= "{value}"', format: sinceValue } },
    requires: t.scope,
    columns: { ...TIMESTAMPS, ...('columns' in t ? t.columns : {}) },
    request: { path: `/{config.projectKey}/${t.endpoint}`, params: { withTotal: false, sort: ['lastModifiedAt asc', 'id asc'] } },
    records: 'results',
    // Key-set paging on (lastModifiedAt, id): never an offset, so it reads any number of records sharing one
    // lastModifiedAt, and a record modified mid-scan only moves towards the end (read now or next sync).
    paging: { kind: 'keyset', size: { config: 'pageSize' }, sizeParam: 'limit', fields: ['lastModifiedAt', 'id'], after: ([at, id], req) => addWhere(req, afterPredicate(at, id)) },
    // A first sync or full refresh reads ranges of lastModifiedAt concurrently: the client's governor holds
    // 4 requests at a time per project, which is what the engine fills.
    // `withTotal` once, on the probe: a table of a few pages is read in one scan.
    slices: { upper: { param: 'where', template: 'lastModifiedAt < "{value}"', format: sinceValue }, concurrency: 4, count: { params: { withTotal: true }, total: 'total' } },
    transform: transform('drop' in t ? t.drop : []),
  });
  return { ...table, ...('deleted' in t ? { deleteFeed: messagesFeed(t.deleted) } : {}), ...('graphql' in t ? { keyScan: graphqlKeyScan(table, t.graphql) } : {}) };
});
