import { restTable, type ColumnType, type PagingDecl, type ReadContext } from '@sluice/core';
import type { ShipStationClient } from './client';
import type { ShipStationConfig } from './config';
import { normalizeRecord, pacificLowerBound, wallLowerBound, wallOrderKey } from './pacific';

type Columns = Record<string, ColumnType>;

/**
 * Tables with a cursor: page/pageSize sorted by the cursor field, and after each page the
 * `<cursor>Start` filter moves up to the last record's value (paging restarts at page 1), so a record
 * that changes mid-sync and jumps to the end of the ordering cannot make another slip past a page
 * boundary. The first anchor is the saved cursor in Pacific time (widened in the repeated hour); the
 * checkpoint is `{ anchor, page }`.
 */
const byCursor = {
  kind: 'anchored-page-number',
  size: { config: 'pageSize' },
  totalPages: 'pages',
  // The raw wall clock at the filter's resolution: `2024-11-03T01:40:00.1230000` → `2024-11-03 00:40:00` (repeated hour: widened).
  anchorOf: (r, field) => wallLowerBound(r[field]),
  // Order guard (core): pages must follow the sort; anchors are widened in the repeated hour, so the key is not the anchor.
  orderKey: (r, field) => {
    const key = wallOrderKey(r[field]);
    return key === undefined ? undefined : [key];
  },
} as const satisfies PagingDecl;
const cursorFilter = { param: '{field}Start', format: pacificLowerBound } as const;
/** Sort ascending by the cursor field; `sortBy` takes its PascalCase name (ModifyDate, CreateDate). */
const cursorSort = { sortBy: sortByCursorField, sortDir: 'ASC' } as const;
function sortByCursorField(ctx: ReadContext<ShipStationConfig, ShipStationClient>) {
  const field = ctx.request.cursorField ?? 'createDate';
  return field[0]!.toUpperCase() + field.slice(1);
}

/** Full-refresh tables: `page`/`pageSize` stopping at the reported `pages`, in creation order, so records added during the sync land on the last page instead of shifting earlier ones. */
const byPage = { kind: 'page-number', size: { config: 'pageSize' }, totalPages: 'pages' } as const satisfies PagingDecl;
const byCreation = { sortBy: 'CreateDate', sortDir: 'ASC' } as const;

const money = 'DECIMAL(18,2)' as const;
const ts = 'TIMESTAMPTZ' as const;

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

export const orders = restTable<ShipStationConfig, ShipStationClient>({
  name: 'orders',
  description: 'Orders with items, addresses and amounts; incremental by modifyDate (captures updates) or createDate',
  request: { path: '/orders', params: cursorSort },
  records: 'orders',
  primaryKey: ['orderId'],
  cursor: { fields: ['modifyDate', 'createDate'], default: 'modifyDate', filter: cursorFilter },
  partitionBy: 'createDate',
  columns: ORDER_COLUMNS,
  paging: byCursor,
  transform: convert(ORDER_COLUMNS),
});

export const shipments = restTable<ShipStationConfig, ShipStationClient>({
  name: 'shipments',
  description: 'Labels created in ShipStation (one order may have several); incremental by createDate',
  request: { path: '/shipments', params: cursorSort },
  records: 'shipments',
  primaryKey: ['shipmentId'],
  cursor: { fields: ['createDate'], default: 'createDate', filter: cursorFilter },
  partitionBy: 'createDate',
  columns: SHIPMENT_COLUMNS,
  paging: byCursor,
  transform: convert(SHIPMENT_COLUMNS),
});

export const fulfillments = restTable<ShipStationConfig, ShipStationClient>({
  name: 'fulfillments',
  description: 'Orders fulfilled outside ShipStation (marked shipped with tracking); incremental by createDate',
  request: { path: '/fulfillments', params: cursorSort },
  records: 'fulfillments',
  primaryKey: ['fulfillmentId'],
  cursor: { fields: ['createDate'], default: 'createDate', filter: cursorFilter },
  partitionBy: 'createDate',
  columns: FULFILLMENT_COLUMNS,
  paging: byCursor,
  transform: convert(FULFILLMENT_COLUMNS),
});

export const products = restTable<ShipStationConfig, ShipStationClient>({
  name: 'products',
  description: 'Product catalogue (SKUs, dimensions, defaults); full refresh',
  request: { path: '/products', params: byCreation },
  records: 'products',
  primaryKey: ['productId'],
  partitionBy: 'createDate',
  columns: PRODUCT_COLUMNS,
  paging: byPage,
  transform: convert(PRODUCT_COLUMNS),
});

export const customers = restTable<ShipStationConfig, ShipStationClient>({
  name: 'customers',
  description: 'Customers with their marketplace usernames and tags; full refresh',
  request: { path: '/customers', params: byCreation },
  records: 'customers',
  primaryKey: ['customerId'],
  partitionBy: 'createDate',
  columns: CUSTOMER_COLUMNS,
  paging: byPage,
  transform: convert(CUSTOMER_COLUMNS),
});

/** Bare JSON arrays: one request, no paging. */
function bareArrayTable(spec: { name: string; description: string; primaryKey: string; path: string; query?: Record<string, string>; columns: Columns }) {
  return restTable<ShipStationConfig, ShipStationClient>({
    name: spec.name,
    description: spec.description,
    primaryKey: [spec.primaryKey],
    partitionBy: 'createDate',
    columns: spec.columns,
    request: { path: spec.path, params: spec.query },
    records: '',
    paging: { kind: 'single' },
    transform: convert(spec.columns),
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
