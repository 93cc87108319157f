import {
  DEFAULT_COUNTS,
  DEFAULT_SEED,
  ID_BASE,
  generateCatalog,
  generateCustomers,
  generateLocations,
  generateOrders,
  isoSeconds,
  type CustomerRec,
  type InventoryItemRec,
  type LocationRec,
  type OrderRec,
  type ProductRec,
  type VariantRec,
} from './generator';

export interface DeletionEventRec {
  id: number;
  subjectType: 'PRODUCT' | 'COLLECTION';
  /** Numeric id of the deleted resource (served as its GID). */
  subjectId: number;
  occurredAt: string;
}

export interface StoreOptions {
  seed?: number;
  customers?: number;
  products?: number;
  orders?: number;
  locations?: number;
  currencyCode?: string;
  shopName?: string;
}

export type Kind = 'orders' | 'customers' | 'products' | 'variants' | 'inventoryItems' | 'locations';
type RecOf<K extends Kind> = {
  orders: OrderRec;
  customers: CustomerRec;
  products: ProductRec;
  variants: VariantRec;
  inventoryItems: InventoryItemRec;
  locations: LocationRec;
}[K];

const ID_KIND: Record<Kind, keyof typeof ID_BASE> = {
  orders: 'Order',
  customers: 'Customer',
  products: 'Product',
  variants: 'ProductVariant',
  inventoryItems: 'InventoryItem',
  locations: 'Location',
};

/**
 * The mutable data of one emulated shop. Maps keep insertion order = id order (ids only grow), which is
 * Shopify's default (ID) order. Updates stamp `updatedAt` with the store clock, never going backwards.
 */
export class ShopifyStore {
  readonly name: string;
  readonly currencyCode: string;
  orders = new Map<number, OrderRec>();
  customers = new Map<number, CustomerRec>();
  products = new Map<number, ProductRec>();
  variants = new Map<number, VariantRec>();
  inventoryItems = new Map<number, InventoryItemRec>();
  locations = new Map<number, LocationRec>();
  /** Wall clock used for created/updated stamps of mutations (tests may pin it). */
  clock: () => number = () => Date.now();
  private lastStamp = 0;
  private nextIds = new Map<Kind, number>();

  constructor(opts: StoreOptions = {}) {
    const seed = opts.seed ?? DEFAULT_SEED;
    this.name = opts.shopName ?? 'Sluice Demo Store';
    this.currencyCode = opts.currencyCode ?? 'USD';
    const customers = generateCustomers({ seed, count: opts.customers ?? DEFAULT_COUNTS.customers });
    const locations = generateLocations({ seed, count: opts.locations ?? DEFAULT_COUNTS.locations });
    const catalog = generateCatalog({ seed, count: opts.products ?? DEFAULT_COUNTS.products, locations });
    const orders = generateOrders({ seed, count: opts.orders ?? DEFAULT_COUNTS.orders, customers, ...catalog, currencyCode: this.currencyCode });
    for (const c of customers) this.customers.set(c.id, c);
    for (const l of locations) this.locations.set(l.id, l);
    for (const p of catalog.products) this.products.set(p.id, p);
    for (const v of catalog.variants) this.variants.set(v.id, v);
    for (const i of catalog.inventoryItems) this.inventoryItems.set(i.id, i);
    for (const o of orders) this.orders.set(o.id, o);
  }

  map<K extends Kind>(kind: K): Map<number, RecOf<K>> {
    return this[kind] as unknown as Map<number, RecOf<K>>;
  }

  /** A second-precision timestamp that never goes backwards (Shopify stamps are whole seconds). */
  stamp(): string {
    const now = Math.max(Math.floor(this.clock() / 1000) * 1000, this.lastStamp);
    this.lastStamp = now;
    return isoSeconds(now);
  }

  newId(kind: Kind): number {
    let next = this.nextIds.get(kind);
    if (next === undefined) {
      const m = this.map(kind);
      let max: number = ID_BASE[ID_KIND[kind]];
      for (const id of m.keys()) if (id > max) max = id;
      next = max + 1;
    }
    this.nextIds.set(kind, next + 1);
    return next;
  }

  /** Inserts a record (id, createdAt, updatedAt filled when absent). Returns the stored record. */
  insert<K extends Kind>(kind: K, rec: Omit<RecOf<K>, 'id' | 'createdAt' | 'updatedAt'> & Partial<Pick<RecOf<K>, 'id' | 'createdAt' | 'updatedAt'>>): RecOf<K> {
    const now = this.stamp();
    const full = { ...rec, id: rec.id ?? this.newId(kind), createdAt: rec.createdAt ?? now, updatedAt: rec.updatedAt ?? now } as RecOf<K>;
    this.map(kind).set(full.id, full);
    return full;
  }

  /** Applies a patch and stamps updatedAt (unless the patch sets it). */
  update<K extends Kind>(kind: K, id: number, patch: Partial<RecOf<K>> = {}): RecOf<K> {
    const m = this.map(kind);
    const cur = m.get(id);
    if (!cur) throw new Error(`no ${kind} ${id}`);
    const next = { ...cur, ...patch, updatedAt: patch.updatedAt ?? this.stamp() } as RecOf<K>;
    // A refund is a transaction of its own, made now.
    if (kind === 'orders' && 'refunded' in patch && (patch as Partial<OrderRec>).refunded !== (cur as OrderRec).refunded) (next as OrderRec).refundedAt = next.updatedAt;
    m.set(id, next);
    return next;
  }

  /**
   * Deletion events (`deletionEvents`): Shopify records one when a product (or collection) is deleted,
   * the only trace of it left; other resources leave none. Ids only grow; `occurredAt` is the store clock.
   */
  readonly deletionEvents: DeletionEventRec[] = [];
  private deletionEventId: number = ID_BASE.DeletionEvent;

  delete(kind: Kind, id: number): boolean {
    const gone = this.map(kind).delete(id);
    if (gone && kind === 'products') this.deletionEvents.push({ id: ++this.deletionEventId, subjectType: 'PRODUCT', subjectId: id, occurredAt: this.stamp() });
    return gone;
  }

  /** Creates a new order for an existing customer (or a guest), with line items from existing variants. */
  createOrder(opts: { customerId?: number | null; variantIds?: number[]; quantity?: number } = {}): OrderRec {
    const variants = opts.variantIds?.length ? opts.variantIds.map((id) => this.variants.get(id)!) : [[...this.variants.values()][0]!];
    const customer = opts.customerId ? this.customers.get(opts.customerId) : undefined;
    const number = this.nextOrderNumber();
    const lineItems = variants.map((v) => {
      const p = this.products.get(v.productId)!;
      return {
        id: this.newLineItemId(),
        variantId: v.id,
        productId: p.id,
        name: `${p.title} - ${v.title}`,
        title: p.title,
        sku: v.sku,
        vendor: p.vendor,
        quantity: opts.quantity ?? 1,
        unitPrice: Math.round(Number(v.price) * 100),
        discount: 0,
      };
    });
    const now = this.stamp();
    return this.insert('orders', {
      number,
      name: `#${number}`,
      email: customer?.email ?? null,
      phone: customer?.phone ?? null,
      customerId: customer?.id ?? null,
      currencyCode: this.currencyCode,
      financialStatus: 'PAID',
      fulfillmentStatus: 'UNFULFILLED',
      lineItems,
      shipping: 0,
      tax: 0,
      refunded: 0,
      tags: [],
      note: null,
      test: false,
      sourceName: 'web',
      shippingAddress: customer?.defaultAddress ?? null,
      processedAt: now,
      closedAt: null,
      cancelledAt: null,
      cancelReason: null,
    });
  }

  private nextOrderNumber(): number {
    let max = 1000;
    for (const o of this.orders.values()) if (o.number > max) max = o.number;
    return max + 1;
  }

  private lineItemId = 0;
  private newLineItemId(): number {
    if (this.lineItemId === 0) {
      let max: number = ID_BASE.LineItem;
      for (const o of this.orders.values()) for (const li of o.lineItems) if (li.id > max) max = li.id;
      this.lineItemId = max;
    }
    return ++this.lineItemId;
  }
}
