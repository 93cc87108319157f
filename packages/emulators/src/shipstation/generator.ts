import { CITIES, FIRST_NAMES, LAST_NAMES, PRODUCTS, Rng } from '../common/random';
import { Stamp } from './time';
import { ShipStationStore, toStamp, type StampInput, type StoredRecord } from './store';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const ORDER_STATUSES = ['awaiting_payment', 'awaiting_shipment', 'pending_fulfillment', 'shipped', 'on_hold', 'cancelled'] as const;

const US_ADDRESSES = [
  { street1: '1200 Pike St', city: 'Seattle', state: 'WA', postalCode: '98101', country: 'US' },
  { street1: '500 Congress Ave', city: 'Austin', state: 'TX', postalCode: '78701', country: 'US' },
  { street1: '1 Market St', city: 'San Francisco', state: 'CA', postalCode: '94105', country: 'US' },
  { street1: '233 S Wacker Dr', city: 'Chicago', state: 'IL', postalCode: '60606', country: 'US' },
  { street1: '4 Yawkey Way', city: 'Boston', state: 'MA', postalCode: '02215', country: 'US' },
  { street1: '700 SW 5th Ave', city: 'Portland', state: 'OR', postalCode: '97204', country: 'US' },
] as const;
const CARRIERS = [
  { carrierCode: 'stamps_com', serviceCode: 'usps_priority_mail', requested: 'Priority Mail' },
  { carrierCode: 'stamps_com', serviceCode: 'usps_first_class_mail', requested: 'First Class' },
  { carrierCode: 'ups_walleted', serviceCode: 'ups_ground', requested: 'UPS Ground' },
  { carrierCode: 'fedex', serviceCode: 'fedex_2day', requested: 'FedEx 2Day' },
] as const;
const MARKETPLACES = [
  { marketplaceId: 0, marketplaceName: 'ShipStation', storeName: 'ShipStation Manual Store' },
  { marketplaceId: 26, marketplaceName: 'Shopify', storeName: 'Acme Shopify' },
  { marketplaceId: 2, marketplaceName: 'Amazon', storeName: 'Acme on Amazon' },
  { marketplaceId: 36, marketplaceName: 'WooCommerce', storeName: 'Acme Woo' },
] as const;

const round2 = (n: number) => Math.round(n * 100) / 100;

export interface GenerateOptions {
  seed?: number;
  orders?: number;
  products?: number;
  customers?: number;
  stores?: number;
  warehouses?: number;
  /** Orders are created between these instants (UTC ISO); `to` is the data set's "now": no generated order is modified after it (planted DST records aside). */
  from?: string;
  to?: string;
  /** Records created/modified inside the 2024 DST transitions (default true). */
  dst?: boolean;
}

/** Ids of the records planted inside DST transitions, with the story of each (tests assert on them). */
export interface DstRecords {
  orders: { orderId: number; note: string }[];
  shipments: number[];
  fulfillments: number[];
}

/**
 * Seeded generator of a realistic ShipStation account: stores, warehouses, products, customers, orders
 * (items, addresses, amounts, statuses), shipments for shipped orders and fulfillments for orders
 * fulfilled outside ShipStation. Ids grow with creation time, as ShipStation's do.
 */
export class ShipStationGenerator {
  readonly rng: Rng;
  readonly store: ShipStationStore;

  constructor(store: ShipStationStore, seed = 1) {
    this.store = store;
    this.rng = new Rng(seed);
  }

  private person() {
    const first = this.rng.pick(FIRST_NAMES);
    const last = this.rng.pick(LAST_NAMES);
    return { name: `${first} ${last}`, email: `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, '') + `${this.rng.int(1, 999)}@example.com` };
  }

  private address(name: string, international = false) {
    const us = this.rng.pick(US_ADDRESSES);
    const intl = this.rng.pick(CITIES);
    const a = international
      ? { street1: `${this.rng.int(1, 200)} Hauptstrasse`, city: intl.city, state: null, postalCode: intl.postalCode, country: intl.country }
      : { ...us };
    return {
      name,
      company: this.rng.bool(0.2) ? 'Acme Corp' : null,
      street1: a.street1,
      street2: this.rng.bool(0.3) ? `Apt ${this.rng.int(1, 40)}` : '',
      street3: null,
      city: a.city,
      state: a.state,
      postalCode: a.postalCode,
      country: a.country,
      phone: this.rng.bool(0.7) ? `555-${String(this.rng.int(100, 999))}-${String(this.rng.int(1000, 9999))}` : null,
      residential: this.rng.bool(0.8),
      addressVerified: this.rng.pick(['Address validated successfully', 'Address not yet validated', 'Address validation warning']),
    };
  }

  store_(createMs: number, i: number): StoredRecord {
    const m = MARKETPLACES[i % MARKETPLACES.length]!;
    return this.store.insert('stores', {
      storeId: this.store.nextId('stores'),
      storeName: m.storeName,
      marketplaceId: m.marketplaceId,
      marketplaceName: m.marketplaceName,
      accountName: null,
      email: m.marketplaceId === 0 ? null : 'ops@example.com',
      integrationUrl: m.marketplaceId === 26 ? 'https://acme.myshopify.com' : null,
      active: i !== 3,
      companyName: 'Acme',
      phone: '',
      publicEmail: '',
      website: '',
      refreshDate: new Stamp(createMs + 90 * DAY, 'trim'),
      lastRefreshAttempt: new Stamp(createMs + 90 * DAY + 42_123, 'trim'),
      createDate: new Stamp(createMs, 'trim'),
      modifyDate: new Stamp(createMs + 30 * DAY + 550, 'trim'),
      autoRefresh: m.marketplaceId !== 0,
      statusMappings: null,
    });
  }

  warehouse(createMs: number, i: number): StoredRecord {
    const origin = { ...this.address('Acme Fulfillment', false), company: 'Acme', residential: false };
    return this.store.insert('warehouses', {
      warehouseId: this.store.nextId('warehouses'),
      warehouseName: i === 0 ? 'Main Warehouse' : `Overflow ${i}`,
      originAddress: origin,
      returnAddress: origin,
      createDate: new Stamp(createMs),
      isDefault: i === 0,
    });
  }

  product(createMs: number, i: number): StoredRecord {
    const base = PRODUCTS[i % PRODUCTS.length]!;
    const variant = Math.floor(i / PRODUCTS.length);
    return this.store.insert('products', {
      aliases: null,
      productId: this.store.nextId('products'),
      sku: variant ? `${base.sku}-V${variant}` : base.sku,
      name: variant ? `${base.name} v${variant}` : base.name,
      price: base.cents / 100,
      defaultCost: this.rng.bool(0.5) ? round2(base.cents / 250) : null,
      length: this.rng.int(2, 20),
      width: this.rng.int(2, 14),
      height: this.rng.int(1, 8),
      weightOz: this.rng.int(2, 40),
      internalNotes: null,
      fulfillmentSku: this.rng.bool(0.3) ? `F-${base.sku}` : null,
      createDate: new Stamp(createMs),
      modifyDate: new Stamp(createMs + this.rng.int(0, 60) * DAY),
      active: this.rng.bool(0.9),
      productCategory: this.rng.bool(0.5) ? { categoryId: 1001, name: 'Apparel' } : null,
      productType: null,
      warehouseLocation: `Aisle ${this.rng.int(1, 12)}, Bin ${this.rng.int(1, 40)}`,
      defaultCarrierCode: null,
      defaultServiceCode: null,
      defaultPackageCode: null,
      defaultIntlCarrierCode: null,
      defaultIntlServiceCode: null,
      defaultIntlPackageCode: null,
      defaultConfirmation: null,
      defaultIntlConfirmation: null,
      customsDescription: null,
      customsValue: null,
      customsTariffNo: null,
      customsCountryCode: null,
      noCustoms: null,
      tags: this.rng.bool(0.2) ? [{ tagId: 9001, name: 'Bestseller' }] : null,
    });
  }

  customer(createMs: number): StoredRecord {
    const p = this.person();
    const a = this.address(p.name);
    const id = this.store.nextId('customers');
    const created = new Stamp(createMs);
    return this.store.insert('customers', {
      customerId: id,
      createDate: created,
      modifyDate: new Stamp(createMs + this.rng.int(0, 90) * DAY + this.rng.int(0, 86_399_999)),
      name: p.name,
      company: a.company,
      street1: a.street1,
      street2: a.street2,
      city: a.city,
      state: a.state,
      postalCode: a.postalCode,
      countryCode: a.country,
      phone: a.phone,
      email: p.email,
      addressVerified: this.rng.pick(['Verified', 'Unverified', 'Warning']),
      marketplaceUsernames: [
        { customerUserId: id + 7_000_000, customerId: id, createDate: created, modifyDate: created, marketplaceId: 0, marketplace: 'ShipStation', username: p.email },
      ],
      tags: this.rng.bool(0.15) ? [{ tagId: 1234, name: 'Loyal Customer' }] : null,
    });
  }

  /** A realistic order created at `create` and last modified at `modify` (UTC ISO, ms, or Stamp). */
  order(create: StampInput, modify: StampInput = create, opts: { orderStatus?: string; orderDate?: Stamp } = {}): StoredRecord {
    const createS = toStamp(create);
    const modifyS = toStamp(modify);
    const products = this.store.list('products');
    const customers = this.store.list('customers');
    const stores = this.store.list('stores');
    const warehouses = this.store.list('warehouses');
    const customer = customers.length ? this.rng.pick(customers) : undefined;
    const name = (customer?.name as string | undefined) ?? this.person().name;
    const email = (customer?.email as string | undefined) ?? this.person().email;
    const status = opts.orderStatus ?? this.rng.pick([...ORDER_STATUSES, 'shipped', 'shipped', 'awaiting_shipment']);
    const orderId = this.store.nextId('orders');
    const nItems = this.rng.int(1, 4);
    const items = Array.from({ length: nItems }, (_, i) => {
      const product = products.length ? this.rng.pick(products) : undefined;
      const unitPrice = (product?.price as number | undefined) ?? round2(this.rng.int(500, 9900) / 100);
      return {
        orderItemId: orderId * 10 + i,
        lineItemKey: this.rng.uuid().slice(0, 12),
        sku: (product?.sku as string | undefined) ?? `SKU-${this.rng.int(100, 999)}`,
        name: (product?.name as string | undefined) ?? 'Widget',
        imageUrl: null,
        weight: { value: this.rng.int(2, 40), units: 'ounces', WeightUnits: 1 },
        quantity: this.rng.int(1, 3),
        unitPrice,
        taxAmount: null,
        shippingAmount: null,
        warehouseLocation: (product?.warehouseLocation as string | undefined) ?? null,
        options: this.rng.bool(0.2) ? [{ name: 'Gift wrap', value: 'Yes' }] : [],
        productId: (product?.productId as number | undefined) ?? null,
        fulfillmentSku: null,
        adjustment: false,
        upc: null,
        createDate: new Stamp(createS.utcMs, 'trim'),
        modifyDate: new Stamp(createS.utcMs, 'trim'),
      };
    });
    const subtotal = round2(items.reduce((s, it) => s + it.unitPrice * it.quantity, 0));
    const shippingAmount = this.rng.pick([0, 4.99, 7.5, 12]);
    const taxAmount = round2(subtotal * 0.0825);
    const orderTotal = round2(subtotal + shippingAmount + taxAmount);
    const paid = status !== 'awaiting_payment' && status !== 'cancelled';
    const carrier = this.rng.pick(CARRIERS);
    const shipped = status === 'shipped';
    const intl = this.rng.bool(0.1);
    const orderDate = opts.orderDate ?? new Stamp(createS.utcMs - this.rng.int(0, 3600) * 1000);
    const store = stores.length ? this.rng.pick(stores) : undefined;
    const warehouse = warehouses.length ? warehouses[0] : undefined;
    const order: StoredRecord = {
      orderId,
      orderNumber: String(orderId - 100_000_000 + 1000),
      orderKey: this.rng.uuid().replace(/-/g, ''),
      orderDate,
      createDate: createS,
      modifyDate: modifyS,
      paymentDate: paid ? new Stamp(orderDate.utcMs + 60_000) : null,
      shipByDate: new Stamp(Math.floor(createS.utcMs / DAY) * DAY + 3 * DAY + 8 * HOUR),
      orderStatus: status,
      customerId: (customer?.customerId as number | undefined) ?? null,
      customerUsername: email,
      customerEmail: email,
      billTo: { name, company: null, street1: null, street2: null, street3: null, city: null, state: null, postalCode: null, country: null, phone: null, residential: null, addressVerified: null },
      shipTo: this.address(name, intl),
      items,
      orderTotal,
      amountPaid: paid ? orderTotal : 0,
      taxAmount,
      shippingAmount,
      customerNotes: this.rng.bool(0.15) ? 'Please leave at the back door' : null,
      internalNotes: null,
      gift: this.rng.bool(0.05),
      giftMessage: null,
      paymentMethod: paid ? this.rng.pick(['Credit Card', 'PayPal', 'Shop Pay']) : null,
      requestedShippingService: carrier.requested,
      carrierCode: shipped ? carrier.carrierCode : null,
      serviceCode: shipped ? carrier.serviceCode : null,
      packageCode: shipped ? 'package' : null,
      confirmation: 'none',
      shipDate: shipped ? new Stamp(modifyS.utcMs, 'date') : null,
      holdUntilDate: status === 'on_hold' ? new Stamp(createS.utcMs + 7 * DAY, 'date') : null,
      weight: { value: items.reduce((s, it) => s + it.weight.value * it.quantity, 0), units: 'ounces', WeightUnits: 1 },
      dimensions: null,
      insuranceOptions: { provider: null, insureShipment: false, insuredValue: 0 },
      internationalOptions: { contents: intl ? 'merchandise' : null, customsItems: null, nonDelivery: intl ? 'return_to_sender' : null },
      advancedOptions: {
        warehouseId: (warehouse?.warehouseId as number | undefined) ?? null,
        nonMachinable: false,
        saturdayDelivery: false,
        containsAlcohol: false,
        mergedOrSplit: false,
        mergedIds: [],
        parentId: null,
        storeId: (store?.storeId as number | undefined) ?? null,
        customField1: null,
        customField2: null,
        customField3: null,
        source: (store?.marketplaceName as string | undefined) ?? 'ShipStation',
        billToParty: null,
        billToAccount: null,
        billToPostalCode: null,
        billToCountryCode: null,
        billToMyOtherAccount: null,
      },
      tagIds: null,
      userId: null,
      externallyFulfilled: status === 'pending_fulfillment' ? false : this.rng.bool(0.1) && shipped,
      externallyFulfilledBy: null,
      labelMessages: null,
    };
    return this.store.insert('orders', order);
  }

  shipment(order: StoredRecord, create: StampInput): StoredRecord {
    const createS = toStamp(create);
    return this.store.insert('shipments', {
      shipmentId: this.store.nextId('shipments'),
      orderId: order.orderId,
      orderKey: order.orderKey,
      userId: 'b3b1f6c4-6d1e-4a5e-9c8e-2f8a3d3d8f10',
      customerEmail: order.customerEmail,
      orderNumber: order.orderNumber,
      createDate: createS,
      shipDate: new Stamp(createS.utcMs, 'date'),
      shipmentCost: round2(this.rng.int(350, 2400) / 100),
      insuranceCost: 0,
      trackingNumber: `9400${this.rng.int(10_000_000, 99_999_999)}${this.rng.int(1_000_000, 9_999_999)}`,
      isReturnLabel: false,
      batchNumber: this.rng.bool(0.3) ? String(this.rng.int(100_000, 999_999)) : null,
      carrierCode: order.carrierCode ?? 'stamps_com',
      serviceCode: order.serviceCode ?? 'usps_priority_mail',
      packageCode: 'package',
      confirmation: 'none',
      warehouseId: (order.advancedOptions as { warehouseId: number | null }).warehouseId,
      voided: false,
      voidDate: null,
      marketplaceNotified: true,
      notifyErrorMessage: null,
      shipTo: order.shipTo,
      weight: order.weight,
      dimensions: null,
      insuranceOptions: { provider: null, insureShipment: false, insuredValue: 0 },
      advancedOptions: null,
      shipmentItems: null,
      labelData: null,
      formData: null,
    });
  }

  fulfillment(order: StoredRecord, create: StampInput): StoredRecord {
    const createS = toStamp(create);
    return this.store.insert('fulfillments', {
      fulfillmentId: this.store.nextId('fulfillments'),
      orderId: order.orderId,
      orderNumber: order.orderNumber,
      userId: 'b3b1f6c4-6d1e-4a5e-9c8e-2f8a3d3d8f10',
      customerEmail: order.customerEmail,
      trackingNumber: `1Z${this.rng.uuid().replace(/-/g, '').slice(0, 16).toUpperCase()}`,
      createDate: createS,
      shipDate: new Stamp(createS.utcMs - 2 * HOUR),
      voidDate: null,
      deliveryDate: this.rng.bool(0.5) ? new Stamp(createS.utcMs + 3 * DAY) : null,
      carrierCode: this.rng.pick(['UPS', 'USPS', 'FedEx']),
      fulfillmentProviderCode: this.rng.bool(0.5) ? 'amazon_fba' : null,
      fulfillmentServiceCode: null,
      fulfillmentFee: round2(this.rng.int(0, 500) / 100),
      voidRequested: false,
      voided: false,
      marketplaceNotified: true,
      notifyErrorMessage: null,
      shipTo: order.shipTo,
    });
  }

  /** Fills the store. Returns the records planted inside DST transitions. */
  generate(opts: GenerateOptions = {}): DstRecords {
    const from = Date.parse(opts.from ?? '2024-01-01T08:00:00Z');
    const to = Date.parse(opts.to ?? '2024-12-20T08:00:00Z');
    const span = to - from;
    const ms = () => this.rng.int(0, 999);
    for (let i = 0; i < (opts.stores ?? 3); i++) this.store_(from - (400 - i * 30) * DAY + i * 1_234_567, i);
    for (let i = 0; i < (opts.warehouses ?? 2); i++) this.warehouse(from - (380 - i * 40) * DAY + i * 7_654_321 + 487, i);
    const productTimes = Array.from({ length: opts.products ?? 40 }, () => from - 200 * DAY + this.rng.int(0, 400) * DAY / 2 + this.rng.int(0, 86_399) * 1000 + ms()).sort((a, b) => a - b);
    productTimes.forEach((t, i) => this.product(t, i));
    const customerTimes = Array.from({ length: opts.customers ?? 300 }, () => from + Math.floor(this.rng.next() * span) + ms()).sort((a, b) => a - b);
    const dstCustomerTimes = opts.dst === false ? [] : ['2024-11-03T08:25:00.250Z', '2024-11-03T09:25:00.250Z', '2024-03-10T09:59:59.993Z', '2024-03-10T10:00:00.003Z'].map(Date.parse);
    [...customerTimes, ...dstCustomerTimes].sort((a, b) => a - b).forEach((t) => this.customer(t));

    const plain = Array.from({ length: opts.orders ?? 1200 }, () => from + Math.floor(this.rng.next() * span) + ms());
    type Plan = { create: number; modify?: number; note?: string; orderDate?: Stamp; shipAt?: number; fulfilAt?: number };
    const plans: Plan[] = plain.map((create) => ({ create }));
    const dst: DstRecords = { orders: [], shipments: [], fulfillments: [] };
    if (opts.dst !== false) {
      const t = Date.parse;
      plans.push(
        // Fall back, 2024-11-03: 01:00-02:00 happens twice (PDT 08:00-09:00Z, then PST 09:00-10:00Z).
        { create: t('2024-11-03T08:20:00.123Z'), modify: t('2024-11-03T08:50:00.457Z'), note: 'created and modified in the first (PDT) 01:xx', shipAt: t('2024-11-03T08:40:00.500Z') },
        { create: t('2024-11-03T08:50:00.200Z'), modify: t('2024-11-03T09:10:00.300Z'), note: 'created 01:50 PDT, modified 01:10 PST (wall clock goes backwards)' },
        { create: t('2024-11-03T09:15:00.010Z'), modify: t('2024-11-03T09:45:00.020Z'), note: 'created and modified in the second (PST) 01:xx', shipAt: t('2024-11-03T09:40:00.000Z'), fulfilAt: t('2024-11-03T09:20:00.000Z') },
        { create: t('2024-11-03T07:59:59.990Z'), modify: t('2024-11-03T10:00:00.000Z'), note: 'created 00:59:59.99 PDT, modified 02:00:00 PST' },
        { create: t('2024-11-03T08:59:59.997Z'), modify: t('2024-11-03T09:00:00.003Z'), note: 'created 01:59:59.997 PDT, modified 01:00:00.003 PST' },
        // Spring forward, 2024-03-10: 02:00-03:00 does not exist (PST 09:59:59 → PDT 10:00:00Z).
        { create: t('2024-03-10T09:59:59.500Z'), modify: t('2024-03-10T10:00:00.500Z'), note: 'created 01:59:59.5 PST, modified 03:00:00.5 PDT', orderDate: Stamp.local('2024-03-10T02:30:00.0000000'), fulfilAt: t('2024-03-10T10:00:01.000Z') },
        { create: t('2024-03-10T10:30:00.000Z'), modify: t('2024-03-10T10:30:00.000Z'), note: 'created 03:30 PDT; client-supplied orderDate 02:15 lies in the gap', orderDate: Stamp.local('2024-03-10T02:15:00.0000000') },
      );
    }
    plans.sort((a, b) => a.create - b.create);
    for (const plan of plans) {
      const modify = plan.modify ?? (this.rng.bool(0.3) ? plan.create : plan.create + Math.floor(this.rng.next() * Math.max(0, Math.min(to, plan.create + 20 * DAY) - plan.create)));
      const status = plan.note ? (plan.shipAt ? 'shipped' : 'awaiting_shipment') : undefined;
      const order = this.order(plan.create, modify, { orderStatus: status, orderDate: plan.orderDate });
      if (plan.note) dst.orders.push({ orderId: order.orderId as number, note: plan.note });
      if (plan.shipAt) dst.shipments.push(this.shipment(order, plan.shipAt).shipmentId as number);
      if (plan.fulfilAt) dst.fulfillments.push(this.fulfillment(order, plan.fulfilAt).fulfillmentId as number);
      if (!plan.note && order.orderStatus === 'shipped') {
        const at = Math.min(modify, plan.create + this.rng.int(30, 3 * 24 * 60) * 60_000 + ms());
        if (order.externallyFulfilled) this.fulfillment(order, at);
        else {
          this.shipment(order, at);
          if (this.rng.bool(0.05)) this.shipment(order, at + this.rng.int(1, 120) * 60_000);
        }
      }
    }
    // Shipments and fulfillments get ids in creation order, like orders.
    for (const kind of ['shipments', 'fulfillments'] as const) {
      const list = this.store.list(kind).sort((a, b) => (a.createDate as Stamp).utcMs - (b.createDate as Stamp).utcMs);
      const oldIds = list.map((r) => r[kind === 'shipments' ? 'shipmentId' : 'fulfillmentId'] as number);
      const sortedIds = [...oldIds].sort((a, b) => a - b);
      const remap = new Map(oldIds.map((id, i) => [id, sortedIds[i]!]));
      this.store.data[kind].clear();
      const pk = kind === 'shipments' ? 'shipmentId' : 'fulfillmentId';
      for (const r of list) this.store.data[kind].set(remap.get(r[pk] as number)!, { ...r, [pk]: remap.get(r[pk] as number)! });
      dst[kind] = dst[kind].map((id) => remap.get(id)!);
    }
    return dst;
  }
}
