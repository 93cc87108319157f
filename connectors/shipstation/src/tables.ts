import { SluiceError, defineTable, httpTable, pageNumber, type ColumnType, type ReadContext } from '@sluice/core';
import { anchoredPageNumber } from '@sluice/core/http/anchored-paging';
import type { ShipStationClient } from './client';
import type { ShipStationConfig } from './config';
import { normalizeRecord, pacificLowerBound, wallLowerBound, wallOrderKey } from './pacific';

type Ctx = ReadContext<ShipStationConfig, ShipStationClient>;
type Columns = Record<string, ColumnType>;

const totalPages = (body: any) => (typeof body?.pages === 'number' ? body.pages : undefined);

/** `page`/`pageSize`, stopping at the `pages` the envelope reports; the checkpoint is the next page. */
const paging = (ctx: Ctx) => pageNumber({ size: ctx.config.pageSize, totalPages });

/**
 * Tables with a cursor: page/pageSize sorted by the cursor field, and after each page the
 * `<cursor>Start` filter moves up to the last record's value (paging restarts at page 1), so a record
 * that changes mid-sync and jumps to the end of the ordering cannot make another slip past a page
 * boundary. The first anchor is the saved cursor in Pacific time (widened in the repeated hour); the
 * checkpoint is `{ anchor, page }`.
 */
const cursorPaging = (allowed: readonly string[]) => (ctx: Ctx) => {
  const field = cursorField(ctx, allowed);
  return anchoredPageNumber({
    size: ctx.config.pageSize,
    totalPages,
    anchorParam: `${field}Start`,
    // The raw wall clock at the filter's resolution: `2024-11-03T01:40:00.1230000` → `2024-11-03 00:40:00` (repeated hour: widened).
    anchorOf: (r) => wallLowerBound(r[field]),
    // Order guard (core): pages must follow the sort; anchors are widened in the repeated hour, so the key is not the anchor.
    orderKey: (r) => {
      const key = wallOrderKey(r[field]);
      return key === undefined ? undefined : [key];
    },
    initial: ctx.request.since ? pacificLowerBound(ctx.request.since) : null,
  });
};

const money = 'DECIMAL(18,2)' as const;
const ts = 'TIMESTAMPTZ' as const;

function cursorField(ctx: Ctx, allowed: readonly string[]): string {
  const field = ctx.request.cursorField ?? allowed[0]!;
  if (!allowed.includes(field)) throw new SluiceError('config', `ShipStation ${ctx.table}: cursor "${field}" is not supported; choose one of ${allowed.join(', ')}`);
  return field;
}

/** Sort ascending by the cursor field; `sortBy` takes its PascalCase name (ModifyDate, CreateDate). */
function cursorParams(allowed: readonly string[]) {
  return (ctx: Ctx) => {
    const field = cursorField(ctx, allowed);
    return { sortBy: field[0]!.toUpperCase() + field.slice(1), sortDir: 'ASC' };
  };
}

/** Creation order for full-refresh tables: records added during the sync land on the last page instead of shifting earlier ones. */
const byCreation = () => ({ sortBy: 'CreateDate', sortDir: 'ASC' });

/** Timestamps to UTC; the fields declared `DATE` stay calendar dates. */
function convert(columns: Columns) {
  const dates = new Set(Object.entries(columns).filter(([, t]) => t === 'DATE').map(([k]) => k));
  return (r: Record<string, unknown>) => normalizeRecord(r, dates);
}

const ORDER_COLUMNS: Columns = {
  orderId: 'BIGINT',
  orderNumber: 'VARCHAR',
  orderKey: 'VARCHAR',
  orderDate: ts,
  createDate: ts,
  modifyDate: ts,
  paymentDate: ts,
  shipByDate: ts,
  shipDate: 'DATE',
  holdUntilDate: 'DATE',
  customerId: 'BIGINT',
  orderTotal: money,
  amountPaid: money,
  taxAmount: money,
  shippingAmount: money,
  userId: 'VARCHAR',
  tagIds: 'JSON',
  labelMessages: 'VARCHAR',
  externallyFulfilledBy: 'VARCHAR',
};

const SHIPMENT_COLUMNS: Columns = {
  shipmentId: 'BIGINT',
  orderId: 'BIGINT',
  orderNumber: 'VARCHAR',
  createDate: ts,
  shipDate: 'DATE',
  voidDate: ts,
  shipmentCost: money,
  insuranceCost: money,
  batchNumber: 'VARCHAR',
  trackingNumber: 'VARCHAR',
  warehouseId: 'BIGINT',
  notifyErrorMessage: 'VARCHAR',
  dimensions: 'JSON',
  advancedOptions: 'JSON',
  shipmentItems: 'JSON',
  labelData: 'VARCHAR',
  formData: 'VARCHAR',
};

const FULFILLMENT_COLUMNS: Columns = {
  fulfillmentId: 'BIGINT',
  orderId: 'BIGINT',
  orderNumber: 'VARCHAR',
  createDate: ts,
  shipDate: ts,
  voidDate: ts,
  deliveryDate: ts,
  fulfillmentFee: money,
  trackingNumber: 'VARCHAR',
  fulfillmentProviderCode: 'VARCHAR',
  fulfillmentServiceCode: 'VARCHAR',
  notifyErrorMessage: 'VARCHAR',
};

const PRODUCT_COLUMNS: Columns = {
  productId: 'BIGINT',
  sku: 'VARCHAR',
  price: money,
  defaultCost: money,
  customsValue: money,
  createDate: ts,
  modifyDate: ts,
  aliases: 'JSON',
  tags: 'JSON',
  productCategory: 'JSON',
  productType: 'JSON',
};

const CUSTOMER_COLUMNS: Columns = { customerId: 'BIGINT', createDate: ts, modifyDate: ts, postalCode: 'VARCHAR', phone: 'VARCHAR', marketplaceUsernames: 'JSON', tags: 'JSON' };

const STORE_COLUMNS: Columns = {
  storeId: 'BIGINT',
  createDate: ts,
  modifyDate: ts,
  refreshDate: ts,
  lastRefreshAttempt: ts,
  statusMappings: 'JSON',
  accountName: 'VARCHAR',
  email: 'VARCHAR',
  integrationUrl: 'VARCHAR',
};

const WAREHOUSE_COLUMNS: Columns = { warehouseId: 'BIGINT', createDate: ts, originAddress: 'JSON', returnAddress: 'JSON' };

export const orders = httpTable<ShipStationConfig, ShipStationClient>({
  name: 'orders',
  description: 'Orders with items, addresses and amounts; incremental by modifyDate (captures updates) or createDate',
  path: '/orders',
  records: 'orders',
  primaryKey: ['orderId'],
  cursor: { fields: ['modifyDate', 'createDate'], default: 'modifyDate' },
  partitionBy: 'createDate',
  columns: ORDER_COLUMNS,
  paging: cursorPaging(['modifyDate', 'createDate']),
  params: cursorParams(['modifyDate', 'createDate']),
  transform: convert(ORDER_COLUMNS),
});

export const shipments = httpTable<ShipStationConfig, ShipStationClient>({
  name: 'shipments',
  description: 'Labels created in ShipStation (one order may have several); incremental by createDate',
  path: '/shipments',
  records: 'shipments',
  primaryKey: ['shipmentId'],
  cursor: { fields: ['createDate'], default: 'createDate' },
  partitionBy: 'createDate',
  columns: SHIPMENT_COLUMNS,
  paging: cursorPaging(['createDate']),
  params: cursorParams(['createDate']),
  transform: convert(SHIPMENT_COLUMNS),
});

export const fulfillments = httpTable<ShipStationConfig, ShipStationClient>({
  name: 'fulfillments',
  description: 'Orders fulfilled outside ShipStation (marked shipped with tracking); incremental by createDate',
  path: '/fulfillments',
  records: 'fulfillments',
  primaryKey: ['fulfillmentId'],
  cursor: { fields: ['createDate'], default: 'createDate' },
  partitionBy: 'createDate',
  columns: FULFILLMENT_COLUMNS,
  paging: cursorPaging(['createDate']),
  params: cursorParams(['createDate']),
  transform: convert(FULFILLMENT_COLUMNS),
});

export const products = httpTable<ShipStationConfig, ShipStationClient>({
  name: 'products',
  description: 'Product catalogue (SKUs, dimensions, defaults); full refresh',
  path: '/products',
  records: 'products',
  primaryKey: ['productId'],
  partitionBy: 'createDate',
  columns: PRODUCT_COLUMNS,
  paging,
  params: byCreation,
  transform: convert(PRODUCT_COLUMNS),
});

export const customers = httpTable<ShipStationConfig, ShipStationClient>({
  name: 'customers',
  description: 'Customers with their marketplace usernames and tags; full refresh',
  path: '/customers',
  records: 'customers',
  primaryKey: ['customerId'],
  partitionBy: 'createDate',
  columns: CUSTOMER_COLUMNS,
  paging,
  params: byCreation,
  transform: convert(CUSTOMER_COLUMNS),
});

/** Bare JSON arrays: one request, no paging. */
function bareArrayTable(spec: { name: string; description: string; primaryKey: string; path: string; query?: Record<string, string>; columns: Columns }) {
  const transform = convert(spec.columns);
  return defineTable<ShipStationConfig, ShipStationClient>({
    name: spec.name,
    description: spec.description,
    primaryKey: [spec.primaryKey],
    partitionBy: 'createDate',
    columns: spec.columns,
    async *read(ctx) {
      if ((ctx.request.checkpoint as { done?: boolean } | undefined)?.done) return;
      const res = await ctx.client.http.get<unknown>(spec.path, spec.query, { signal: ctx.signal, report: ctx.report });
      if (!Array.isArray(res.body)) throw new SluiceError('bad_response', `ShipStation ${spec.path} answered something other than a list (${res.text.slice(0, 80)})`);
      yield { records: (res.body as Record<string, unknown>[]).map(transform), checkpoint: { done: true } };
    },
  });
}

export const stores = bareArrayTable({
  name: 'stores',
  description: 'Selling channels connected to the account (active and inactive); full refresh',
  primaryKey: 'storeId',
  path: '/stores',
  query: { showInactive: 'true' },
  columns: STORE_COLUMNS,
});

export const warehouses = bareArrayTable({
  name: 'warehouses',
  description: 'Ship-from locations with origin and return addresses; full refresh',
  primaryKey: 'warehouseId',
  path: '/warehouses',
  columns: WAREHOUSE_COLUMNS,
});

export const TABLES = [orders, shipments, fulfillments, products, customers, stores, warehouses];
