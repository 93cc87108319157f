import { Rng } from '../common/random';
import { ENDPOINTS, generate, uuid, type Endpoint, type GenContext } from './generator';
import { compareParts, evaluate, lowerBound, POS_INF, PredicateError, toInstant, type Bound, type BoundPart, type Predicate, type Value } from './predicate';

/**
 * The emulator's mutable data. Per record only the indexed fields and a generator index are kept; the
 * document is built from the seed when served (plus any patch applied by an update). Sorted indexes on
 * the indexed fields (id, createdAt, lastModifiedAt, version) are built on first use and maintained on
 * single-record mutations, so key-set paging over a million records costs a binary search per page.
 */
export interface Entry {
  id: string;
  createdAt: number;
  lastModifiedAt: number;
  version: number;
  /** Generator index: the document body is generate(endpoint, n, ...). */
  n: number;
  /** Fields set by inserts/updates; override the generated body. */
  patch?: Record<string, unknown>;
}

export const INDEXED_FIELDS = new Set(['id', 'createdAt', 'lastModifiedAt', 'version']);
type SortSpec = { field: string; dir: 1 | -1 }[];

export interface QueryInput {
  where?: Predicate;
  sort: SortSpec;
  limit: number;
  offset: number;
  withTotal: boolean;
}

export interface QueryResult {
  results: Record<string, unknown>[];
  total?: number;
}

/** The message the API publishes when a resource of the endpoint is deleted (only these have one). */
export const DELETED_MESSAGES: Partial<Record<Endpoint, string>> = { orders: 'OrderDeleted', customers: 'CustomerDeleted', inventory: 'InventoryEntryDeleted' };
const MESSAGE_TYPE_IDS: Partial<Record<Endpoint, string>> = { orders: 'order', customers: 'customer', inventory: 'inventory-entry' };

const entryField = (e: Entry, f: string): string | number => (e as unknown as Record<string, string | number>)[f]!;

class Collection {
  readonly byId = new Map<string, Entry>();
  /** Sorted indexes by sort-spec key; null = must be rebuilt. */
  private readonly indexes = new Map<string, { spec: SortSpec; entries: Entry[] | null }>();
  nextN = 0;

  constructor(readonly endpoint: Endpoint) {}

  private static cmp(spec: SortSpec) {
    return (a: Entry, b: Entry): number => {
      for (const { field, dir } of spec) {
        const x = entryField(a, field);
        const y = entryField(b, field);
        if (x !== y) return (x < y ? -1 : 1) * dir;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    };
  }

  index(spec: SortSpec): Entry[] {
    const key = spec.map((s) => `${s.field}:${s.dir}`).join(',');
    let idx = this.indexes.get(key);
    if (!idx) this.indexes.set(key, (idx = { spec, entries: null }));
    if (!idx.entries) idx.entries = [...this.byId.values()].sort(Collection.cmp(spec));
    return idx.entries;
  }

  /** Position of `e` (by its current key values) in a sorted index. */
  private static locate(list: Entry[], e: Entry, cmp: (a: Entry, b: Entry) => number): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(list[mid]!, e) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Removes `e` from every built index (call before changing its indexed fields). */
  unindex(e: Entry): void {
    for (const idx of this.indexes.values()) {
      if (!idx.entries) continue;
      const i = Collection.locate(idx.entries, e, Collection.cmp(idx.spec));
      if (idx.entries[i] === e) idx.entries.splice(i, 1);
      else idx.entries = null;
    }
  }

  reindex(e: Entry): void {
    for (const idx of this.indexes.values()) {
      if (!idx.entries) continue;
      const cmp = Collection.cmp(idx.spec);
      idx.entries.splice(Collection.locate(idx.entries, e, cmp), 0, e);
    }
  }

  invalidate(): void {
    for (const idx of this.indexes.values()) idx.entries = null;
  }
}

export interface StoreOptions {
  seed: number;
  projectKey: string;
  clientId: string;
  counts: Partial<Record<Endpoint, number>>;
  /** Generated history spans [historyStart, historyEnd]. */
  historyStart?: string;
  historyEnd?: string;
  now?: () => number;
}

export const DEFAULT_COUNTS: Record<Endpoint, number> = {
  orders: 1500,
  carts: 600,
  customers: 800,
  payments: 1200,
  'product-projections': 300,
  categories: 40,
  'discount-codes': 60,
  inventory: 300,
};

export class Store {
  readonly collections = new Map<Endpoint, Collection>();
  readonly ctx: GenContext;
  private readonly rng: Rng;
  now: () => number;

  constructor(readonly options: StoreOptions) {
    this.rng = new Rng(options.seed);
    this.now = options.now ?? Date.now;
    this.ctx = {
      seed: options.seed,
      projectKey: options.projectKey,
      clientId: options.clientId,
      // References point into the initially generated records only, so a document never changes
      // because another collection grew (its version and lastModifiedAt would not say so).
      ref: (endpoint, n) => {
        const count = this.initialCounts.get(endpoint) ?? 0;
        return count === 0 ? undefined : this.idAt(endpoint, n % count);
      },
    };
    const start = Date.parse(options.historyStart ?? '2024-01-01T00:00:00.000Z');
    const end = Date.parse(options.historyEnd ?? '2025-06-30T23:59:59.999Z');
    for (const endpoint of ENDPOINTS) {
      const c = new Collection(endpoint);
      this.collections.set(endpoint, c);
      const count = options.counts[endpoint] ?? DEFAULT_COUNTS[endpoint];
      this.ids.set(endpoint, []);
      this.initialCounts.set(endpoint, count);
      for (let i = 0; i < count; i++) {
        const createdAt = start + Math.floor(this.rng.next() * (end - start));
        // Most records were modified some time after creation; a fifth were never modified; some were
        // touched in the same second by a batch job (ties on lastModifiedAt are real).
        let lm = this.rng.bool(0.2) ? createdAt : createdAt + Math.floor(this.rng.next() * Math.min(30 * 86_400_000, end - createdAt));
        if (this.rng.bool(0.05)) lm = Math.max(createdAt, Math.floor(lm / 3_600_000) * 3_600_000);
        this.add(endpoint, { id: uuid(this.rng), createdAt, lastModifiedAt: lm, version: lm === createdAt ? 1 : this.rng.int(2, 9), n: c.nextN++ });
      }
    }
  }

  private readonly ids = new Map<Endpoint, string[]>();
  private readonly initialCounts = new Map<Endpoint, number>();
  private idAt(endpoint: Endpoint, n: number): string | undefined {
    return this.ids.get(endpoint)![n];
  }

  private add(endpoint: Endpoint, e: Entry): void {
    const c = this.collections.get(endpoint)!;
    c.byId.set(e.id, e);
    this.ids.get(endpoint)![e.n] = e.id;
  }

  collection(endpoint: Endpoint): Collection {
    return this.collections.get(endpoint)!;
  }

  size(endpoint: Endpoint): number {
    return this.collection(endpoint).byId.size;
  }

  /** The document as the API serves it. */
  materialize(endpoint: Endpoint, e: Entry): Record<string, unknown> {
    const lm = new Date(e.lastModifiedAt).toISOString();
    const doc: Record<string, unknown> = { id: e.id, version: e.version, versionModifiedAt: lm };
    Object.assign(doc, generate(endpoint, e.n, e.createdAt, this.ctx));
    if (e.patch) Object.assign(doc, e.patch);
    doc.createdAt = new Date(e.createdAt).toISOString();
    doc.lastModifiedAt = lm;
    return doc;
  }

  get(endpoint: Endpoint, id: string): Record<string, unknown> | undefined {
    const e = this.collection(endpoint).byId.get(id);
    return e && this.materialize(endpoint, e);
  }

  /** Every document of a collection, sorted by id (the "source of truth" for comparisons). */
  all(endpoint: Endpoint): Record<string, unknown>[] {
    return [...this.collection(endpoint).byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((e) => this.materialize(endpoint, e));
  }

  ids_(endpoint: Endpoint): string[] {
    return [...this.collection(endpoint).byId.keys()].sort();
  }

  /** Inserts a new record (generated body, overridden by `doc`); createdAt = lastModifiedAt = `at` or now. */
  insert(endpoint: Endpoint, doc: Record<string, unknown> = {}, opts: { at?: string | number; id?: string } = {}): Record<string, unknown> {
    const c = this.collection(endpoint);
    const at = this.time(opts.at);
    const { id: _id, version: _v, createdAt: _c, lastModifiedAt: _l, ...patch } = doc;
    const e: Entry = { id: opts.id ?? (doc.id as string | undefined) ?? uuid(this.rng), createdAt: at, lastModifiedAt: at, version: 1, n: c.nextN++, patch: Object.keys(patch).length ? patch : undefined };
    if (c.byId.has(e.id)) throw new Error(`${endpoint} ${e.id} exists`);
    this.add(endpoint, e);
    c.reindex(e);
    return this.materialize(endpoint, e);
  }

  /**
   * Inserts `count` generated records in one go, all with the same createdAt/lastModifiedAt when `at`
   * is given (a bulk import). Indexes are rebuilt lazily once, not per record.
   */
  insertMany(endpoint: Endpoint, count: number, opts: { at?: string | number } = {}): string[] {
    const c = this.collection(endpoint);
    const at = this.time(opts.at);
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const e: Entry = { id: uuid(this.rng), createdAt: at, lastModifiedAt: at, version: 1, n: c.nextN++ };
      this.add(endpoint, e);
      out.push(e.id);
    }
    c.invalidate();
    return out;
  }

  /** Updates a record: merges `patch`, bumps version, sets lastModifiedAt to `at` or now. */
  update(endpoint: Endpoint, id: string, patch: Record<string, unknown> = {}, opts: { at?: string | number } = {}): Record<string, unknown> {
    const c = this.collection(endpoint);
    const e = c.byId.get(id);
    if (!e) throw new Error(`${endpoint} ${id} not found`);
    c.unindex(e);
    const { id: _i, version: _v, createdAt: _c, lastModifiedAt: _l, ...rest } = patch;
    e.patch = { ...e.patch, ...rest };
    e.version++;
    e.lastModifiedAt = this.time(opts.at);
    c.reindex(e);
    return this.materialize(endpoint, e);
  }

  /** Touches many records with one lastModifiedAt (a bulk update); indexes rebuilt lazily. */
  updateMany(endpoint: Endpoint, ids: readonly string[], opts: { at?: string | number; patch?: Record<string, unknown> } = {}): void {
    const c = this.collection(endpoint);
    const at = this.time(opts.at);
    for (const id of ids) {
      const e = c.byId.get(id);
      if (!e) throw new Error(`${endpoint} ${id} not found`);
      if (opts.patch) e.patch = { ...e.patch, ...opts.patch };
      e.version++;
      e.lastModifiedAt = at;
    }
    c.invalidate();
  }

  remove(endpoint: Endpoint, id: string): boolean {
    const c = this.collection(endpoint);
    const e = c.byId.get(id);
    if (!e) return false;
    const type = DELETED_MESSAGES[endpoint];
    const doc = type ? this.materialize(endpoint, e) : undefined;
    c.unindex(e);
    c.byId.delete(id);
    if (type && doc) this.recordDeleted(endpoint, type, e, doc);
    return true;
  }

  /**
   * Messages (`GET /{projectKey}/messages`): the ResourceDeleted family the API publishes when a resource is
   * deleted (OrderDeleted with the order, CustomerDeleted, InventoryEntryDeleted with sku and channel), in
   * the Message shape (id, version, sequenceNumber, resource reference, resourceVersion, type, createdAt).
   * Kept `messageRetentionDays` (the API's default: 15), as the project's message setting does.
   */
  readonly messages: Record<string, unknown>[] = [];
  messageRetentionDays = 15;

  private recordDeleted(endpoint: Endpoint, type: string, e: Entry, doc: Record<string, unknown>): void {
    const at = new Date(this.now()).toISOString();
    const typeId = MESSAGE_TYPE_IDS[endpoint]!;
    const payload: Record<string, unknown> =
      type === 'OrderDeleted' ? { order: doc } : type === 'InventoryEntryDeleted' ? { sku: doc.sku, ...(doc.supplyChannel ? { supplyChannel: doc.supplyChannel } : {}) } : {};
    this.messages.push({
      id: uuid(this.rng),
      version: 1,
      versionModifiedAt: at,
      sequenceNumber: e.version + 1,
      resource: { typeId, id: e.id },
      resourceVersion: e.version + 1,
      resourceUserProvidedIdentifiers: {
        ...(typeof doc.key === 'string' ? { key: doc.key } : {}),
        ...(typeof doc.orderNumber === 'string' ? { orderNumber: doc.orderNumber } : {}),
        ...(typeof doc.customerNumber === 'string' ? { customerNumber: doc.customerNumber } : {}),
        ...(typeof doc.sku === 'string' ? { sku: doc.sku } : {}),
      },
      type,
      ...payload,
      createdAt: at,
      lastModifiedAt: at,
    });
  }

  /** A query of the messages kept: filter (`type in (…)`, `createdAt >= …`, `resource.id = …`), sort, offset, limit. */
  queryMessages(q: QueryInput): QueryResult {
    const oldest = this.now() - this.messageRetentionDays * 86_400_000;
    const get = (m: Record<string, unknown>) => (f: string) => (f === 'resource.id' ? (m.resource as { id: string }).id : f === 'resource.typeId' ? (m.resource as { typeId: string }).typeId : m[f]);
    const kept = this.messages.filter((m) => Date.parse(String(m.createdAt)) >= oldest && (!q.where || evaluate(q.where, get(m))));
    const sort = q.sort.length ? q.sort : [{ field: 'id', dir: 1 as const }];
    kept.sort((a, b) => {
      for (const { field, dir } of sort) {
        const x = String(get(a)(field) ?? '');
        const y = String(get(b)(field) ?? '');
        if (x !== y) return (x < y ? -1 : 1) * dir;
      }
      return 0;
    });
    const results = kept.slice(q.offset, q.offset + q.limit);
    return q.withTotal ? { results, total: Math.min(kept.length, q.where ? 10_000 : kept.length) } : { results };
  }

  private time(at: string | number | undefined): number {
    if (at === undefined) return this.now();
    const ms = typeof at === 'number' ? at : Date.parse(at);
    if (!Number.isFinite(ms)) throw new Error(`invalid time ${String(at)}`);
    return ms;
  }

  /** Runs a list query: filter, sort, offset, limit (and total when asked). */
  query(endpoint: Endpoint, q: QueryInput): QueryResult {
    const c = this.collection(endpoint);
    const indexed = q.sort.every((s) => INDEXED_FIELDS.has(s.field));
    let list: Entry[];
    let start = 0;
    if (indexed) {
      list = q.sort.length ? c.index(q.sort) : [...c.byId.values()];
      const first = q.sort[0];
      if (first?.dir === 1 && q.where) {
        const second = q.sort[1]?.dir === 1 ? q.sort[1].field : undefined;
        const bound = lowerBound(q.where, first.field, second, normalize);
        if (bound) start = seek(list, bound, first.field, second);
      }
    } else {
      // Sorting on a document field: materialize everything (fine for the small collections it is used on).
      const docs = [...c.byId.values()].map((e) => ({ e, d: this.materialize(endpoint, e) }));
      docs.sort((a, b) => {
        for (const { field, dir } of q.sort) {
          const x = (INDEXED_FIELDS.has(field) ? entryField(a.e, field) : a.d[field]) as any;
          const y = (INDEXED_FIELDS.has(field) ? entryField(b.e, field) : b.d[field]) as any;
          if (x === y) continue;
          if (x === undefined || x === null) return 1;
          if (y === undefined || y === null) return -1;
          return (x < y ? -1 : 1) * dir;
        }
        return a.e.id < b.e.id ? -1 : 1;
      });
      list = docs.map((x) => x.e);
    }
    const matches = (e: Entry): boolean => {
      if (!q.where) return true;
      let doc: Record<string, unknown> | undefined;
      return evaluate(q.where, (f) => (INDEXED_FIELDS.has(f) ? entryField(e, f) : (doc ??= this.materialize(endpoint, e))[f]));
    };
    const results: Record<string, unknown>[] = [];
    let skipped = 0;
    let i = start;
    for (; i < list.length && results.length < q.limit; i++) {
      const e = list[i]!;
      if (!matches(e)) continue;
      if (skipped < q.offset) {
        skipped++;
        continue;
      }
      results.push(this.materialize(endpoint, e));
    }
    if (!q.withTotal) return { results };
    if (!q.where) return { results, total: c.byId.size };
    // With a predicate the total is an estimate capped at 10000 (as documented).
    let total = skipped + results.length;
    for (; i < list.length && total < 10_000; i++) if (matches(list[i]!)) total++;
    return { results, total };
  }
}

function normalize(field: string, v: Value): BoundPart {
  if (field === 'createdAt' || field === 'lastModifiedAt') return toInstant(field, v);
  if (field === 'version') {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new PredicateError(`'${String(v)}' is not a valid number for 'version'.`);
    return n;
  }
  return String(v);
}

/** First position whose (k1, k2) key is >= bound (entries are sorted by k1 asc, then k2 asc or id). */
function seek(list: Entry[], bound: Bound, k1: string, k2: string | undefined): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = list[mid]!;
    const c1 = compareParts(entryField(e, k1), bound[0]);
    const c = c1 !== 0 ? c1 : k2 ? compareParts(entryField(e, k2), bound[1]) : bound[1] === POS_INF ? -1 : 0;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
