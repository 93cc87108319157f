import { restTable, SluiceError, type ColumnType, type DataRecord, type HttpRequest, type TableSpec } from '@sluice/core';
import type { CommercetoolsClient } from './client';
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

/** The declarations: one line of data per table. */
export const TABLES = [
  { name: 'orders', endpoint: 'orders', scope: 'view_orders', description: 'Orders with line items, prices (cent amounts), addresses and states', columns: { completedAt: 'TIMESTAMPTZ' } },
  { name: 'carts', endpoint: 'carts', scope: 'view_orders', description: 'Carts (active, ordered, merged, frozen) with line items and totals' },
  { name: 'customers', endpoint: 'customers', scope: 'view_customers', description: 'Customers with addresses (the password hash is dropped)', columns: { dateOfBirth: 'DATE' }, drop: ['password'] },
  { name: 'payments', endpoint: 'payments', scope: 'view_payments', description: 'Payments with planned amount, method and transactions' },
  { name: 'product_projections', endpoint: 'product-projections', scope: 'view_products', description: 'Current (published) product projections with variants and prices' },
  { name: 'categories', endpoint: 'categories', scope: 'view_categories', description: 'Category tree (ancestors, parent, order hints)' },
  { name: 'discount_codes', endpoint: 'discount-codes', scope: 'view_discount_codes', description: 'Discount codes and the cart discounts they activate', columns: { validFrom: 'TIMESTAMPTZ', validUntil: 'TIMESTAMPTZ' } },
  { name: 'inventory', endpoint: 'inventory', scope: 'view_products', description: 'Inventory entries per SKU and supply channel', columns: { expectedDelivery: 'TIMESTAMPTZ' } },
] as const satisfies readonly { name: string; endpoint: string; scope: string; description: string; columns?: Record<string, ColumnType>; drop?: readonly string[] }[];

function transform(drop: readonly string[]) {
  return (record: DataRecord): DataRecord => {
    if (drop.length === 0) return record;
    const out = { ...record };
    for (const f of drop) delete out[f];
    return out;
  };
}

export const tables: TableSpec<CommercetoolsConfig, CommercetoolsClient>[] = TABLES.map((t) =>
  restTable<CommercetoolsConfig, CommercetoolsClient>({
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
  }),
);
