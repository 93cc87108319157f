import { Router, startServer, type EmulatorServer } from '../common/http';
import { Rng, FIRST_NAMES, LAST_NAMES, PRODUCTS } from '../common/random';
import type { EmulatorConformance } from '../common/conformance';

/**
 * A small storefront API used to demonstrate and test the engine without any vendor quirk: bearer
 * auth, `GET /v1/orders?updated_since=&sort=updated_at|id&page=&per_page=` with
 * `{data, page, total_pages}`. It is also the template `sluice new connector` starts from.
 */
export interface DemoOrder {
  id: number;
  number: string;
  customer_email: string;
  status: 'open' | 'paid' | 'shipped' | 'cancelled';
  total_cents: number;
  currency: string;
  items: { sku: string; quantity: number; price_cents: number }[];
  created_at: string;
  updated_at: string;
}

export interface DemoEmulator extends EmulatorServer {
  token: string;
  orders: Map<number, DemoOrder>;
  /** Creates an order now (or at `at`). */
  insert(at?: Date): DemoOrder;
  /** Changes an order's status and bumps `updated_at`. */
  update(id: number, at?: Date): DemoOrder;
  remove(id: number): void;
  /** Hooks for the conformance suite (@sluice/testing). */
  conformance: EmulatorConformance;
}

export async function start(options: { seed?: number; port?: number; orders?: number; token?: string } = {}): Promise<DemoEmulator> {
  const rng = new Rng(options.seed ?? 42);
  const token = options.token ?? 'demo-token';
  const orders = new Map<number, DemoOrder>();
  let nextId = 1;
  const base = Date.UTC(2024, 0, 1);
  const make = (at: Date): DemoOrder => {
    const items = Array.from({ length: rng.int(1, 3) }, () => {
      const p = rng.pick(PRODUCTS);
      return { sku: p.sku, quantity: rng.int(1, 3), price_cents: p.cents };
    });
    const id = nextId++;
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    return {
      id,
      number: `#${1000 + id}`,
      customer_email: `${first}.${last}${id}@example.com`.toLowerCase(),
      status: rng.pick(['open', 'paid', 'shipped'] as const),
      total_cents: items.reduce((s, i) => s + i.quantity * i.price_cents, 0),
      currency: 'EUR',
      items,
      created_at: at.toISOString(),
      updated_at: at.toISOString(),
    };
  };
  const count = options.orders ?? 250;
  for (let i = 0; i < count; i++) {
    const o = make(new Date(base + Math.floor((i / count) * 300 * 86_400_000)));
    orders.set(o.id, o);
  }

  const update = (id: number, at = new Date()) => {
    const o = orders.get(id);
    if (!o) throw new Error(`no order ${id}`);
    o.status = o.status === 'open' ? 'paid' : o.status === 'paid' ? 'shipped' : 'cancelled';
    o.updated_at = at.toISOString();
    return o;
  };
  const router = new Router().get('/v1/orders', (req) => {
    if (req.headers.authorization !== `Bearer ${token}`) return { status: 401, body: { error: 'invalid_token', message: 'The access token is invalid' } };
    const page = Number(req.query.get('page') ?? 1);
    const perPage = Math.min(Number(req.query.get('per_page') ?? 50), 200);
    const since = req.query.get('updated_since');
    const sort = req.query.get('sort') ?? 'updated_at';
    if (sort !== 'updated_at' && sort !== 'id') return { status: 400, body: { error: 'bad_request', message: 'sort must be updated_at or id' } };
    if (!Number.isInteger(page) || page < 1) return { status: 400, body: { error: 'bad_request', message: 'page must be a positive integer' } };
    const createdSince = req.query.get('created_since');
    const all = [...orders.values()].filter((o) => (!since || o.updated_at >= since) && (!createdSince || o.created_at >= createdSince)).sort((a, b) => (sort === 'id' ? a.id - b.id : a.updated_at.localeCompare(b.updated_at) || a.id - b.id));
    const totalPages = Math.max(1, Math.ceil(all.length / perPage));
    return { status: 200, body: { data: all.slice((page - 1) * perPage, page * perPage), page, per_page: perPage, total_pages: totalPages } };
  });
  const server = await startServer(router, { port: options.port });
  return Object.assign(server, {
    token,
    orders,
    insert(at = new Date()) {
      const o = make(at);
      orders.set(o.id, o);
      return o;
    },
    update,
    remove(id: number) {
      orders.delete(id);
    },
    conformance: {
      tables: ['orders'],
      count: () => orders.size,
      ids: () => [...orders.keys()].map(String),
      touch() {
        const now = new Date();
        const first = orders.keys().next().value;
        if (first !== undefined) update(first, now);
        const o = make(now);
        orders.set(o.id, o);
      },
      versions: () => Object.fromEntries([...orders.values()].map((o) => [String(o.id), o.updated_at])),
    },
  });
}

export function sourceConfig(handle: DemoEmulator): Record<string, unknown> {
  return { baseUrl: handle.url, token: handle.token };
}
