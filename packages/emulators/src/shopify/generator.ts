import { Rng, FIRST_NAMES, LAST_NAMES, CITIES, PRODUCTS } from '../common/random';

/**
 * Seeded generator of a Shopify store: customers, products with variants (and their inventory items),
 * locations, and orders with line items. Timestamps are second-precision UTC ISO strings, as Shopify
 * returns them; money amounts are decimal strings (Shopify's `Decimal` / `Money` scalars).
 *
 * `generateCustomers` is exported on its own so other emulators (PostHog persons) can produce matching
 * identities from the same seed: emails are `<first>.<last><n>@example.com`, n = 1-based index.
 */

export const DEFAULT_SEED = 42;
export const DEFAULT_COUNTS = { customers: 200, products: 40, orders: 600, locations: 3 } as const;

/** Generated data lives between these instants (fixed, so a seed always gives the same store). */
export const GENERATED_FROM = Date.UTC(2024, 0, 1);
export const GENERATED_TO = Date.UTC(2025, 5, 30, 23, 59, 59);

export const ID_BASE = {
  Customer: 7_100_000_000_000,
  Product: 8_200_000_000_000,
  ProductVariant: 45_300_000_000_000,
  InventoryItem: 47_400_000_000_000,
  Location: 68_500_000_000,
  Order: 5_600_000_000_000,
  LineItem: 13_700_000_000_000,
  InventoryLevel: 1_000_000_000_000,
  OrderTransaction: 6_900_000_000_000,
  DeletionEvent: 2_300_000_000_000,
} as const;

export const isoSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
export const money = (cents: number) => (cents / 100).toFixed(2);

export interface MailingAddress {
  address1: string;
  city: string;
  zip: string;
  countryCodeV2: string;
  country: string;
}

export interface CustomerRec {
  id: number;
  firstName: string;
  lastName: string;
  email: string;
  phone: string | null;
  state: 'ENABLED' | 'DISABLED' | 'INVITED' | 'DECLINED';
  verifiedEmail: boolean;
  taxExempt: boolean;
  tags: string[];
  note: string | null;
  defaultAddress: MailingAddress;
  createdAt: string;
  updatedAt: string;
}

export interface VariantRec {
  id: number;
  productId: number;
  inventoryItemId: number;
  title: string;
  sku: string;
  price: string;
  compareAtPrice: string | null;
  inventoryQuantity: number;
  position: number;
  barcode: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ProductRec {
  id: number;
  title: string;
  handle: string;
  vendor: string;
  productType: string;
  status: 'ACTIVE' | 'ARCHIVED' | 'DRAFT';
  tags: string[];
  variantIds: number[];
  createdAt: string;
  updatedAt: string;
  publishedAt: string | null;
}

export interface InventoryLevelRec {
  id: number;
  locationId: number;
  available: number;
  onHand: number;
  updatedAt: string;
}

export interface InventoryItemRec {
  id: number;
  variantId: number;
  sku: string;
  tracked: boolean;
  requiresShipping: boolean;
  unitCost: string | null;
  countryCodeOfOrigin: string | null;
  levels: InventoryLevelRec[];
  createdAt: string;
  updatedAt: string;
}

export interface LocationRec {
  id: number;
  name: string;
  isActive: boolean;
  fulfillsOnlineOrders: boolean;
  address: { address1: string; city: string; zip: string; countryCode: string };
  createdAt: string;
  updatedAt: string;
}

export interface LineItemRec {
  id: number;
  variantId: number | null;
  productId: number | null;
  name: string;
  title: string;
  sku: string | null;
  vendor: string | null;
  quantity: number;
  /** Cents. */
  unitPrice: number;
  /** Cents off this line. */
  discount: number;
}

export type FinancialStatus = 'PENDING' | 'AUTHORIZED' | 'PAID' | 'PARTIALLY_REFUNDED' | 'REFUNDED' | 'VOIDED';
export type FulfillmentStatus = 'UNFULFILLED' | 'PARTIALLY_FULFILLED' | 'FULFILLED';

export interface OrderRec {
  id: number;
  number: number;
  name: string;
  email: string | null;
  phone: string | null;
  customerId: number | null;
  currencyCode: string;
  financialStatus: FinancialStatus;
  fulfillmentStatus: FulfillmentStatus;
  lineItems: LineItemRec[];
  /** Cents. */
  shipping: number;
  tax: number;
  refunded: number;
  tags: string[];
  note: string | null;
  test: boolean;
  sourceName: string;
  shippingAddress: MailingAddress | null;
  createdAt: string;
  updatedAt: string;
  processedAt: string;
  closedAt: string | null;
  cancelledAt: string | null;
  cancelReason: 'CUSTOMER' | 'FRAUD' | 'INVENTORY' | 'DECLINED' | 'OTHER' | null;
  /** When the (last) refund was made; the refund transaction's timestamp. */
  refundedAt?: string | null;
  /** Partial captures of an authorized order (cents), each a CAPTURE transaction. */
  captures?: number[];
}

export interface TransactionRec {
  id: number;
  kind: 'SALE' | 'AUTHORIZATION' | 'CAPTURE' | 'VOID' | 'REFUND';
  status: 'SUCCESS' | 'PENDING' | 'FAILURE';
  gateway: string;
  /** Cents. */
  amount: number;
  parentId: number | null;
  test: boolean;
  createdAt: string;
  processedAt: string;
}

/**
 * The payment transactions of an order, derived from its state (so updating an order's financial
 * status or refund amount is enough to give it the matching transactions).
 */
export function orderTransactions(o: OrderRec): TransactionRec[] {
  const t = orderTotals(o);
  const base = ID_BASE.OrderTransaction + (o.id - ID_BASE.Order) * 100;
  const gateway = o.financialStatus === 'PENDING' ? 'manual' : (['shopify_payments', 'shopify_payments', 'paypal'] as const)[o.id % 3]!;
  const tx = (k: number, kind: TransactionRec['kind'], status: TransactionRec['status'], amount: number, parentId: number | null, at = o.processedAt): TransactionRec => ({
    id: base + k,
    kind,
    status,
    gateway,
    amount,
    parentId,
    test: o.test,
    createdAt: at,
    processedAt: at,
  });
  switch (o.financialStatus) {
    case 'PENDING':
      return [tx(1, 'SALE', 'PENDING', t.total, null)];
    case 'AUTHORIZED':
      return [tx(1, 'AUTHORIZATION', 'SUCCESS', t.total, null), ...(o.captures ?? []).map((c, i) => tx(2 + i, 'CAPTURE', 'SUCCESS', c, base + 1, o.updatedAt))];
    case 'VOIDED':
      return [tx(1, 'AUTHORIZATION', 'SUCCESS', t.total, null), tx(2, 'VOID', 'SUCCESS', t.total, base + 1, o.updatedAt)];
    default: {
      const out = [tx(1, 'SALE', 'SUCCESS', t.total, null)];
      if (o.refunded > 0) out.push(tx(2, 'REFUND', 'SUCCESS', o.refunded, base + 1, o.refundedAt ?? o.updatedAt));
      return out;
    }
  }
}

/** Order totals in cents (what the money sets are built from). */
export function orderTotals(o: OrderRec) {
  const subtotalGross = o.lineItems.reduce((s, li) => s + li.unitPrice * li.quantity, 0);
  const discounts = o.lineItems.reduce((s, li) => s + li.discount, 0);
  const subtotal = subtotalGross - discounts;
  const total = subtotal + o.shipping + o.tax;
  return { subtotal, discounts, shipping: o.shipping, tax: o.tax, total, refunded: o.refunded, currentTotal: total - o.refunded };
}

const COUNTRY_NAMES: Record<string, string> = { DE: 'Germany', NL: 'Netherlands', FR: 'France', US: 'United States', AU: 'Australia' };

function address(rng: Rng): MailingAddress {
  const c = rng.pick(CITIES);
  return { address1: `${rng.int(1, 250)} ${rng.pick(['Main St', 'Market St', 'Hauptstr.', 'Rue de Rivoli', 'Keizersgracht'])}`, city: c.city, zip: c.postalCode, countryCodeV2: c.country, country: COUNTRY_NAMES[c.country] ?? c.country };
}

/** Deterministic email of the n-th customer (1-based) with these names. */
export function customerEmail(firstName: string, lastName: string, n: number): string {
  return `${firstName}.${lastName}${n}@example.com`.toLowerCase();
}

/**
 * Customers of a seed. Names, emails and phones depend only on (seed, index): the first k customers have
 * the same identities whatever the count, so another emulator can regenerate them (dates spread over the
 * generated period, so they depend on the count).
 */
export function generateCustomers(opts: { seed?: number; count?: number } = {}): CustomerRec[] {
  const seed = opts.seed ?? DEFAULT_SEED;
  const count = opts.count ?? DEFAULT_COUNTS.customers;
  const rng = new Rng(seed ^ 0x5c0571);
  const span = (GENERATED_TO - GENERATED_FROM) / Math.max(1, count);
  const out: CustomerRec[] = [];
  for (let i = 0; i < count; i++) {
    const n = i + 1;
    const firstName = rng.pick(FIRST_NAMES);
    const lastName = rng.pick(LAST_NAMES);
    const created = GENERATED_FROM + Math.floor(i * span + rng.next() * span * 0.9);
    const updated = Math.min(GENERATED_TO, created + rng.int(0, 60) * 86_400_000 + rng.int(0, 86_399) * 1000);
    const hasPhone = rng.bool(0.8);
    const phoneDigits = String(rng.int(0, 9_999_999)).padStart(7, '0');
    out.push({
      id: ID_BASE.Customer + n,
      firstName,
      lastName,
      email: customerEmail(firstName, lastName, n),
      phone: hasPhone ? `+1555${phoneDigits}` : null,
      state: rng.bool(0.85) ? 'ENABLED' : 'DISABLED',
      verifiedEmail: rng.bool(0.9),
      taxExempt: rng.bool(0.05),
      tags: rng.bool(0.3) ? [rng.pick(['vip', 'wholesale', 'newsletter'])] : [],
      note: null,
      defaultAddress: address(rng),
      createdAt: isoSeconds(created),
      updatedAt: isoSeconds(updated),
    });
  }
  return out;
}

const SIZES = ['S', 'M', 'L', 'XL'] as const;
const VENDORS = ['Sluice Supply', 'Acme Apparel', 'North Goods'] as const;

export function generateLocations(opts: { seed?: number; count?: number } = {}): LocationRec[] {
  const rng = new Rng((opts.seed ?? DEFAULT_SEED) ^ 0x10ca7);
  const count = opts.count ?? DEFAULT_COUNTS.locations;
  const names = ['Berlin Warehouse', 'Austin DC', 'Amsterdam Store', 'Sydney 3PL', 'Paris Boutique'];
  return Array.from({ length: count }, (_, i) => {
    const c = CITIES[i % CITIES.length]!;
    const created = GENERATED_FROM - (count - i) * 86_400_000 * 30;
    return {
      id: ID_BASE.Location + i + 1,
      name: names[i % names.length]! + (i >= names.length ? ` ${i + 1}` : ''),
      isActive: true,
      fulfillsOnlineOrders: i === 0 || rng.bool(0.5),
      address: { address1: `${rng.int(1, 99)} Depot Road`, city: c.city, zip: c.postalCode, countryCode: c.country },
      createdAt: isoSeconds(created),
      updatedAt: isoSeconds(created),
    };
  });
}

export function generateCatalog(opts: { seed?: number; count?: number; locations: LocationRec[] }): {
  products: ProductRec[];
  variants: VariantRec[];
  inventoryItems: InventoryItemRec[];
} {
  const rng = new Rng((opts.seed ?? DEFAULT_SEED) ^ 0x9e0d);
  const count = opts.count ?? DEFAULT_COUNTS.products;
  const products: ProductRec[] = [];
  const variants: VariantRec[] = [];
  const inventoryItems: InventoryItemRec[] = [];
  const span = (GENERATED_TO - GENERATED_FROM) / 4 / Math.max(1, count);
  let variantN = 0;
  for (let i = 0; i < count; i++) {
    const base = PRODUCTS[i % PRODUCTS.length]!;
    const edition = Math.floor(i / PRODUCTS.length);
    const title = edition ? `${base.name} v${edition + 1}` : base.name;
    const created = GENERATED_FROM + Math.floor(i * span);
    const id = ID_BASE.Product + i + 1;
    const nVariants = rng.int(1, 4);
    const variantIds: number[] = [];
    for (let v = 0; v < nVariants; v++) {
      variantN++;
      const vid = ID_BASE.ProductVariant + variantN;
      const iid = ID_BASE.InventoryItem + variantN;
      const sku = `${base.sku}${edition ? `-${edition + 1}` : ''}-${SIZES[v]}`;
      const vCreated = created + v * 1000;
      const priceCents = base.cents + v * 100;
      const qty = rng.int(0, 120);
      const levels: InventoryLevelRec[] = opts.locations.map((loc, li) => {
        const available = li === 0 ? qty : rng.int(0, 40);
        return { id: ID_BASE.InventoryLevel + variantN * 100 + li, locationId: loc.id, available, onHand: available + rng.int(0, 3), updatedAt: isoSeconds(vCreated) };
      });
      variants.push({
        id: vid,
        productId: id,
        inventoryItemId: iid,
        title: SIZES[v]!,
        sku,
        price: money(priceCents),
        compareAtPrice: rng.bool(0.2) ? money(priceCents + 500) : null,
        inventoryQuantity: levels.reduce((s, l) => s + l.available, 0),
        position: v + 1,
        barcode: rng.bool(0.5) ? String(rng.int(100_000_000, 999_999_999)) : null,
        createdAt: isoSeconds(vCreated),
        updatedAt: isoSeconds(vCreated),
      });
      inventoryItems.push({
        id: iid,
        variantId: vid,
        sku,
        tracked: true,
        requiresShipping: true,
        unitCost: rng.bool(0.8) ? money(Math.round(priceCents * 0.4)) : null,
        countryCodeOfOrigin: rng.bool(0.6) ? rng.pick(['CN', 'PT', 'US', 'DE']) : null,
        levels,
        createdAt: isoSeconds(vCreated),
        updatedAt: isoSeconds(vCreated),
      });
      variantIds.push(vid);
    }
    const updated = Math.min(GENERATED_TO, created + rng.int(0, 200) * 86_400_000);
    products.push({
      id,
      title,
      handle: title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''),
      vendor: rng.pick(VENDORS),
      productType: base.sku.split('-')[0]!.toLowerCase(),
      status: rng.bool(0.9) ? 'ACTIVE' : rng.pick(['ARCHIVED', 'DRAFT'] as const),
      tags: rng.bool(0.4) ? ['summer'] : [],
      variantIds,
      createdAt: isoSeconds(created),
      updatedAt: isoSeconds(updated),
      publishedAt: isoSeconds(created + 3_600_000),
    });
  }
  return { products, variants, inventoryItems };
}

export function generateOrders(opts: {
  seed?: number;
  count?: number;
  customers: CustomerRec[];
  products: ProductRec[];
  variants: VariantRec[];
  currencyCode?: string;
}): OrderRec[] {
  const rng = new Rng((opts.seed ?? DEFAULT_SEED) ^ 0x0bde5);
  const count = opts.count ?? DEFAULT_COUNTS.orders;
  const currencyCode = opts.currencyCode ?? 'USD';
  const byId = new Map(opts.products.map((p) => [p.id, p]));
  const span = (GENERATED_TO - GENERATED_FROM) / Math.max(1, count);
  const out: OrderRec[] = [];
  let lineN = 0;
  for (let i = 0; i < count; i++) {
    const created = GENERATED_FROM + Math.floor(i * span + rng.next() * span * 0.9);
    const customer = opts.customers.length && rng.bool(0.9) ? rng.pick(opts.customers) : null;
    // A few big orders: more line items than one page of the nested connection.
    const nLines = rng.bool(0.04) ? rng.int(11, 16) : rng.int(1, 5);
    const lineItems: LineItemRec[] = [];
    for (let l = 0; l < nLines && opts.variants.length; l++) {
      const v = rng.pick(opts.variants);
      const p = byId.get(v.productId)!;
      const unitPrice = Math.round(Number(v.price) * 100);
      const quantity = rng.int(1, 3);
      lineN++;
      lineItems.push({
        id: ID_BASE.LineItem + lineN,
        variantId: v.id,
        productId: p.id,
        name: `${p.title} - ${v.title}`,
        title: p.title,
        sku: v.sku,
        vendor: p.vendor,
        quantity,
        unitPrice,
        discount: rng.bool(0.15) ? Math.round(unitPrice * quantity * 0.1) : 0,
      });
    }
    const gross = lineItems.reduce((s, li) => s + li.unitPrice * li.quantity, 0);
    const financialStatus = rng.pick(['PAID', 'PAID', 'PAID', 'PAID', 'PENDING', 'AUTHORIZED', 'PARTIALLY_REFUNDED', 'REFUNDED'] as const);
    const shipping = rng.pick([0, 495, 995]);
    const tax = Math.round(gross * 0.08);
    const total = gross + shipping + tax;
    const refunded = financialStatus === 'REFUNDED' ? total : financialStatus === 'PARTIALLY_REFUNDED' ? Math.round(total / 3) : 0;
    const fulfillmentStatus = financialStatus === 'PAID' ? rng.pick(['FULFILLED', 'FULFILLED', 'UNFULFILLED', 'PARTIALLY_FULFILLED'] as const) : 'UNFULFILLED';
    const updated = Math.min(GENERATED_TO, created + rng.int(0, 20) * 86_400_000 + rng.int(0, 86_399) * 1000);
    const cancelled = financialStatus === 'REFUNDED' && rng.bool(0.5);
    const number = 1001 + i;
    out.push({
      id: ID_BASE.Order + i + 1,
      number,
      name: `#${number}`,
      email: customer ? customer.email : rng.bool(0.5) ? `guest${i + 1}@example.net` : null,
      phone: customer?.phone ?? null,
      customerId: customer?.id ?? null,
      currencyCode,
      financialStatus,
      fulfillmentStatus,
      lineItems,
      shipping,
      tax,
      refunded,
      tags: rng.bool(0.2) ? ['gift'] : [],
      note: rng.bool(0.1) ? 'Please gift wrap' : null,
      test: false,
      sourceName: rng.pick(['web', 'web', 'pos', 'shopify_draft_order']),
      shippingAddress: customer ? customer.defaultAddress : null,
      createdAt: isoSeconds(created),
      updatedAt: isoSeconds(updated),
      processedAt: isoSeconds(created),
      closedAt: fulfillmentStatus === 'FULFILLED' ? isoSeconds(updated) : null,
      cancelledAt: cancelled ? isoSeconds(updated) : null,
      cancelReason: cancelled ? 'CUSTOMER' : null,
      refundedAt: refunded > 0 ? isoSeconds(updated) : null,
    });
  }
  return out;
}
