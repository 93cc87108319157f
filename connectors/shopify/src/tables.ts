import { toUtcIso, type DataRecord } from '@sluice/core';
import { deletionEventsFeed } from './delete-feed';
import { LOOKBACK_MS, shopifyTable, type ShopifyTableDef } from './graphql-table';
import { keyScan } from './key-scan';

/** Tables as data: which connection, which fields, which nested connections, how a node becomes a row. */

const utc = (v: unknown) => (typeof v === 'string' ? (toUtcIso(v) ?? v) : null);
/** UnsignedInt64 / numeric strings → number (ids stay below 2^53). */
const num = (v: unknown) => (v === null || v === undefined || v === '' ? null : Number(v));
/** A decimal money amount as a number; declared DECIMAL(18,2) so it lands exactly. */
const amount = (v: unknown) => (v === null || v === undefined || v === '' ? null : Number(v));
const shop = (bag: any) => amount(bag?.shopMoney?.amount);

const MONEY = (...fields: string[]) => Object.fromEntries(fields.map((f) => [f, 'DECIMAL(18,2)' as const]));
const BAG = '{ shopMoney { amount currencyCode } }';

const orders: ShopifyTableDef = {
  name: 'orders',
  description: 'Orders with line items, totals in the shop currency, customer reference, financial and fulfillment status',
  keyIsNodeId: true,
  root: 'orders',
  type: 'Order',
  requires: 'read_orders (read_all_orders for orders older than 60 days), read_customers for the customer reference',
  sortable: true,
  count: { field: 'ordersCount', limit: true },
  fields: `id legacyResourceId name email phone createdAt updatedAt processedAt closedAt cancelledAt cancelReason
    currencyCode presentmentCurrencyCode displayFinancialStatus displayFulfillmentStatus confirmed test tags note sourceName
    subtotalPriceSet ${BAG} totalPriceSet ${BAG} totalTaxSet ${BAG} totalDiscountsSet ${BAG} totalShippingPriceSet ${BAG}
    totalRefundedSet ${BAG} currentTotalPriceSet ${BAG}
    customer { id }
    shippingAddress { address1 city zip country countryCodeV2 }`,
  nested: [
    {
      field: 'lineItems',
      type: 'LineItem',
      pageSize: 5,
      fields: `id name title sku vendor quantity variant { id } product { id } originalUnitPriceSet ${BAG} discountedTotalSet ${BAG}`,
    },
  ],
  columns: {
    ...MONEY('subtotalPrice', 'totalPrice', 'totalTax', 'totalDiscounts', 'totalShippingPrice', 'totalRefunded', 'currentTotalPrice'),
    customerLegacyResourceId: 'BIGINT',
  },
  transform: (n) => ({
    id: n.id,
    legacyResourceId: num(n.legacyResourceId),
    name: n.name,
    email: n.email ?? null,
    phone: n.phone ?? null,
    createdAt: utc(n.createdAt),
    updatedAt: utc(n.updatedAt),
    processedAt: utc(n.processedAt),
    closedAt: utc(n.closedAt),
    cancelledAt: utc(n.cancelledAt),
    cancelReason: n.cancelReason ?? null,
    currencyCode: n.currencyCode,
    presentmentCurrencyCode: n.presentmentCurrencyCode ?? null,
    displayFinancialStatus: n.displayFinancialStatus ?? null,
    displayFulfillmentStatus: n.displayFulfillmentStatus ?? null,
    confirmed: n.confirmed ?? null,
    test: n.test ?? null,
    tags: n.tags ?? [],
    note: n.note ?? null,
    sourceName: n.sourceName ?? null,
    subtotalPrice: shop(n.subtotalPriceSet),
    totalPrice: shop(n.totalPriceSet),
    totalTax: shop(n.totalTaxSet),
    totalDiscounts: shop(n.totalDiscountsSet),
    totalShippingPrice: shop(n.totalShippingPriceSet),
    totalRefunded: shop(n.totalRefundedSet),
    currentTotalPrice: shop(n.currentTotalPriceSet),
    customerId: n.customer?.id ?? null,
    customerLegacyResourceId: n.customer?.id ? num(String(n.customer.id).split('/').pop()) : null,
    shippingAddress: n.shippingAddress ?? null,
    lineItems: ((n.lineItems ?? []) as any[]).map((li) => ({
      id: li.id,
      name: li.name,
      title: li.title,
      sku: li.sku ?? null,
      vendor: li.vendor ?? null,
      quantity: li.quantity,
      variantId: li.variant?.id ?? null,
      productId: li.product?.id ?? null,
      originalUnitPrice: amount(li.originalUnitPriceSet?.shopMoney?.amount),
      discountedTotal: amount(li.discountedTotalSet?.shopMoney?.amount),
      currencyCode: li.originalUnitPriceSet?.shopMoney?.currencyCode ?? n.currencyCode,
    })),
  }),
};

const customers: ShopifyTableDef = {
  name: 'customers',
  description: 'Customers with contact details, state, order count and amount spent',
  keyIsNodeId: true,
  root: 'customers',
  type: 'Customer',
  requires: 'read_customers',
  sortable: true,
  count: { field: 'customersCount' },
  fields: `id legacyResourceId firstName lastName displayName email phone state verifiedEmail taxExempt tags note
    numberOfOrders amountSpent { amount currencyCode } defaultAddress { address1 city zip country countryCodeV2 } createdAt updatedAt`,
  columns: { amountSpent: 'DECIMAL(18,2)', numberOfOrders: 'BIGINT' },
  transform: (n): DataRecord => ({
    id: n.id,
    legacyResourceId: num(n.legacyResourceId),
    firstName: n.firstName ?? null,
    lastName: n.lastName ?? null,
    displayName: n.displayName ?? null,
    email: n.email ?? null,
    phone: n.phone ?? null,
    state: n.state ?? null,
    verifiedEmail: n.verifiedEmail ?? null,
    taxExempt: n.taxExempt ?? null,
    tags: n.tags ?? [],
    note: n.note ?? null,
    numberOfOrders: num(n.numberOfOrders),
    amountSpent: amount(n.amountSpent?.amount),
    amountSpentCurrency: n.amountSpent?.currencyCode ?? null,
    defaultAddress: n.defaultAddress ?? null,
    createdAt: utc(n.createdAt),
    updatedAt: utc(n.updatedAt),
  }),
};

const products: ShopifyTableDef = {
  name: 'products',
  description: 'Products with their variants (nested, with prices and inventory quantities)',
  keyIsNodeId: true,
  root: 'products',
  type: 'Product',
  requires: 'read_products',
  sortable: true,
  count: { field: 'productsCount', limit: true },
  // Deleted products: Shopify's deletion events (only products and collections have them).
  deleteFeed: deletionEventsFeed('PRODUCT'),
  fields: `id legacyResourceId title handle vendor productType status tags totalInventory createdAt updatedAt publishedAt`,
  nested: [
    {
      field: 'variants',
      type: 'ProductVariant',
      pageSize: 10,
      fields: `id legacyResourceId title sku barcode price compareAtPrice inventoryQuantity position createdAt updatedAt`,
    },
  ],
  transform: (n) => ({
    id: n.id,
    legacyResourceId: num(n.legacyResourceId),
    title: n.title,
    handle: n.handle,
    vendor: n.vendor ?? null,
    productType: n.productType ?? null,
    status: n.status,
    tags: n.tags ?? [],
    totalInventory: n.totalInventory ?? null,
    createdAt: utc(n.createdAt),
    updatedAt: utc(n.updatedAt),
    publishedAt: utc(n.publishedAt),
    variants: ((n.variants ?? []) as any[]).map((v) => ({
      id: v.id,
      legacyResourceId: num(v.legacyResourceId),
      title: v.title,
      sku: v.sku ?? null,
      barcode: v.barcode ?? null,
      price: amount(v.price),
      compareAtPrice: amount(v.compareAtPrice),
      inventoryQuantity: v.inventoryQuantity ?? null,
      position: v.position ?? null,
      createdAt: utc(v.createdAt),
      updatedAt: utc(v.updatedAt),
    })),
  }),
};

const inventoryItems: ShopifyTableDef = {
  name: 'inventory_items',
  description: 'Inventory items (one per variant) with unit cost and stock levels per location (nested)',
  keyIsNodeId: true,
  root: 'inventoryItems',
  type: 'InventoryItem',
  requires: 'read_inventory',
  sortable: false,
  fields: `id legacyResourceId sku tracked requiresShipping countryCodeOfOrigin unitCost { amount currencyCode } variant { id } createdAt updatedAt`,
  nested: [
    {
      field: 'inventoryLevels',
      type: 'InventoryLevel',
      pageSize: 5,
      fields: `id location { id } quantities(names: ["available", "on_hand"]) { name quantity } updatedAt`,
    },
  ],
  columns: { unitCost: 'DECIMAL(18,2)' },
  transform: (n) => ({
    id: n.id,
    legacyResourceId: num(n.legacyResourceId),
    sku: n.sku ?? null,
    tracked: n.tracked ?? null,
    requiresShipping: n.requiresShipping ?? null,
    countryCodeOfOrigin: n.countryCodeOfOrigin ?? null,
    unitCost: amount(n.unitCost?.amount),
    unitCostCurrency: n.unitCost?.currencyCode ?? null,
    variantId: n.variant?.id ?? null,
    createdAt: utc(n.createdAt),
    updatedAt: utc(n.updatedAt),
    inventoryLevels: ((n.inventoryLevels ?? []) as any[]).map((l) => {
      const q = Object.fromEntries(((l.quantities ?? []) as { name: string; quantity: number }[]).map((x) => [x.name, x.quantity]));
      return { id: l.id, locationId: l.location?.id ?? null, available: q['available'] ?? null, onHand: q['on_hand'] ?? null, updatedAt: utc(l.updatedAt) };
    }),
  }),
};

const transactions: ShopifyTableDef = {
  name: 'transactions',
  description: 'Payment transactions of orders (sales, authorizations, captures, voids, refunds), read through their orders',
  root: 'orders',
  type: 'Order',
  requires: 'read_orders (read_all_orders for orders older than 60 days)',
  sortable: true,
  count: { field: 'ordersCount', limit: true },
  fields: `id updatedAt`,
  lists: [{ field: 'transactions', first: 10, fields: `id kind status gateway test amountSet ${BAG} createdAt processedAt parentTransaction { id }` }],
  // A transaction never changes; its order's updatedAt moves when one is added.
  cursor: { fields: ['orderUpdatedAt'], default: 'orderUpdatedAt', lookbackMs: LOOKBACK_MS },
  columns: { amount: 'DECIMAL(18,2)' },
  transform: (n) =>
    ((n.transactions ?? []) as any[]).map((t) => ({
      id: t.id,
      orderId: n.id,
      orderUpdatedAt: utc(n.updatedAt),
      kind: t.kind,
      status: t.status,
      gateway: t.gateway ?? null,
      test: t.test ?? null,
      amount: shop(t.amountSet),
      currencyCode: t.amountSet?.shopMoney?.currencyCode ?? null,
      parentTransactionId: t.parentTransaction?.id ?? null,
      createdAt: utc(t.createdAt),
      processedAt: utc(t.processedAt),
    })),
};

export const TABLE_DEFS = [orders, customers, products, inventoryItems, transactions];
/** Tables keyed by their node's id reconcile on an ids-only scan; the others (transactions) on their full read. */
export const tables = TABLE_DEFS.map((def) => (def.keyIsNodeId ? { ...shopifyTable(def), keyScan: keyScan(def) } : shopifyTable(def)));
