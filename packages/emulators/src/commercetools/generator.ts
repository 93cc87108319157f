import { CITIES, FIRST_NAMES, LAST_NAMES, PRODUCTS, Rng } from '../common/random';

/**
 * Seeded generators of realistic commercetools documents. Documents are generated lazily: the store
 * keeps only (id, timestamps, version, generator index, patch) per record and builds the document from
 * the seed when it is served, so the emulator can hold a million orders in a few hundred megabytes.
 */
export const ENDPOINTS = ['orders', 'carts', 'customers', 'payments', 'product-projections', 'categories', 'discount-codes', 'inventory'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export interface Money {
  type: 'centPrecision';
  currencyCode: string;
  centAmount: number;
  fractionDigits: number;
}

export const money = (centAmount: number, currencyCode = 'EUR'): Money => ({ type: 'centPrecision', currencyCode, centAmount, fractionDigits: 2 });

/** What generators may reference: ids of other collections (by generator index, stable for a seed). */
export interface GenContext {
  seed: number;
  projectKey: string;
  clientId: string;
  ref(endpoint: Endpoint, n: number): string | undefined;
}

const CURRENCY_BY_COUNTRY: Record<string, string> = { DE: 'EUR', NL: 'EUR', FR: 'EUR', US: 'USD', AU: 'AUD' };
const ORDER_STATES = ['Open', 'Confirmed', 'Complete', 'Complete', 'Complete', 'Cancelled'] as const;
const SHIPMENT_STATES = ['Shipped', 'Delivered', 'Ready', 'Pending', 'Delayed', 'Partial', 'Backorder'] as const;
const PAYMENT_STATES = ['Paid', 'Paid', 'Pending', 'BalanceDue', 'Failed', 'CreditOwed'] as const;
const STREETS = ['Hauptstraße', 'Keizersgracht', 'Rue de Rivoli', 'Congress Ave', 'Pike St', 'George St', 'Friedrichstraße'];

const word = (r: Rng) => (r.next() * 4294967296) >>> 0;
const HEXCODE = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const CODES = new Array<number>(36);
/**
 * A v4-shaped UUID from five draws (Rng.uuid draws 32 times; documents are generated on every read).
 * Built from char codes: string concatenation would leave a rope of ~20 nodes (~450 bytes per stored id).
 */
export function uuid(r: Rng): string {
  let k = 0;
  for (let w = 0; w < 4; w++) {
    let x = word(r);
    for (let j = 0; j < 8; j++) {
      if (k === 8 || k === 13 || k === 18 || k === 23) CODES[k++] = 45; // '-'
      CODES[k++] = HEXCODE[x >>> 28]!;
      x = (x << 4) >>> 0;
    }
  }
  CODES[14] = 52; // '4': version
  CODES[19] = HEXCODE[8 + (CODES[19]! & 3)]!; // variant 8-b
  const e = word(r);
  CODES[33] = HEXCODE[(e >>> 8) & 15]!;
  CODES[34] = HEXCODE[(e >>> 4) & 15]!;
  CODES[35] = HEXCODE[e & 15]!;
  return String.fromCharCode.apply(null, CODES);
}

function rngFor(ctx: GenContext, endpoint: Endpoint, n: number): Rng {
  let h = ctx.seed ^ 0x5bd1e995;
  for (const ch of endpoint) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return new Rng((h ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);
}

const EMAILS = new Map<string, string>();
/** Addresses always carry an id here (the API gives stored addresses one); the id is drawn first. */
function address(r: Rng, id: string) {
  const c = r.pick(CITIES);
  const first = r.pick(FIRST_NAMES);
  const last = r.pick(LAST_NAMES);
  const key = `${first}.${last}`;
  let email = EMAILS.get(key);
  if (email === undefined) EMAILS.set(key, (email = `${key}@example.com`.toLowerCase()));
  return {
    id,
    firstName: first,
    lastName: last,
    streetName: r.pick(STREETS),
    streetNumber: String(r.int(1, 180)),
    postalCode: c.postalCode,
    city: c.city,
    country: c.country,
    email,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const by = (ctx: GenContext) => ({ isPlatformClient: false, clientId: ctx.clientId });

const deepFreeze = <T>(o: T): T => {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
};

/** The parts of a line item that depend only on the product: built once, shared (frozen). */
const PRODUCT_PARTS = PRODUCTS.map((p) =>
  deepFreeze({
    productKey: p.sku.toLowerCase(),
    name: { en: p.name },
    productType: { typeId: 'product-type', id: '1d6c1b9a-6a1f-4e2e-9b1a-0c6f7e1d2a3b' },
    productSlug: { en: p.sku.toLowerCase() },
    variant: {
      id: 1,
      sku: p.sku,
      prices: [],
      images: [{ url: `https://images.example.com/${p.sku.toLowerCase()}.jpg`, dimensions: { w: 800, h: 800 } }],
      attributes: [{ name: 'size', value: p.sku.split('-')[2] ?? 'one-size' }],
      assets: [],
    },
    taxRate: { name: 'Standard', amount: 0.19, includedInPrice: true, country: 'DE', id: 'standard-de', subRates: [] },
    stateRef: { typeId: 'state', id: '7c2e2b8a-0f2d-4b9e-8a55-0e5a3d1f9a10' },
  }),
);
const EMPTY: readonly never[] = Object.freeze([]);

function lineItems(r: Rng, ctx: GenContext, currency: string, createdAt: number) {
  const count = r.int(1, 4);
  const items = [];
  for (let i = 0; i < count; i++) {
    const pi = Math.floor(r.next() * PRODUCTS.length);
    const p = PRODUCTS[pi]!;
    const parts = PRODUCT_PARTS[pi]!;
    const qty = r.int(1, 3);
    const productIndex = r.int(0, 999);
    items.push({
      id: uuid(r),
      productId: ctx.ref('product-projections', productIndex) ?? uuid(r),
      productKey: parts.productKey,
      name: parts.name,
      productType: parts.productType,
      productSlug: parts.productSlug,
      variant: parts.variant,
      price: { id: uuid(r), value: money(p.cents, currency) },
      quantity: qty,
      discountedPricePerQuantity: EMPTY,
      perMethodTaxRate: EMPTY,
      addedAt: iso(createdAt - r.int(60_000, 3_600_000)),
      lastModifiedAt: iso(createdAt - r.int(0, 60_000)),
      state: [{ quantity: qty, state: parts.stateRef }],
      priceMode: 'Platform',
      lineItemMode: 'Standard',
      totalPrice: money(p.cents * qty, currency),
      taxedPricePortions: EMPTY,
      taxRate: parts.taxRate,
    });
  }
  return items;
}

function totals(items: { totalPrice: Money }[], currency: string) {
  const gross = items.reduce((s, i) => s + i.totalPrice.centAmount, 0);
  const net = Math.round(gross / 1.19);
  return {
    totalPrice: money(gross, currency),
    taxedPrice: {
      totalNet: money(net, currency),
      totalGross: money(gross, currency),
      taxPortions: [{ rate: 0.19, amount: money(gross - net, currency), name: 'Standard' }],
      totalTax: money(gross - net, currency),
    },
  };
}

/** The vendor-specific body of a document; id/version/createdAt/lastModifiedAt are set by the store. */
export function generate(endpoint: Endpoint, n: number, createdAt: number, ctx: GenContext): Record<string, unknown> {
  const r = rngFor(ctx, endpoint, n);
  const base = { createdBy: by(ctx), lastModifiedBy: by(ctx) };
  switch (endpoint) {
    case 'orders':
    case 'carts': {
      const ship = address(r, uuid(r).slice(0, 8));
      const currency = CURRENCY_BY_COUNTRY[ship.country] ?? 'EUR';
      const items = lineItems(r, ctx, currency, createdAt);
      const t = totals(items, currency);
      const customerId = r.bool(0.85) ? ctx.ref('customers', r.int(0, 1_000_000)) : undefined;
      const common = {
        ...base,
        ...(customerId ? { customerId } : { anonymousId: uuid(r) }),
        customerEmail: ship.email,
        country: ship.country,
        lineItems: items,
        customLineItems: [],
        totalPrice: t.totalPrice,
        taxedPrice: t.taxedPrice,
        shippingAddress: ship,
        billingAddress: r.bool(0.8) ? ship : address(r, uuid(r).slice(0, 8)),
        shippingMode: 'Single',
        shipping: [],
        taxMode: 'Platform',
        taxRoundingMode: 'HalfEven',
        taxCalculationMode: 'LineItemLevel',
        inventoryMode: 'None',
        origin: 'Customer',
        discountCodes: [],
        directDiscounts: [],
        itemShippingAddresses: [],
        refusedGifts: [],
      };
      if (endpoint === 'carts') {
        return { ...common, cartState: r.pick(['Active', 'Active', 'Ordered', 'Merged', 'Frozen']), deleteDaysAfterLastModification: 90 };
      }
      const state = r.pick(ORDER_STATES);
      return {
        ...common,
        orderNumber: `ORD-${String(100000 + n)}`,
        orderState: state,
        shipmentState: state === 'Complete' ? 'Delivered' : r.pick(SHIPMENT_STATES),
        paymentState: state === 'Cancelled' ? 'Failed' : r.pick(PAYMENT_STATES),
        syncInfo: [],
        returnInfo: [],
        lastMessageSequenceNumber: r.int(1, 12),
        cart: { typeId: 'cart', id: ctx.ref('carts', n) ?? uuid(r) },
        paymentInfo: { payments: [{ typeId: 'payment', id: ctx.ref('payments', n) ?? uuid(r) }] },
        ...(state === 'Complete' ? { completedAt: iso(createdAt + r.int(86_400_000, 10 * 86_400_000)) } : {}),
      };
    }
    case 'customers': {
      const first = r.pick(FIRST_NAMES);
      const last = r.pick(LAST_NAMES);
      const addresses = Array.from({ length: r.int(1, 3) }, () => address(r, uuid(r).slice(0, 8)));
      return {
        ...base,
        customerNumber: `C${String(10000 + n)}`,
        email: `${first}.${last}.${n}@example.com`.toLowerCase(),
        firstName: first,
        lastName: last,
        ...(r.bool(0.4) ? { dateOfBirth: `${r.int(1950, 2004)}-${String(r.int(1, 12)).padStart(2, '0')}-${String(r.int(1, 28)).padStart(2, '0')}` } : {}),
        addresses,
        defaultShippingAddressId: addresses[0]!.id,
        shippingAddressIds: addresses.map((a) => a.id),
        billingAddressIds: [addresses[0]!.id],
        isEmailVerified: r.bool(0.7),
        stores: [],
        authenticationMode: 'Password',
        password: '****' + uuid(r).slice(0, 8),
      };
    }
    case 'payments': {
      const cents = r.int(599, 40000);
      const currency = r.pick(['EUR', 'EUR', 'USD', 'AUD']);
      const method = r.pick(['CREDIT_CARD', 'PAYPAL', 'KLARNA', 'SEPA']);
      const captured = r.bool(0.85);
      return {
        ...base,
        key: `pay-${n}`,
        interfaceId: `psp_${uuid(r).replace(/-/g, '').slice(0, 16)}`,
        customer: { typeId: 'customer', id: ctx.ref('customers', r.int(0, 1_000_000)) ?? uuid(r) },
        amountPlanned: money(cents, currency),
        paymentMethodInfo: { paymentInterface: 'adyen', method, name: { en: method.replace('_', ' ').toLowerCase() } },
        paymentStatus: { interfaceCode: captured ? 'Authorised' : 'Refused', interfaceText: captured ? 'Authorised' : 'Refused by issuer' },
        transactions: [
          { id: uuid(r), timestamp: iso(createdAt + 1000), type: 'Authorization', amount: money(cents, currency), interactionId: uuid(r), state: captured ? 'Success' : 'Failure' },
          ...(captured ? [{ id: uuid(r), timestamp: iso(createdAt + r.int(60_000, 86_400_000)), type: 'Charge', amount: money(cents, currency), interactionId: uuid(r), state: 'Success' }] : []),
        ],
        interfaceInteractions: [],
      };
    }
    case 'product-projections': {
      const p = PRODUCTS[n % PRODUCTS.length]!;
      const key = `${p.sku.toLowerCase()}-${n}`;
      return {
        ...base,
        key,
        productType: { typeId: 'product-type', id: '1d6c1b9a-6a1f-4e2e-9b1a-0c6f7e1d2a3b' },
        name: { en: `${p.name} #${n}`, de: `${p.name} #${n}` },
        description: { en: `A fine ${p.name.toLowerCase()}.` },
        slug: { en: key },
        categories: [{ typeId: 'category', id: ctx.ref('categories', r.int(0, 1_000_000)) ?? uuid(r) }],
        categoryOrderHints: {},
        metaTitle: { en: p.name },
        searchKeywords: {},
        masterVariant: {
          id: 1,
          sku: `${p.sku}-${n}`,
          key: `${key}-1`,
          prices: [
            { id: uuid(r), value: money(p.cents, 'EUR'), country: 'DE' },
            { id: uuid(r), value: money(Math.round(p.cents * 1.1), 'USD'), country: 'US' },
          ],
          images: [{ url: `https://images.example.com/${key}.jpg`, dimensions: { w: 800, h: 800 } }],
          attributes: [{ name: 'color', value: p.sku.split('-')[1] ?? 'NAT' }],
          assets: [],
        },
        variants: [],
        hasStagedChanges: r.bool(0.1),
        published: true,
        taxCategory: { typeId: 'tax-category', id: '3a6d2c6a-0c1f-4a0b-9c0d-2b7c3c7e1f55' },
        priceMode: 'Embedded',
      };
    }
    case 'categories': {
      const names = ['Apparel', 'Accessories', 'Home', 'Stationery', 'Sale', 'New In', 'Gifts', 'Outdoor'];
      const name = `${names[n % names.length]}${n >= names.length ? ` ${Math.floor(n / names.length)}` : ''}`;
      const parent = n >= names.length ? ctx.ref('categories', n % names.length) : undefined;
      return {
        ...base,
        key: name.toLowerCase().replace(/\s+/g, '-'),
        name: { en: name },
        slug: { en: name.toLowerCase().replace(/\s+/g, '-') },
        description: { en: `Everything ${name.toLowerCase()}` },
        ancestors: parent ? [{ typeId: 'category', id: parent }] : [],
        ...(parent ? { parent: { typeId: 'category', id: parent } } : {}),
        orderHint: `0.${String(r.int(1, 99999)).padStart(5, '0')}`,
        assets: [],
      };
    }
    case 'discount-codes': {
      const pct = r.pick([5, 10, 15, 20, 25]);
      return {
        ...base,
        code: `SAVE${pct}-${String(n).padStart(4, '0')}`,
        name: { en: `${pct}% off` },
        cartDiscounts: [{ typeId: 'cart-discount', id: uuid(r) }],
        isActive: r.bool(0.8),
        references: [],
        ...(r.bool(0.5) ? { maxApplications: r.int(10, 1000) } : {}),
        maxApplicationsPerCustomer: 1,
        groups: [],
        applicationVersion: r.int(1, 5),
        validFrom: iso(createdAt),
        ...(r.bool(0.5) ? { validUntil: iso(createdAt + r.int(7, 90) * 86_400_000) } : {}),
      };
    }
    case 'inventory': {
      const p = PRODUCTS[n % PRODUCTS.length]!;
      const onStock = r.int(0, 500);
      return {
        ...base,
        sku: `${p.sku}-${n}`,
        quantityOnStock: onStock,
        availableQuantity: Math.max(0, onStock - r.int(0, 20)),
        restockableInDays: r.int(1, 30),
        ...(r.bool(0.3) ? { expectedDelivery: iso(createdAt + r.int(1, 60) * 86_400_000) } : {}),
        ...(r.bool(0.5) ? { supplyChannel: { typeId: 'channel', id: '9f1d2e3c-4b5a-4c6d-8e7f-0a1b2c3d4e5f' } } : {}),
      };
    }
  }
}
