/**
 * Synthetic order-like records for the warehouse benchmark: ~2 KB of JSON each, created over 24 months
 * (2024-01 … 2025-12) in index order, with nested objects and arrays like a real commerce order.
 * Deterministic: record(i, v) is the same on every run, so a changed version can be regenerated
 * without keeping the table in memory.
 */
export const MONTHS = 24;
const START = Date.UTC(2024, 0, 1);
const END = Date.UTC(2026, 0, 1);
const SPAN = END - START;

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (r: () => number, n: number) => {
  let s = '';
  while (s.length < n) s += ((r() * 4294967296) >>> 0).toString(16).padStart(8, '0');
  return s.slice(0, n);
};
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const STATES = ['Open', 'Confirmed', 'Complete', 'Cancelled'] as const;
const SHIP = ['Pending', 'Ready', 'Shipped', 'Delivered', 'Delayed'] as const;
const PAY = ['Pending', 'Paid', 'Failed', 'BalanceDue'] as const;
const CITIES = [
  ['Berlin', '10115', 'DE'],
  ['Amsterdam', '1012', 'NL'],
  ['Paris', '75001', 'FR'],
  ['Austin', '78701', 'US'],
  ['Sydney', '2000', 'AU'],
] as const;
const NAMES = ['Anna', 'Ben', 'Chloé', 'David', 'Emma', 'Finn', 'Grace', 'Hugo', 'Ida', 'Jonas'] as const;
const PRODUCTS = ['Linen Shirt', 'Wool Scarf', 'Canvas Tote', 'Leather Belt', 'Rain Jacket', 'Trail Shoe', 'Desk Lamp', 'Tea Kettle'] as const;

export const uuidOf = (i: number) => {
  const r = rng(i * 2654435761 + 17);
  const h = hex(r, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export const createdAtMs = (i: number, n: number) => START + Math.floor(((i + 0.5) / n) * SPAN);

/** Record i of a table of n records, at version v (v > 1: changed at `modifiedAt`). */
export function record(i: number, n: number, v = 1, modifiedAt?: number): Record<string, unknown> {
  const r = rng(i + 1);
  const created = createdAtMs(i, n);
  const modified = modifiedAt ?? created + Math.floor(r() * 3 * 86_400_000);
  const [city, zip, country] = pick(r, CITIES);
  const first = pick(r, NAMES);
  const last = pick(r, NAMES);
  const currency = country === 'US' ? 'USD' : country === 'AU' ? 'AUD' : 'EUR';
  const items = [];
  const count = 2 + Math.floor(r() * 3);
  let total = 0;
  for (let k = 0; k < count; k++) {
    const cents = 500 + Math.floor(r() * 20_000);
    const qty = 1 + Math.floor(r() * 3);
    total += cents * qty;
    const name = pick(r, PRODUCTS);
    items.push({
      id: hex(r, 24),
      productId: hex(r, 24),
      name: { en: name },
      variant: { id: 1 + Math.floor(r() * 5), sku: `${name.slice(0, 3).toUpperCase()}-${1000 + Math.floor(r() * 9000)}`, attributes: [{ name: 'size', value: pick(r, ['S', 'M', 'L', 'XL']) }] },
      price: { centAmount: cents, currencyCode: currency },
      quantity: qty,
      totalPrice: { centAmount: cents * qty, currencyCode: currency },
      taxRate: { name: 'Standard', amount: 0.19, includedInPrice: true, country },
    });
  }
  const address = { firstName: first, lastName: last, streetName: 'Main Street', streetNumber: String(1 + Math.floor(r() * 200)), postalCode: zip, city, country, email: `${first}.${last}@example.com`.toLowerCase() };
  return {
    id: uuidOf(i),
    version: v,
    orderNumber: `ORD-${String(i).padStart(8, '0')}`,
    createdAt: new Date(created).toISOString(),
    lastModifiedAt: new Date(modified).toISOString(),
    customerId: hex(r, 24),
    customerEmail: address.email,
    orderState: v > 1 ? 'Complete' : pick(r, STATES),
    shipmentState: v > 1 ? 'Delivered' : pick(r, SHIP),
    paymentState: pick(r, PAY),
    totalCents: total,
    currency,
    itemCount: count,
    country,
    lineItems: items,
    shippingAddress: address,
    billingAddress: address,
    taxedPrice: { totalNet: Math.round(total / 1.19), totalGross: total, totalTax: total - Math.round(total / 1.19) },
    custom: { fields: { giftWrap: r() < 0.1, channel: pick(r, ['web', 'app', 'pos']), note: r() < 0.3 ? 'Please leave at the door' : null } },
  };
}

/**
 * The indexes of the 1% of records an incremental sync changes: `recent` draws them from the newest two
 * months (orders are shipped, paid and refunded soon after they are placed); `uniform` from the whole
 * history (the worst case for copy-on-write by creation month: every month is touched).
 */
export function changedIndexes(n: number, fraction: number, how: 'recent' | 'uniform', seed = 7): number[] {
  const k = Math.max(1, Math.round(n * fraction));
  const r = rng(seed);
  const lo = how === 'recent' ? Math.floor(n * (1 - 2 / MONTHS)) : 0;
  const span = n - lo;
  const set = new Set<number>();
  while (set.size < Math.min(k, span)) set.add(lo + Math.floor(r() * span));
  return [...set];
}
