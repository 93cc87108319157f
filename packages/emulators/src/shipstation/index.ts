import { Router, parseBasicAuth, startServer, type EmulatorRequest, type EmulatorResponse, type EmulatorServer } from '../common/http';
import { ShipStationGenerator, type DstRecords, type GenerateOptions } from './generator';
import { ShipStationStore, type Kind, type StoredRecord } from './store';
import { Stamp, filterKey, renderDeep } from './time';

export { ShipStationStore, ShipStationGenerator, Stamp };
export type { DstRecords, Kind };

export const DEMO_API_KEY = 'ss-demo-key-0f3a9c';
export const DEMO_API_SECRET = 'ss-demo-secret-7d21be';
/** A key pair that authenticates but whose plan has no API access. */
export const NO_API_KEY = 'ss-starter-key-11aa';
export const NO_API_SECRET = 'ss-starter-secret-22bb';

export interface RateLimitKnobs {
  /** Requests per window per key pair (ShipStation: 40). */
  limit: number;
  /** Window length in ms (ShipStation: 60 s). The window starts with the first request after the previous one ended. */
  windowMs: number;
  /** How `X-Rate-Limit-Reset` rounds the seconds left: up (default) or down. */
  resetRounding: 'ceil' | 'floor';
}

export interface ShipStationOptions extends GenerateOptions {
  port?: number;
  apiKey?: string;
  apiSecret?: string;
  /** Status for the key pair whose plan lacks API access: 402 or 403 (ShipStation's behaviour is unconfirmed). */
  noApiStatus?: 402 | 403;
  rateLimit?: Partial<RateLimitKnobs>;
  /** Answer paged lists in storage order whatever their `sortBy` (see ShipStationEmulator.ignoreSort). */
  ignoreSort?: boolean;
  [knob: string]: unknown;
}

export interface ShipStationEmulator extends EmulatorServer {
  store: ShipStationStore;
  generator: ShipStationGenerator;
  dst: DstRecords;
  credentials: { apiKey: string; apiSecret: string };
  noApiCredentials: { apiKey: string; apiSecret: string };
  noApiStatus: 402 | 403;
  /** Mutable at run time. */
  rateLimit: RateLimitKnobs;
  /**
   * Misbehaviour switch, mutable at run time: paged lists accept `sortBy` but return records in storage
   * order (filters still apply), as a broken API version or proxy would. The connector must fail loudly.
   */
  ignoreSort: boolean;
  /** 429s served so far. */
  throttled(): number;
  /** Requests served with 2xx. */
  served(): number;
  /** Rate-limit windows of the demo key pair so far: when each started and how many requests it admitted. */
  windows(): { start: number; end: number; count: number }[];
  /** Spends budget of the demo key pair as another application sharing it would. */
  consume(n: number): void;
  /** Forgets the rate-limit windows (tests that change the knobs). */
  resetRateLimit(): void;
}

const AUTH_FAILED = 'Authentication failed or user does not have permissions';

type SortSpec = Record<string, string>;
const ORDER_SORTS: SortSpec = { OrderDate: 'orderDate', ModifyDate: 'modifyDate', CreateDate: 'createDate' };
const SHIPMENT_SORTS: SortSpec = { ShipDate: 'shipDate', CreateDate: 'createDate' };
const CATALOG_SORTS: SortSpec = { SKU: 'sku', Name: 'name', ModifyDate: 'modifyDate', CreateDate: 'createDate' };

interface ListSpec {
  kind: Kind;
  sorts: SortSpec;
  /** Date filters: query parameter prefix → field (`createDate` → createDateStart/createDateEnd). */
  dateFilters: string[];
  /** Equality filters: query parameter → function of the record. */
  equals?: Record<string, (r: StoredRecord) => unknown>;
}

const LISTS: Record<string, ListSpec> = {
  '/orders': {
    kind: 'orders',
    sorts: ORDER_SORTS,
    dateFilters: ['createDate', 'modifyDate', 'orderDate'],
    equals: {
      orderStatus: (r) => r.orderStatus,
      storeId: (r) => (r.advancedOptions as { storeId?: unknown } | undefined)?.storeId,
      orderNumber: (r) => r.orderNumber,
      customerName: (r) => (r.shipTo as { name?: unknown } | undefined)?.name,
    },
  },
  '/shipments': { kind: 'shipments', sorts: SHIPMENT_SORTS, dateFilters: ['createDate', 'shipDate', 'voidDate'], equals: { orderId: (r) => r.orderId, trackingNumber: (r) => r.trackingNumber } },
  '/fulfillments': { kind: 'fulfillments', sorts: SHIPMENT_SORTS, dateFilters: ['createDate', 'shipDate'], equals: { orderId: (r) => r.orderId, trackingNumber: (r) => r.trackingNumber } },
  '/products': { kind: 'products', sorts: CATALOG_SORTS, dateFilters: [], equals: { sku: (r) => r.sku, name: (r) => r.name } },
  '/customers': { kind: 'customers', sorts: CATALOG_SORTS, dateFilters: [], equals: { stateCode: (r) => r.state, countryCode: (r) => r.countryCode } },
};

/** Rendered records, cached by identity (updates replace the stored object, so a cached rendering is never stale). */
const renderedCache = new WeakMap<object, unknown>();
const render = (r: StoredRecord): unknown => {
  let out = renderedCache.get(r);
  if (out === undefined) renderedCache.set(r, (out = renderDeep(r)));
  return out;
};

const sortValue = (v: unknown): string | number => (v instanceof Stamp ? v.wallKey() : typeof v === 'number' ? v : v == null ? '' : String(v).toLowerCase());

/** ShipStation's 400 body for an invalid request (ASP.NET Web API model state). */
const invalid = (param: string, message: string): EmulatorResponse => ({
  status: 400,
  body: { Message: 'The request is invalid.', ModelState: { [param]: [message] } },
});

function listHandler(spec: ListSpec, store: ShipStationStore, ignoreSort: () => boolean) {
  return (req: EmulatorRequest): EmulatorResponse => {
    const q = req.query;
    const page = q.has('page') ? Number(q.get('page')) : 1;
    const pageSizeRaw = q.has('pageSize') ? Number(q.get('pageSize')) : 100;
    if (!Number.isInteger(page) || page < 1) return invalid('page', `The value '${q.get('page')}' is not valid for page.`);
    if (!Number.isInteger(pageSizeRaw) || pageSizeRaw < 1) return invalid('pageSize', `The value '${q.get('pageSize')}' is not valid for pageSize.`);
    const pageSize = Math.min(500, pageSizeRaw);
    let records = store.list(spec.kind);

    for (const field of spec.dateFilters) {
      for (const [suffix, keep] of [
        ['Start', (a: string, b: string) => a >= b],
        ['End', (a: string, b: string) => a <= b],
      ] as const) {
        const raw = q.get(field + suffix);
        if (raw === null || raw === '') continue;
        const key = filterKey(raw);
        if (!key) return invalid(field + suffix, `The value '${raw}' is not valid for ${field + suffix}.`);
        records = records.filter((r) => {
          const v = r[field];
          if (!(v instanceof Stamp)) return false;
          // Date-only fields compare by day.
          const wall = v.style === 'date' ? `${v.wallKey().slice(0, 10)} 00:00:00.000` : v.wallKey();
          return keep(wall, key);
        });
      }
    }
    for (const [param, get] of Object.entries(spec.equals ?? {})) {
      const raw = q.get(param);
      if (raw === null || raw === '') continue;
      records = records.filter((r) => String(get(r) ?? '').toLowerCase() === raw.toLowerCase());
    }

    const sortBy = q.get('sortBy');
    const sortDir = (q.get('sortDir') ?? 'ASC').toUpperCase();
    if (sortDir !== 'ASC' && sortDir !== 'DESC') return invalid('sortDir', `The value '${q.get('sortDir')}' is not valid for sortDir.`);
    const pk = { orders: 'orderId', shipments: 'shipmentId', fulfillments: 'fulfillmentId', products: 'productId', customers: 'customerId', stores: 'storeId', warehouses: 'warehouseId' }[spec.kind];
    if (sortBy) {
      const field = Object.entries(spec.sorts).find(([name]) => name.toLowerCase() === sortBy.toLowerCase())?.[1];
      if (!field) return invalid('sortBy', `The value '${sortBy}' is not valid for sortBy. Valid values: ${Object.keys(spec.sorts).join(', ')}.`);
      const dir = sortDir === 'DESC' ? -1 : 1;
      if (!ignoreSort()) {
        records = records
          .map((r) => ({ r, k: sortValue(r[field]), id: r[pk] as number }))
          .sort((a, b) => (a.k < b.k ? -dir : a.k > b.k ? dir : (a.id - b.id) * dir))
          .map((x) => x.r);
      }
    } else if (sortDir === 'DESC') records = [...records].reverse();

    const total = records.length;
    const pages = Math.ceil(total / pageSize);
    const slice = records.slice((page - 1) * pageSize, page * pageSize);
    return { status: 200, body: { [spec.kind]: slice.map(render), total, page, pages } };
  };
}

export async function start(options: ShipStationOptions = {}): Promise<ShipStationEmulator> {
  const store = new ShipStationStore();
  const generator = new ShipStationGenerator(store, options.seed ?? 1);
  const dst = generator.generate(options);
  // Warm the rendering cache (and the Stamps' wall-clock keys) so that page latency stays low.
  for (const kind of ['orders', 'shipments', 'fulfillments', 'products', 'customers'] as const) for (const r of store.list(kind)) {
    render(r);
    for (const f of ['createDate', 'modifyDate']) if (r[f] instanceof Stamp) (r[f] as Stamp).wallKey();
  }
  const credentials = { apiKey: options.apiKey ?? DEMO_API_KEY, apiSecret: options.apiSecret ?? DEMO_API_SECRET };
  const noApiCredentials = { apiKey: NO_API_KEY, apiSecret: NO_API_SECRET };
  const rateLimit: RateLimitKnobs = { limit: 40, windowMs: 60_000, resetRounding: 'ceil', ...options.rateLimit };
  const windows = new Map<string, { start: number; end: number; count: number }>();
  const history: { start: number; end: number; count: number }[] = [];
  let throttled = 0;
  let served = 0;

  const windowFor = (key: string, now: number) => {
    let w = windows.get(key);
    if (!w || now >= w.end) {
      w = { start: now, end: now + rateLimit.windowMs, count: 0 };
      windows.set(key, w);
      if (key === credentials.apiKey) history.push(w);
    }
    return w;
  };
  const resetSeconds = (w: { end: number }, now: number) => {
    const s = (w.end - now) / 1000;
    return Math.max(0, rateLimit.resetRounding === 'floor' ? Math.floor(s) : Math.ceil(s));
  };

  const router = new Router();
  const handler = (inner: (req: EmulatorRequest) => EmulatorResponse) => (req: EmulatorRequest): EmulatorResponse => {
    const auth = parseBasicAuth(req.headers.authorization);
    if (auth && auth.user === noApiCredentials.apiKey && auth.password === noApiCredentials.apiSecret) {
      const status = handle.noApiStatus;
      return {
        status,
        body: status === 402 ? { message: 'Payment Required: your subscription plan does not include API access.' } : { message: 'Access denied: API access is not available on your plan.' },
      };
    }
    if (!auth || auth.user !== credentials.apiKey || auth.password !== credentials.apiSecret) {
      return { status: 401, headers: { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Basic realm="ssapi.shipstation.com"' }, body: AUTH_FAILED };
    }
    const now = Date.now();
    const w = windowFor(auth.user, now);
    if (w.count >= rateLimit.limit) {
      throttled++;
      return {
        status: 429,
        headers: { 'X-Rate-Limit-Limit': rateLimit.limit, 'X-Rate-Limit-Remaining': 0, 'X-Rate-Limit-Reset': resetSeconds(w, now) },
        body: { message: 'Too Many Requests' },
      };
    }
    w.count++;
    const res = inner(req);
    if (res.status < 300) served++;
    return {
      ...res,
      headers: { ...res.headers, 'X-Rate-Limit-Limit': rateLimit.limit, 'X-Rate-Limit-Remaining': rateLimit.limit - w.count, 'X-Rate-Limit-Reset': resetSeconds(w, now) },
    };
  };

  for (const [path, spec] of Object.entries(LISTS)) router.get(path, handler(listHandler(spec, store, () => handle.ignoreSort)));
  router.get('/stores', handler((req) => {
    const showInactive = (req.query.get('showInactive') ?? 'false').toLowerCase() === 'true';
    const marketplaceId = req.query.get('marketplaceId');
    const stores = store.list('stores').filter((s) => (showInactive || s.active) && (marketplaceId === null || String(s.marketplaceId) === marketplaceId));
    return { status: 200, body: stores.map(renderDeep) };
  }));
  router.get('/warehouses', handler(() => ({ status: 200, body: store.list('warehouses').map(renderDeep) })));
  router.get('/orders/:orderId', handler((req) => {
    const o = store.get('orders', Number(req.params.orderId));
    return o ? { status: 200, body: renderDeep(o) } : { status: 404, body: { Message: `No HTTP resource was found that matches the request URI.` } };
  }));

  const server = await startServer(router, {
    port: options.port,
    notFound: (req) => ({ status: 404, body: { Message: `No HTTP resource was found that matches the request URI '${req.url.pathname}'.` } }),
  });
  const handle: ShipStationEmulator = Object.assign(server, {
    store,
    generator,
    dst,
    credentials,
    noApiCredentials,
    noApiStatus: options.noApiStatus ?? 402,
    rateLimit,
    ignoreSort: options.ignoreSort ?? false,
    throttled: () => throttled,
    windows: () => history.map((w) => ({ ...w })),
    served: () => served,
    consume(n: number) {
      windowFor(credentials.apiKey, Date.now()).count += n;
    },
    resetRateLimit() {
      windows.clear();
    },
  });
  return handle;
}

/** The connector `config:` block pointing at this emulator with the demo key pair. */
export function sourceConfig(handle: ShipStationEmulator): Record<string, unknown> {
  return { apiKey: handle.credentials.apiKey, apiSecret: handle.credentials.apiSecret, baseUrl: handle.url };
}
