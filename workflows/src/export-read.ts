import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent as q, quoteLiteral as lit, rows as readRows } from '@sluice/warehouse';
import type { CustomerRow, OrderRow } from './export-events';
import type { StreamCursor } from './export-shared';

/**
 * Reads the customers and orders an export sends from the lake tables `<source>.customers` and
 * `<source>.orders`, in key order (updated time, id) after a cursor, normalised to one shape whatever the
 * vendor. A column a table policy removed (or a connector version without it) reads as NULL, so nothing
 * the operator excluded from the warehouse can reach PostHog.
 */
export const EXPORT_SOURCE_TYPES = ['shopify', 'commercetools'] as const;
export type ExportSourceType = (typeof EXPORT_SOURCE_TYPES)[number];

async function columnsOf(conn: DuckDBConnection, schema: string, table: string): Promise<Set<string> | undefined> {
  const r = await readRows(conn, `SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ${lit(schema)} AND table_name = ${lit(table)}`);
  return r.length ? new Set(r.map((x) => String(x.column_name))) : undefined;
}

/**
 * `alias."column"` when the table has it, else NULL (typed, so casts keep working). A column the vendor
 * only ever sent as null is stored as VARCHAR until a value arrives: callers TRY_CAST where it matters.
 */
const colOf = (have: Set<string> | undefined, alias: string) => (name: string, type = 'VARCHAR') => (have?.has(name) ? `${alias}.${q(name)}` : `CAST(NULL AS ${type})`);

const after = (alias: string, updated: string, c: StreamCursor | undefined, horizonUs: number | undefined) =>
  [
    c ? `(epoch_us(${alias}.${q(updated)}) > ${Math.trunc(c.updatedUs)} OR (epoch_us(${alias}.${q(updated)}) = ${Math.trunc(c.updatedUs)} AND ${alias}.id > ${lit(c.id)}))` : 'TRUE',
    horizonUs !== undefined ? `epoch_us(${alias}.${q(updated)}) <= ${Math.trunc(horizonUs)}` : 'TRUE',
  ].join(' AND ');

const notDeleted = (have: Set<string> | undefined, alias: string) => (have?.has('_sluice_deleted_at') ? `${alias}._sluice_deleted_at IS NULL` : 'TRUE');

export interface ReadOptions {
  source: string;
  type: ExportSourceType;
  after?: StreamCursor;
  /**
   * Records updated after this (µs) are left for the next run: the newest sync of the table started less
   * than its lookback after them, so a record the vendor commits late with an older updated time may still
   * be on its way into the lake, and the cursor must not pass it.
   */
  horizonUs?: number;
  limit: number;
}

export class ExportSourceMissing extends Error {}

/** The tables an export needs, or a clear error naming what is missing. */
export async function requireTables(conn: DuckDBConnection, source: string): Promise<void> {
  const missing: string[] = [];
  for (const t of ['customers', 'orders']) if (!(await columnsOf(conn, source, t))) missing.push(`${source}.${t}`);
  if (missing.length) throw new ExportSourceMissing(`the warehouse has no ${missing.join(' and ')} yet: sync the source first (\`sluice sync ${source}\`), with its customers and orders tables`);
}

export async function readCustomers(conn: DuckDBConnection, o: ReadOptions): Promise<CustomerRow[]> {
  const have = await columnsOf(conn, o.source, 'customers');
  const c = colOf(have, 'c');
  const s = q(o.source);
  let sql: string;
  if (o.type === 'shopify') {
    sql = `SELECT c.id, lower(${c('email')}) AS email, ${c('firstName')} AS first_name, ${c('lastName')} AS last_name, ${c('phone')} AS phone,
      TRY_CAST(${c('numberOfOrders', 'BIGINT')} AS BIGINT) AS orders_count, CAST(${c('amountSpent', 'DECIMAL(18,2)')} AS VARCHAR) AS total_spent, ${c('amountSpentCurrency')} AS currency,
      epoch_us(c."updatedAt") AS updated_us, CAST(epoch_us(c."updatedAt") AS VARCHAR) AS version
      FROM ${s}.customers c WHERE ${after('c', 'updatedAt', o.after, o.horizonUs)} AND ${notDeleted(have, 'c')}
      ORDER BY epoch_us(c."updatedAt"), c.id LIMIT ${Math.trunc(o.limit)}`;
  } else {
    // commercetools keeps no order count or total on a customer: they come from the orders table.
    const ordersHave = await columnsOf(conn, o.source, 'orders');
    const stats = ordersHave?.has('customerId') && ordersHave.has('totalPrice')
      ? `LEFT JOIN (SELECT "customerId" AS cid, count(*) AS n,
           CAST(sum(CAST(json_extract("totalPrice", '$.centAmount') AS DOUBLE) / pow(10, coalesce(CAST(json_extract("totalPrice", '$.fractionDigits') AS INTEGER), 2))) AS DECIMAL(18,2)) AS spent,
           any_value(json_extract_string("totalPrice", '$.currencyCode')) AS cur
         FROM ${s}.orders WHERE "customerId" IS NOT NULL GROUP BY 1) st ON st.cid = c.id`
      : '';
    const phone = have?.has('addresses') ? `json_extract_string(c."addresses", '$[0].phone')` : 'CAST(NULL AS VARCHAR)';
    sql = `SELECT c.id, lower(${c('email')}) AS email, ${c('firstName')} AS first_name, ${c('lastName')} AS last_name, ${phone} AS phone,
      ${stats ? 'coalesce(st.n, 0)' : 'CAST(NULL AS BIGINT)'} AS orders_count, ${stats ? "CAST(coalesce(st.spent, 0) AS VARCHAR)" : 'CAST(NULL AS VARCHAR)'} AS total_spent, ${stats ? 'st.cur' : 'CAST(NULL AS VARCHAR)'} AS currency,
      epoch_us(c."lastModifiedAt") AS updated_us, CAST(${c('version', 'BIGINT')} AS VARCHAR) AS version
      FROM ${s}.customers c ${stats} WHERE ${after('c', 'lastModifiedAt', o.after, o.horizonUs)} AND ${notDeleted(have, 'c')}
      ORDER BY epoch_us(c."lastModifiedAt"), c.id LIMIT ${Math.trunc(o.limit)}`;
  }
  return (await readRows(conn, sql)).map((r) => ({
    id: String(r.id),
    email: str(r.email),
    first_name: str(r.first_name),
    last_name: str(r.last_name),
    phone: str(r.phone),
    orders_count: r.orders_count === null || r.orders_count === undefined ? null : Number(r.orders_count),
    total_spent: str(r.total_spent),
    currency: str(r.currency),
    updated_us: Number(r.updated_us),
    version: String(r.version ?? r.updated_us),
  }));
}

export async function readOrders(conn: DuckDBConnection, o: ReadOptions): Promise<OrderRow[]> {
  const have = await columnsOf(conn, o.source, 'orders');
  const cust = await columnsOf(conn, o.source, 'customers');
  const x = colOf(have, 'o');
  const s = q(o.source);
  const customerEmail = cust?.has('email') ? 'lower(c.email)' : 'CAST(NULL AS VARCHAR)';
  let sql: string;
  if (o.type === 'shopify') {
    sql = `SELECT o.id, ${x('name')} AS name, epoch_us(o."createdAt") AS created_us, epoch_us(o."updatedAt") AS updated_us,
      ${x('customerId')} AS customer_id, c.id IS NOT NULL AS customer_known, ${customerEmail} AS customer_email, lower(${x('email')}) AS order_email,
      CAST(${x('totalPrice', 'DECIMAL(18,2)')} AS VARCHAR) AS revenue, ${x('currencyCode')} AS currency,
      ${have?.has('lineItems') ? 'json_array_length(o."lineItems")' : 'CAST(NULL AS BIGINT)'} AS line_items,
      TRY_CAST(${x('cancelledAt', 'TIMESTAMPTZ')} AS TIMESTAMPTZ) IS NOT NULL AS cancelled, epoch_us(TRY_CAST(${x('cancelledAt', 'TIMESTAMPTZ')} AS TIMESTAMPTZ)) AS cancelled_us,
      CAST(${x('totalRefunded', 'DECIMAL(18,2)')} AS VARCHAR) AS refunded
      FROM ${s}.orders o LEFT JOIN ${s}.customers c ON c.id = ${x('customerId')}
      WHERE ${after('o', 'updatedAt', o.after, o.horizonUs)} AND ${notDeleted(have, 'o')}
      ORDER BY epoch_us(o."updatedAt"), o.id LIMIT ${Math.trunc(o.limit)}`;
  } else {
    const price = have?.has('totalPrice')
      ? `CAST(CAST(json_extract(o."totalPrice", '$.centAmount') AS DOUBLE) / pow(10, coalesce(CAST(json_extract(o."totalPrice", '$.fractionDigits') AS INTEGER), 2)) AS DECIMAL(18,2))`
      : 'CAST(NULL AS DECIMAL(18,2))';
    sql = `SELECT o.id, ${x('orderNumber')} AS name, epoch_us(o."createdAt") AS created_us, epoch_us(o."lastModifiedAt") AS updated_us,
      ${x('customerId')} AS customer_id, c.id IS NOT NULL AS customer_known, ${customerEmail} AS customer_email, lower(${x('customerEmail')}) AS order_email,
      CAST(${price} AS VARCHAR) AS revenue, ${have?.has('totalPrice') ? `json_extract_string(o."totalPrice", '$.currencyCode')` : 'CAST(NULL AS VARCHAR)'} AS currency,
      ${have?.has('lineItems') ? 'json_array_length(o."lineItems")' : 'CAST(NULL AS BIGINT)'} AS line_items,
      coalesce(${x('orderState')} = 'Cancelled', false) AS cancelled, CAST(NULL AS BIGINT) AS cancelled_us,
      CAST(NULL AS VARCHAR) AS refunded
      FROM ${s}.orders o LEFT JOIN ${s}.customers c ON c.id = ${x('customerId')}
      WHERE ${after('o', 'lastModifiedAt', o.after, o.horizonUs)} AND ${notDeleted(have, 'o')}
      ORDER BY epoch_us(o."lastModifiedAt"), o.id LIMIT ${Math.trunc(o.limit)}`;
  }
  return (await readRows(conn, sql)).map((r) => ({
    id: String(r.id),
    name: str(r.name),
    created_us: Number(r.created_us),
    updated_us: Number(r.updated_us),
    customer_id: str(r.customer_id),
    customer_known: Boolean(r.customer_known),
    customer_email: str(r.customer_email),
    order_email: str(r.order_email),
    revenue: str(r.revenue),
    currency: str(r.currency),
    line_items: r.line_items === null || r.line_items === undefined ? null : Number(r.line_items),
    cancelled: Boolean(r.cancelled),
    cancelled_us: r.cancelled_us === null || r.cancelled_us === undefined ? null : Number(r.cancelled_us),
    refunded: str(r.refunded),
  }));
}

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
