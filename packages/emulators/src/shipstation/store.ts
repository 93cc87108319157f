import { Stamp, renderDeep, truthDeep } from './time';

export const KINDS = ['orders', 'shipments', 'fulfillments', 'products', 'customers', 'stores', 'warehouses'] as const;
export type Kind = (typeof KINDS)[number];

export const PRIMARY_KEY: Record<Kind, string> = {
  orders: 'orderId',
  shipments: 'shipmentId',
  fulfillments: 'fulfillmentId',
  products: 'productId',
  customers: 'customerId',
  stores: 'storeId',
  warehouses: 'warehouseId',
};

/** A stored record: vendor field names; timestamps are `Stamp`s (UTC truth, rendered as Pacific). */
export type StoredRecord = Record<string, unknown>;

export type StampInput = string | number | Stamp;

export const toStamp = (v: StampInput, style: Stamp['style'] = 'seven'): Stamp =>
  v instanceof Stamp ? v : typeof v === 'number' ? new Stamp(v, style) : Stamp.utc(v, style);

/**
 * The emulator's mutable data: one map per resource, keyed by primary key, in insertion order. Tests use
 * insert/update/delete to model activity between syncs, and `truth()` to compare with the warehouse.
 */
export class ShipStationStore {
  readonly data: Record<Kind, Map<number, StoredRecord>>;
  private nextIds: Record<Kind, number>;
  /** Wall clock used for modifyDate on updates (UTC ms); tests may pin it. */
  now: () => number = () => Date.now();

  constructor() {
    this.data = Object.fromEntries(KINDS.map((k) => [k, new Map()])) as Record<Kind, Map<number, StoredRecord>>;
    this.nextIds = { orders: 100_000_001, shipments: 200_000_001, fulfillments: 300_000_001, products: 40_000_001, customers: 50_000_001, stores: 60_001, warehouses: 70_001 };
  }

  nextId(kind: Kind): number {
    return this.nextIds[kind]++;
  }

  list(kind: Kind): StoredRecord[] {
    return [...this.data[kind].values()];
  }

  get(kind: Kind, id: number): StoredRecord | undefined {
    return this.data[kind].get(id);
  }

  count(kind: Kind): number {
    return this.data[kind].size;
  }

  /** Adds a record (assigning its primary key when absent) and returns it. */
  insert(kind: Kind, record: StoredRecord): StoredRecord {
    const pk = PRIMARY_KEY[kind];
    let id = record[pk] as number | undefined;
    if (id === undefined) {
      id = this.nextId(kind);
      record = { [pk]: id, ...record };
    } else if (id >= this.nextIds[kind]) this.nextIds[kind] = id + 1;
    this.data[kind].set(id, record);
    return record;
  }

  /**
   * Changes fields of a record; `modifyDate` (where the resource has one) moves to `at` (UTC ISO or ms),
   * default now. Stamp-valued fields may be given as UTC ISO strings via `stamps`.
   */
  update(kind: Kind, id: number, patch: StoredRecord = {}, opts: { at?: StampInput; stamps?: Record<string, StampInput> } = {}): StoredRecord {
    const current = this.data[kind].get(id);
    if (!current) throw new Error(`no ${kind} ${id}`);
    const next: StoredRecord = { ...current, ...patch };
    for (const [k, v] of Object.entries(opts.stamps ?? {})) next[k] = toStamp(v);
    if ('modifyDate' in current) next.modifyDate = toStamp(opts.at ?? this.now());
    this.data[kind].set(id, next);
    return next;
  }

  delete(kind: Kind, id: number): boolean {
    return this.data[kind].delete(id);
  }

  /** Records as the API renders them (Pacific strings). */
  rendered(kind: Kind): Record<string, unknown>[] {
    return this.list(kind).map((r) => renderDeep(r) as Record<string, unknown>);
  }

  /** Records with every timestamp as its true UTC ISO instant: the source of truth for tests. */
  truth(kind: Kind): Record<string, unknown>[] {
    return this.list(kind).map((r) => truthDeep(r) as Record<string, unknown>);
  }
}
