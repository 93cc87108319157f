import { GraphQLError, GraphQLObjectType, buildSchema, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { orderTotals, orderTransactions, money, type TransactionRec, type CustomerRec, type InventoryItemRec, type LineItemRec, type LocationRec, type OrderRec, type ProductRec, type VariantRec } from './generator';
import { parseSearch, searchPredicate, type FieldKind } from './search';
import type { ShopifyStore } from './store';

/**
 * A faithful subset of the Shopify GraphQL Admin API (2025-01) schema: the fields Sluice reads, with
 * Shopify's names, nullability and connection arguments. Executed by graphql-js with resolvers over the
 * emulator's store.
 */
export const SDL = /* GraphQL */ `
scalar DateTime
scalar Decimal
scalar Money
scalar UnsignedInt64
scalar URL

interface Node { id: ID! }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }

enum CurrencyCode { USD EUR GBP CAD AUD }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type MailingAddress { address1: String city: String zip: String country: String countryCodeV2: String }

type ShopPlan { displayName: String! partnerDevelopment: Boolean! shopifyPlus: Boolean! }
type Shop implements Node { id: ID! name: String! email: String! myshopifyDomain: String! currencyCode: CurrencyCode! ianaTimezone: String! plan: ShopPlan! }

enum CountPrecision { EXACT AT_LEAST }
type Count { count: Int! precision: CountPrecision! }

enum OrderSortKeys { CREATED_AT ID PROCESSED_AT UPDATED_AT ORDER_NUMBER TOTAL_PRICE RELEVANCE }
enum CustomerSortKeys { CREATED_AT ID NAME UPDATED_AT RELEVANCE }
enum ProductSortKeys { CREATED_AT ID TITLE UPDATED_AT RELEVANCE }
enum LocationSortKeys { ID NAME RELEVANCE }
enum ProductVariantSortKeys { ID POSITION RELEVANCE }

enum OrderDisplayFinancialStatus { PENDING AUTHORIZED PARTIALLY_PAID PAID PARTIALLY_REFUNDED REFUNDED VOIDED EXPIRED }
enum OrderDisplayFulfillmentStatus { UNFULFILLED PARTIALLY_FULFILLED FULFILLED RESTOCKED PENDING_FULFILLMENT OPEN IN_PROGRESS ON_HOLD SCHEDULED REQUEST_DECLINED }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY STAFF OTHER }
enum CustomerState { DECLINED DISABLED ENABLED INVITED }
enum ProductStatus { ACTIVE ARCHIVED DRAFT }
enum OrderTransactionKind { SALE CAPTURE AUTHORIZATION VOID REFUND CHANGE EMV_AUTHORIZATION SUGGESTED_REFUND }
enum OrderTransactionStatus { AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }

type OrderTransaction implements Node {
  id: ID!
  kind: OrderTransactionKind!
  status: OrderTransactionStatus!
  gateway: String
  test: Boolean!
  amountSet: MoneyBag!
  createdAt: DateTime!
  processedAt: DateTime
  parentTransaction: OrderTransaction
  order: Order
}

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  phone: String
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  closedAt: DateTime
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  currencyCode: CurrencyCode!
  presentmentCurrencyCode: CurrencyCode!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  confirmed: Boolean!
  test: Boolean!
  tags: [String!]!
  note: String
  sourceName: String
  subtotalPriceSet: MoneyBag
  totalPriceSet: MoneyBag!
  totalTaxSet: MoneyBag
  totalDiscountsSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  totalRefundedSet: MoneyBag!
  currentTotalPriceSet: MoneyBag!
  customer: Customer
  shippingAddress: MailingAddress
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
  transactions(first: Int, capturable: Boolean, manuallyResolvable: Boolean): [OrderTransaction!]!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

type LineItem implements Node {
  id: ID!
  name: String!
  title: String!
  sku: String
  vendor: String
  quantity: Int!
  variant: ProductVariant
  product: Product
  originalUnitPriceSet: MoneyBag!
  originalTotalSet: MoneyBag!
  discountedTotalSet: MoneyBag!
  totalDiscountSet: MoneyBag!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type Customer implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  firstName: String
  lastName: String
  displayName: String!
  email: String
  phone: String
  state: CustomerState!
  verifiedEmail: Boolean!
  taxExempt: Boolean!
  tags: [String!]!
  note: String
  numberOfOrders: UnsignedInt64!
  amountSpent: MoneyV2!
  defaultAddress: MailingAddress
  createdAt: DateTime!
  updatedAt: DateTime!
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }

type Product implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  vendor: String!
  productType: String!
  status: ProductStatus!
  tags: [String!]!
  totalInventory: Int!
  createdAt: DateTime!
  updatedAt: DateTime!
  publishedAt: DateTime
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, sortKey: ProductVariantSortKeys = POSITION): ProductVariantConnection!
}
type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  sku: String
  barcode: String
  price: Money!
  compareAtPrice: Money
  inventoryQuantity: Int
  position: Int!
  product: Product!
  inventoryItem: InventoryItem!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }

type InventoryQuantity { name: String! quantity: Int! updatedAt: DateTime }
type InventoryLevel implements Node {
  id: ID!
  location: Location!
  item: InventoryItem!
  quantities(names: [String!]!): [InventoryQuantity!]!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type InventoryLevelEdge { cursor: String! node: InventoryLevel! }
type InventoryLevelConnection { edges: [InventoryLevelEdge!]! nodes: [InventoryLevel!]! pageInfo: PageInfo! }

type InventoryItem implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  requiresShipping: Boolean!
  countryCodeOfOrigin: String
  unitCost: MoneyV2
  variant: ProductVariant!
  inventoryLevels(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, query: String): InventoryLevelConnection!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type InventoryItemEdge { cursor: String! node: InventoryItem! }
type InventoryItemConnection { edges: [InventoryItemEdge!]! nodes: [InventoryItem!]! pageInfo: PageInfo! }

type LocationAddress { address1: String city: String zip: String countryCode: String }
type Location implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  isActive: Boolean!
  fulfillsOnlineOrders: Boolean!
  address: LocationAddress!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type LocationEdge { cursor: String! node: Location! }
type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }

enum DeletionEventSubjectType { COLLECTION PRODUCT }
enum DeletionEventSortKeys { CREATED_AT ID RELEVANCE }
type DeletionEvent { occurredAt: DateTime! subjectId: ID! subjectType: DeletionEventSubjectType! }
type DeletionEventEdge { cursor: String! node: DeletionEvent! }
type DeletionEventConnection { edges: [DeletionEventEdge!]! nodes: [DeletionEvent!]! pageInfo: PageInfo! }

enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { QUERY MUTATION }
type BulkOperation implements Node {
  id: ID!
  status: BulkOperationStatus!
  errorCode: BulkOperationErrorCode
  type: BulkOperationType!
  query: String!
  createdAt: DateTime!
  completedAt: DateTime
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
}
enum BulkOperationUserErrorCode { INVALID OPERATION_IN_PROGRESS }
type BulkOperationUserError { field: [String!] message: String! code: BulkOperationUserErrorCode }
type UserError { field: [String!] message: String! }
type BulkOperationRunQueryPayload { bulkOperation: BulkOperation userErrors: [BulkOperationUserError!]! }
type BulkOperationCancelPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }

type AccessScope { handle: String! description: String! }
type AppInstallation { id: ID! accessScopes: [AccessScope!]! }

type Query {
  shop: Shop!
  currentAppInstallation: AppInstallation!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  orders(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, sortKey: OrderSortKeys = ID, query: String): OrderConnection!
  order(id: ID!): Order
  ordersCount(query: String, limit: Int = 10000): Count
  customers(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, sortKey: CustomerSortKeys = ID, query: String): CustomerConnection!
  customer(id: ID!): Customer
  customersCount(query: String): Count
  products(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, sortKey: ProductSortKeys = ID, query: String): ProductConnection!
  product(id: ID!): Product
  productsCount(query: String, limit: Int = 10000): Count
  inventoryItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, query: String): InventoryItemConnection!
  inventoryItem(id: ID!): InventoryItem
  locations(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, sortKey: LocationSortKeys = NAME, query: String, includeInactive: Boolean = false): LocationConnection!
  location(id: ID): Location
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  deletionEvents(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, sortKey: DeletionEventSortKeys = ID, query: String, subjectTypes: [DeletionEventSubjectType!]): DeletionEventConnection! @deprecated(reason: "Use \`events\` instead.")
}

type Mutation {
  bulkOperationRunQuery(query: String!, groupObjects: Boolean = true): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
}
`;

/** Access scope each field needs (Type.field): checked before execution, as Shopify does. */
export const FIELD_SCOPES: Record<string, string> = {
  'Query.orders': 'read_orders',
  'Query.order': 'read_orders',
  'Query.ordersCount': 'read_orders',
  'Query.customers': 'read_customers',
  'Query.customer': 'read_customers',
  'Query.customersCount': 'read_customers',
  'Order.customer': 'read_customers',
  'Query.products': 'read_products',
  'Query.product': 'read_products',
  'Query.productsCount': 'read_products',
  'Query.inventoryItems': 'read_inventory',
  'Query.inventoryItem': 'read_inventory',
  'ProductVariant.inventoryItem': 'read_inventory',
  'Query.locations': 'read_locations',
  // Product and collection deletions: both are read_products resources.
  'Query.deletionEvents': 'read_products',
  'Query.location': 'read_locations',
};

export interface BulkApi {
  run(query: string): { bulkOperation: unknown; userErrors: { field: string[] | null; message: string; code?: string }[] };
  cancel(id: string): { bulkOperation: unknown; userErrors: { field: string[] | null; message: string }[] };
  current(): unknown;
  get(id: number): unknown;
}

export interface ExecContext {
  store: ShopifyStore;
  shopDomain: string;
  /** Bulk execution: connections return every node, `first` is ignored. */
  bulk: boolean;
  bulkApi?: BulkApi;
  /** Orders older than 60 days are hidden unless the token has read_all_orders (Shopify's rule). */
  allOrders: boolean;
  /** The token's access scopes (`currentAppInstallation.accessScopes`). */
  scopes: ReadonlySet<string>;
  now: number;
  maxPageSize: number;
  /** Misbehaviour: connections accept `sortKey` but page in ID order. */
  ignoreSortKey?: boolean;
  /** Plan name shown by `shop.plan` (follows the bucket's restore rate). */
  plan: string;
  /** Per-execution caches. */
  cache: Map<string, unknown>;
}

export const gid = (type: string, id: number | string) => `gid://shopify/${type}/${id}`;
export function parseGid(value: string): { type: string; id: number } | undefined {
  const m = /^gid:\/\/shopify\/(\w+)\/(\d+)(?:\?.*)?$/.exec(value);
  return m ? { type: m[1]!, id: Number(m[2]) } : undefined;
}

const encodeCursor = (id: number, value: string | number) => Buffer.from(JSON.stringify({ last_id: id, last_value: value })).toString('base64');
function decodeCursor(c: string): { last_id: number; last_value: string | number } {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64').toString('utf8'));
    if (typeof v?.last_id === 'number') return v;
  } catch {
    /* fall through */
  }
  throw new GraphQLError(`Invalid cursor for current pagination sort.`, { extensions: { code: 'BAD_REQUEST' } });
}

interface ConnArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  reverse?: boolean | null;
  sortKey?: string | null;
  query?: string | null;
}

interface ConnOptions<T extends { id: number }> {
  sortKeys?: Record<string, (r: T) => string | number>;
  search?: Record<string, { kind: FieldKind; get: (r: T) => string | number | null }>;
  view: (r: T, ctx: ExecContext) => object;
}

/** Relay connection over a list of records: search filter, sort key + reverse, cursors, first/last. */
function connection<T extends { id: number }>(all: Iterable<T>, args: ConnArgs, ctx: ExecContext, o: ConnOptions<T>) {
  let first = args.first ?? null;
  let last = args.last ?? null;
  if (!ctx.bulk) {
    if (first === null && last === null) throw new GraphQLError('you must provide one of first or last', { extensions: { code: 'BAD_REQUEST' } });
    for (const [name, v] of [['first', first], ['last', last]] as const) {
      if (v !== null && (v < 0 || v > ctx.maxPageSize))
        throw new GraphQLError(`The value of the \`${name}\` argument must be between 0 and ${ctx.maxPageSize}.`, { extensions: { code: 'BAD_REQUEST' } });
    }
  } else {
    first = null;
    last = null;
  }
  let items = [...all];
  if (args.query && o.search) {
    const { terms } = parseSearch(args.query);
    const pred = searchPredicate(terms, o.search);
    items = items.filter(pred.test);
  }
  const keyName = args.sortKey && args.sortKey !== 'RELEVANCE' && !ctx.ignoreSortKey ? args.sortKey : 'ID';
  const key = o.sortKeys?.[keyName] ?? ((r: T) => r.id);
  const dir = args.reverse ? -1 : 1;
  const cmp = (av: string | number, aid: number, bv: string | number, bid: number) => (av < bv ? -1 : av > bv ? 1 : aid - bid) * dir;
  items.sort((a, b) => cmp(key(a), a.id, key(b), b.id));
  if (args.after) {
    const c = decodeCursor(args.after);
    items = items.filter((r) => cmp(key(r), r.id, c.last_value, c.last_id) > 0);
  }
  if (args.before) {
    const c = decodeCursor(args.before);
    items = items.filter((r) => cmp(key(r), r.id, c.last_value, c.last_id) < 0);
  }
  let hasNextPage = false;
  let hasPreviousPage = false;
  if (first !== null && items.length > first) {
    hasNextPage = true;
    items = items.slice(0, first);
  }
  if (last !== null && items.length > last) {
    hasPreviousPage = true;
    items = items.slice(items.length - last);
  }
  const edges = items.map((r) => ({ cursor: encodeCursor(r.id, key(r)), node: o.view(r, ctx) }));
  return {
    edges,
    nodes: edges.map((e) => e.node),
    pageInfo: { hasNextPage, hasPreviousPage, startCursor: edges[0]?.cursor ?? null, endCursor: edges[edges.length - 1]?.cursor ?? null },
  };
}

const timeFields = <T extends { id: number; createdAt: string; updatedAt: string }>() => ({
  id: { kind: 'number' as const, get: (r: T) => r.id },
  created_at: { kind: 'time' as const, get: (r: T) => r.createdAt },
  updated_at: { kind: 'time' as const, get: (r: T) => r.updatedAt },
});
const timeSorts = <T extends { id: number; createdAt: string; updatedAt: string }>() => ({
  ID: (r: T) => r.id,
  CREATED_AT: (r: T) => r.createdAt,
  UPDATED_AT: (r: T) => r.updatedAt,
});

const bag = (cents: number, currencyCode: string) => {
  const m = { amount: money(cents), currencyCode };
  return { shopMoney: m, presentmentMoney: m };
};

function customerStats(ctx: ExecContext): Map<number, { count: number; spent: number }> {
  let stats = ctx.cache.get('customerStats') as Map<number, { count: number; spent: number }> | undefined;
  if (!stats) {
    stats = new Map();
    for (const o of ctx.store.orders.values()) {
      if (o.customerId === null) continue;
      const s = stats.get(o.customerId) ?? { count: 0, spent: 0 };
      s.count++;
      if (!o.cancelledAt) s.spent += orderTotals(o).currentTotal;
      stats.set(o.customerId, s);
    }
    ctx.cache.set('customerStats', stats);
  }
  return stats;
}

function visibleOrders(ctx: ExecContext): Iterable<OrderRec> {
  if (ctx.allOrders) return ctx.store.orders.values();
  const cutoff = ctx.now - 60 * 86_400_000;
  return [...ctx.store.orders.values()].filter((o) => Date.parse(o.createdAt) >= cutoff);
}

export function orderView(r: OrderRec, ctx: ExecContext): object {
  const t = orderTotals(r);
  const c = r.currencyCode;
  return {
    __typename: 'Order',
    id: gid('Order', r.id),
    legacyResourceId: String(r.id),
    name: r.name,
    email: r.email,
    phone: r.phone,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    processedAt: r.processedAt,
    closedAt: r.closedAt,
    cancelledAt: r.cancelledAt,
    cancelReason: r.cancelReason,
    currencyCode: c,
    presentmentCurrencyCode: c,
    displayFinancialStatus: r.financialStatus,
    displayFulfillmentStatus: r.fulfillmentStatus,
    confirmed: true,
    test: r.test,
    tags: r.tags,
    note: r.note,
    sourceName: r.sourceName,
    subtotalPriceSet: bag(t.subtotal, c),
    totalPriceSet: bag(t.total, c),
    totalTaxSet: bag(t.tax, c),
    totalDiscountsSet: bag(t.discounts, c),
    totalShippingPriceSet: bag(t.shipping, c),
    totalRefundedSet: bag(t.refunded, c),
    currentTotalPriceSet: bag(t.currentTotal, c),
    shippingAddress: r.shippingAddress,
    customer: () => {
      const cu = r.customerId !== null ? ctx.store.customers.get(r.customerId) : undefined;
      return cu ? customerView(cu, ctx) : null;
    },
    lineItems: (args: ConnArgs) => connection(r.lineItems, args, ctx, { view: (li) => lineItemView(li, c, ctx) }),
    transactions: ({ first }: { first?: number | null }) => {
      const all = orderTransactions(r);
      const view = (t: TransactionRec): object => ({
        __typename: 'OrderTransaction',
        id: gid('OrderTransaction', t.id),
        kind: t.kind,
        status: t.status,
        gateway: t.gateway,
        test: t.test,
        amountSet: bag(t.amount, c),
        createdAt: t.createdAt,
        processedAt: t.processedAt,
        parentTransaction: () => {
          const p = all.find((x) => x.id === t.parentId);
          return p ? view(p) : null;
        },
        order: () => orderView(r, ctx),
      });
      return (first === null || first === undefined || ctx.bulk ? all : all.slice(0, first)).map(view);
    },
  };
}

function lineItemView(li: LineItemRec, currency: string, ctx: ExecContext): object {
  return {
    __typename: 'LineItem',
    id: gid('LineItem', li.id),
    name: li.name,
    title: li.title,
    sku: li.sku,
    vendor: li.vendor,
    quantity: li.quantity,
    variant: () => {
      const v = li.variantId !== null ? ctx.store.variants.get(li.variantId) : undefined;
      return v ? variantView(v, ctx) : null;
    },
    product: () => {
      const p = li.productId !== null ? ctx.store.products.get(li.productId) : undefined;
      return p ? productView(p, ctx) : null;
    },
    originalUnitPriceSet: bag(li.unitPrice, currency),
    originalTotalSet: bag(li.unitPrice * li.quantity, currency),
    discountedTotalSet: bag(li.unitPrice * li.quantity - li.discount, currency),
    totalDiscountSet: bag(li.discount, currency),
  };
}

export function customerView(r: CustomerRec, ctx: ExecContext): object {
  return {
    __typename: 'Customer',
    id: gid('Customer', r.id),
    legacyResourceId: String(r.id),
    firstName: r.firstName,
    lastName: r.lastName,
    displayName: `${r.firstName} ${r.lastName}`,
    email: r.email,
    phone: r.phone,
    state: r.state,
    verifiedEmail: r.verifiedEmail,
    taxExempt: r.taxExempt,
    tags: r.tags,
    note: r.note,
    numberOfOrders: () => String(customerStats(ctx).get(r.id)?.count ?? 0),
    amountSpent: () => ({ amount: money(customerStats(ctx).get(r.id)?.spent ?? 0), currencyCode: ctx.store.currencyCode }),
    defaultAddress: r.defaultAddress,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export function productView(r: ProductRec, ctx: ExecContext): object {
  const variants = () => r.variantIds.map((id) => ctx.store.variants.get(id)).filter((v): v is VariantRec => !!v);
  return {
    __typename: 'Product',
    id: gid('Product', r.id),
    legacyResourceId: String(r.id),
    title: r.title,
    handle: r.handle,
    vendor: r.vendor,
    productType: r.productType,
    status: r.status,
    tags: r.tags,
    totalInventory: () => variants().reduce((s, v) => s + v.inventoryQuantity, 0),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    publishedAt: r.publishedAt,
    variants: (args: ConnArgs) =>
      connection(variants(), args, ctx, { sortKeys: { ID: (v) => v.id, POSITION: (v) => v.position }, view: (v) => variantView(v, ctx) }),
  };
}

export function variantView(v: VariantRec, ctx: ExecContext): object {
  return {
    __typename: 'ProductVariant',
    id: gid('ProductVariant', v.id),
    legacyResourceId: String(v.id),
    title: v.title,
    sku: v.sku,
    barcode: v.barcode,
    price: v.price,
    compareAtPrice: v.compareAtPrice,
    inventoryQuantity: v.inventoryQuantity,
    position: v.position,
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
    product: () => productView(ctx.store.products.get(v.productId)!, ctx),
    inventoryItem: () => inventoryItemView(ctx.store.inventoryItems.get(v.inventoryItemId)!, ctx),
  };
}

export function inventoryItemView(r: InventoryItemRec, ctx: ExecContext): object {
  return {
    __typename: 'InventoryItem',
    id: gid('InventoryItem', r.id),
    legacyResourceId: String(r.id),
    sku: r.sku,
    tracked: r.tracked,
    requiresShipping: r.requiresShipping,
    countryCodeOfOrigin: r.countryCodeOfOrigin,
    unitCost: r.unitCost === null ? null : { amount: r.unitCost, currencyCode: ctx.store.currencyCode },
    variant: () => variantView(ctx.store.variants.get(r.variantId)!, ctx),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    inventoryLevels: (args: ConnArgs) =>
      connection(
        r.levels.map((l) => ({ ...l, createdAt: r.createdAt })),
        args,
        ctx,
        {
          search: timeFields(),
          view: (l) => ({
            __typename: 'InventoryLevel',
            id: gid('InventoryLevel', `${l.id}?inventory_item_id=${r.id}`),
            location: () => locationView(ctx.store.locations.get(l.locationId)!),
            item: () => inventoryItemView(r, ctx),
            quantities: ({ names }: { names: string[] }) =>
              names.map((name) => ({ name, quantity: name === 'available' ? l.available : name === 'on_hand' ? l.onHand : 0, updatedAt: l.updatedAt })),
            createdAt: l.createdAt,
            updatedAt: l.updatedAt,
          }),
        },
      ),
  };
}

export function locationView(r: LocationRec): object {
  return { __typename: 'Location', ...r, id: gid('Location', r.id), legacyResourceId: String(r.id) };
}

function nodeById(id: string, ctx: ExecContext): object | null {
  const g = parseGid(id);
  if (!g) throw new GraphQLError(`Invalid global id '${id}'`, { extensions: { code: 'argumentLiteralsIncompatible' } });
  const s = ctx.store;
  switch (g.type) {
    case 'Order': {
      const r = s.orders.get(g.id);
      return r ? orderView(r, ctx) : null;
    }
    case 'Customer': {
      const r = s.customers.get(g.id);
      return r ? customerView(r, ctx) : null;
    }
    case 'Product': {
      const r = s.products.get(g.id);
      return r ? productView(r, ctx) : null;
    }
    case 'ProductVariant': {
      const r = s.variants.get(g.id);
      return r ? variantView(r, ctx) : null;
    }
    case 'InventoryItem': {
      const r = s.inventoryItems.get(g.id);
      return r ? inventoryItemView(r, ctx) : null;
    }
    case 'Location': {
      const r = s.locations.get(g.id);
      return r ? locationView(r) : null;
    }
    case 'BulkOperation':
      return (ctx.bulkApi?.get(g.id) as object | undefined) ?? null;
    default:
      return null;
  }
}

function count(items: Iterable<{ id: number; createdAt: string; updatedAt: string }>, args: { query?: string | null; limit?: number | null }) {
  const pred = searchPredicate(parseSearch(args.query).terms, timeFields());
  let n = 0;
  for (const r of items) if (pred.test(r)) n++;
  const limit = args.limit ?? null;
  return limit !== null && n > limit ? { count: limit, precision: 'AT_LEAST' } : { count: n, precision: 'EXACT' };
}

type Resolvers = Record<string, Record<string, GraphQLFieldResolver<any, ExecContext, any>>>;

const resolvers: Resolvers = {
  Query: {
    shop: (_s, _a, ctx) => ({
      __typename: 'Shop',
      id: gid('Shop', 60_000_001),
      name: ctx.store.name,
      email: `owner@${ctx.shopDomain}`,
      myshopifyDomain: ctx.shopDomain,
      currencyCode: ctx.store.currencyCode,
      ianaTimezone: 'Etc/UTC',
      plan: { displayName: ctx.plan, partnerDevelopment: false, shopifyPlus: ctx.plan === 'Shopify Plus' },
    }),
    // Any token may read its own installation's scopes (no access scope needed).
    currentAppInstallation: (_s, _a, ctx) => ({ id: gid('AppInstallation', 70_000_001), accessScopes: [...ctx.scopes].map((handle) => ({ handle, description: handle.replaceAll('_', ' ') })) }),
    node: (_s, a, ctx) => nodeById(a.id, ctx),
    nodes: (_s, a, ctx) => (a.ids as string[]).map((id) => nodeById(id, ctx)),
    orders: (_s, a, ctx) =>
      connection(visibleOrders(ctx), a, ctx, {
        sortKeys: { ...timeSorts<OrderRec>(), PROCESSED_AT: (r) => r.processedAt, ORDER_NUMBER: (r) => r.number, TOTAL_PRICE: (r) => orderTotals(r).total },
        search: {
          ...timeFields<OrderRec>(),
          processed_at: { kind: 'time', get: (r) => r.processedAt },
          email: { kind: 'string', get: (r) => r.email },
          customer_id: { kind: 'number', get: (r) => r.customerId },
          financial_status: { kind: 'string', get: (r) => r.financialStatus },
          fulfillment_status: { kind: 'string', get: (r) => r.fulfillmentStatus },
        },
        view: orderView,
      }),
    order: (_s, a, ctx) => {
      const n = nodeById(a.id, ctx) as { __typename?: string } | null;
      return n?.__typename === 'Order' ? n : null;
    },
    ordersCount: (_s, a, ctx) => count(visibleOrders(ctx), a),
    customers: (_s, a, ctx) =>
      connection(ctx.store.customers.values(), a, ctx, {
        sortKeys: { ...timeSorts<CustomerRec>(), NAME: (r) => `${r.firstName} ${r.lastName}` },
        search: { ...timeFields<CustomerRec>(), email: { kind: 'string', get: (r) => r.email }, state: { kind: 'string', get: (r) => r.state } },
        view: customerView,
      }),
    customer: (_s, a, ctx) => {
      const n = nodeById(a.id, ctx) as { __typename?: string } | null;
      return n?.__typename === 'Customer' ? n : null;
    },
    customersCount: (_s, a, ctx) => count(ctx.store.customers.values(), a),
    products: (_s, a, ctx) =>
      connection(ctx.store.products.values(), a, ctx, {
        sortKeys: { ...timeSorts<ProductRec>(), TITLE: (r) => r.title },
        search: { ...timeFields<ProductRec>(), status: { kind: 'string', get: (r) => r.status }, vendor: { kind: 'string', get: (r) => r.vendor } },
        view: productView,
      }),
    product: (_s, a, ctx) => {
      const n = nodeById(a.id, ctx) as { __typename?: string } | null;
      return n?.__typename === 'Product' ? n : null;
    },
    productsCount: (_s, a, ctx) => count(ctx.store.products.values(), a),
    inventoryItems: (_s, a, ctx) =>
      connection(ctx.store.inventoryItems.values(), { ...a, sortKey: 'ID' }, ctx, {
        search: { ...timeFields<InventoryItemRec>(), sku: { kind: 'string', get: (r) => r.sku } },
        view: inventoryItemView,
      }),
    inventoryItem: (_s, a, ctx) => {
      const n = nodeById(a.id, ctx) as { __typename?: string } | null;
      return n?.__typename === 'InventoryItem' ? n : null;
    },
    locations: (_s, a, ctx) =>
      connection(
        [...ctx.store.locations.values()].filter((l) => l.isActive || a.includeInactive),
        a,
        ctx,
        { sortKeys: { ID: (r) => r.id, NAME: (r) => r.name }, search: timeFields<LocationRec>(), view: (r) => locationView(r) },
      ),
    location: (_s, a, ctx) => {
      if (!a.id) return locationView([...ctx.store.locations.values()][0]!);
      const n = nodeById(a.id, ctx) as { __typename?: string } | null;
      return n?.__typename === 'Location' ? n : null;
    },
    deletionEvents: (_s, a, ctx) =>
      connection(
        ctx.store.deletionEvents.filter((e) => !a.subjectTypes?.length || (a.subjectTypes as string[]).includes(e.subjectType)),
        a,
        ctx,
        {
          sortKeys: { ID: (e) => e.id, CREATED_AT: (e) => e.occurredAt },
          search: { id: { kind: 'number', get: (e) => e.id }, occurred_at: { kind: 'time', get: (e) => e.occurredAt }, subject_type: { kind: 'string', get: (e) => e.subjectType } },
          view: (e) => ({ occurredAt: e.occurredAt, subjectId: gid(e.subjectType === 'PRODUCT' ? 'Product' : 'Collection', e.subjectId), subjectType: e.subjectType }),
        },
      ),
    currentBulkOperation: (_s, a, ctx) => (a.type === 'MUTATION' ? null : ctx.bulkApi?.current() ?? null),
  },
  Mutation: {
    bulkOperationRunQuery: (_s, a, ctx) => ctx.bulkApi!.run(a.query),
    bulkOperationCancel: (_s, a, ctx) => ctx.bulkApi!.cancel(a.id),
  },
};

let cached: GraphQLSchema | undefined;

/** The executable schema (built once): SDL + resolvers attached to their fields. */
export function shopifySchema(): GraphQLSchema {
  if (cached) return cached;
  const schema = buildSchema(SDL);
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName) as GraphQLObjectType;
    const defs = type.getFields();
    for (const [field, fn] of Object.entries(fields)) defs[field]!.resolve = fn;
  }
  // Interfaces resolve through __typename on the views (graphql-js' default type resolver).
  cached = schema;
  return schema;
}
