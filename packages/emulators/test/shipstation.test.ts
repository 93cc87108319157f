import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, sourceConfig, Stamp, type ShipStationEmulator } from '../src/shipstation/index';

const SEVEN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}$/;

function client(h: ShipStationEmulator, creds = h.credentials) {
  const authorization = 'Basic ' + Buffer.from(`${creds.apiKey}:${creds.apiSecret}`).toString('base64');
  return async (path: string, init: { auth?: string | null } = {}) => {
    const headers: Record<string, string> = {};
    if (init.auth !== null) headers.authorization = init.auth ?? authorization;
    const res = await fetch(h.url + path, { headers });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, text, body };
  };
}

describe('shipstation emulator', () => {
  let h: ShipStationEmulator;
  let get: ReturnType<typeof client>;
  beforeAll(async () => {
    h = await start({ seed: 11, rateLimit: { limit: 10_000 } });
    get = client(h);
  });
  afterAll(() => h.close());

  it('rejects missing and wrong Basic credentials with 401 and ShipStation’s message', async () => {
    const none = await get('/orders', { auth: null });
    expect(none.status).toBe(401);
    expect(none.text).toBe('Authentication failed or user does not have permissions');
    const wrong = await client(h, { apiKey: h.credentials.apiKey, apiSecret: 'nope' })('/orders');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('x-rate-limit-limit')).toBeNull();
  });

  it('answers 402 (or 403, by knob) to a key pair whose plan lacks API access', async () => {
    const noApi = client(h, h.noApiCredentials);
    expect((await noApi('/stores')).status).toBe(402);
    h.noApiStatus = 403;
    expect((await noApi('/orders')).status).toBe(403);
    h.noApiStatus = 402;
  });

  it('serves the orders envelope, pages of at most 500, 1-based, covering every order once', async () => {
    const first = await get('/orders?pageSize=1000&sortBy=CreateDate&sortDir=ASC');
    expect(first.status).toBe(200);
    expect(Object.keys(first.body).sort()).toEqual(['orders', 'page', 'pages', 'total']);
    expect(first.body.orders).toHaveLength(500);
    expect(first.body.total).toBe(h.store.count('orders'));
    expect(first.body.pages).toBe(Math.ceil(h.store.count('orders') / 500));
    const ids: number[] = [];
    for (let page = 1; page <= first.body.pages; page++) {
      const res = await get(`/orders?page=${page}&pageSize=500&sortBy=CreateDate&sortDir=ASC`);
      expect(res.body.page).toBe(page);
      ids.push(...res.body.orders.map((o: any) => o.orderId));
    }
    expect(new Set(ids).size).toBe(h.store.count('orders'));
    expect(ids.sort()).toEqual(h.store.list('orders').map((o) => o.orderId).sort());
    const past = await get(`/orders?page=${first.body.pages + 1}&pageSize=500`);
    expect(past.body.orders).toEqual([]);
  });

  it('renders Pacific wall-clock time with seven fractional digits and sorts by wall clock', async () => {
    const res = await get('/orders?pageSize=500&sortBy=ModifyDate&sortDir=ASC');
    for (const o of res.body.orders) {
      expect(o.createDate).toMatch(SEVEN);
      expect(o.modifyDate).toMatch(SEVEN);
    }
    const walls = res.body.orders.map((o: any) => o.modifyDate);
    expect([...walls].sort()).toEqual(walls);
    // 2024-11-03T09:10:00.300Z is 01:10:00.3 PST (second pass through the repeated hour).
    const backwards = h.dst.orders.find((d) => d.note.includes('wall clock goes backwards'))!;
    const one = await get(`/orders/${backwards.orderId}`);
    expect(one.body.createDate).toBe('2024-11-03T01:50:00.2000000');
    expect(one.body.modifyDate).toBe('2024-11-03T01:10:00.3000000');
    expect(one.body.items[0].createDate).toBe('2024-11-03T01:50:00.2');
  });

  it('plants records inside both 2024 DST transitions, including a client date in the spring-forward gap', () => {
    const truth = new Map(h.store.truth('orders').map((o) => [o.orderId, o]));
    const creates = h.dst.orders.map((d) => truth.get(d.orderId)!.createDate as string);
    expect(creates.filter((c) => c >= '2024-11-03T08:00:00Z' && c < '2024-11-03T10:00:00Z').length).toBeGreaterThanOrEqual(4);
    const gap = h.store.list('orders').filter((o) => (o.orderDate as Stamp).rawLocal?.startsWith('2024-03-10T02:'));
    expect(gap.length).toBe(2);
    expect(h.dst.shipments).toHaveLength(2);
    expect(h.dst.fulfillments).toHaveLength(2);
  });

  it('filters modifyDate/createDate by Pacific wall clock (yyyy-mm-dd hh:mm:ss, inclusive)', async () => {
    const res = await get('/orders?pageSize=500&modifyDateStart=2024-11-03%2001:00:00&modifyDateEnd=2024-11-03%2001:59:59');
    const ids = res.body.orders.map((o: any) => o.orderId).sort();
    const expected = h.store
      .list('orders')
      .filter((o) => {
        const k = (o.modifyDate as Stamp).wallKey();
        return k >= '2024-11-03 01:00:00.000' && k <= '2024-11-03 01:59:59.000';
      })
      .map((o) => o.orderId)
      .sort();
    expect(ids).toEqual(expected);
    // both passes through 01:xx: PDT and PST instants
    const utc = new Map(h.store.truth('orders').map((o) => [o.orderId, o.modifyDate as string]));
    expect(ids.some((id: number) => utc.get(id)! < '2024-11-03T09:00:00Z')).toBe(true);
    expect(ids.some((id: number) => utc.get(id)! >= '2024-11-03T09:00:00Z')).toBe(true);
    const created = await get('/shipments?pageSize=500&createDateStart=2024-11-03%2001:00:00&createDateEnd=2024-11-03%2002:00:00');
    expect(created.body.shipments.map((s: any) => s.shipmentId)).toEqual(expect.arrayContaining(h.dst.shipments));
    for (const s of created.body.shipments) expect(s.createDate >= '2024-11-03T01:00:00' && s.createDate <= '2024-11-03T02:00:00').toBe(true);
  });

  it('refuses invalid filters and sort fields with 400', async () => {
    expect((await get('/orders?modifyDateStart=yesterday')).status).toBe(400);
    expect((await get('/shipments?sortBy=ModifyDate')).status).toBe(400);
    expect((await get('/products?sortBy=OrderDate')).status).toBe(400);
    expect((await get('/products?sortBy=SKU&sortDir=ASC')).status).toBe(200);
    expect((await get('/orders?page=0')).status).toBe(400);
  });

  it('serves stores and warehouses as bare arrays; inactive stores only on request', async () => {
    const stores = await get('/stores');
    expect(Array.isArray(stores.body)).toBe(true);
    const all = await get('/stores?showInactive=true');
    expect(all.body.length).toBe(h.store.count('stores'));
    expect(stores.body.length).toBeLessThanOrEqual(all.body.length);
    const wh = await get('/warehouses');
    expect(wh.body.map((w: any) => w.warehouseId)).toEqual(h.store.list('warehouses').map((w) => w.warehouseId));
    expect(wh.body[0].createDate).toMatch(SEVEN);
  });

  it('reflects inserts, updates and deletes', async () => {
    const order = h.generator.order('2025-01-15T12:00:00.000Z');
    h.store.update('orders', order.orderId as number, { orderStatus: 'shipped' }, { at: '2025-01-16T20:30:00.000Z' });
    const victim = h.store.list('customers')[0]!.customerId as number;
    h.store.delete('customers', victim);
    const res = await get('/orders?modifyDateStart=2025-01-16%2012:30:00&pageSize=500');
    expect(res.body.orders.map((o: any) => [o.orderId, o.modifyDate, o.orderStatus])).toEqual([[order.orderId, '2025-01-16T12:30:00.0000000', 'shipped']]);
    const customers = await get('/customers?pageSize=500');
    expect(customers.body.customers.map((c: any) => c.customerId)).not.toContain(victim);
    expect(customers.body.total).toBe(h.store.count('customers'));
  });

  it('generates the same data for the same seed', async () => {
    const again = await start({ seed: 11 });
    const other = await start({ seed: 12 });
    try {
      const a = JSON.stringify(again.store.rendered('orders').slice(0, 50));
      expect(JSON.stringify(h.store.rendered('orders').slice(0, 50))).toBe(a);
      expect(JSON.stringify(other.store.rendered('orders').slice(0, 50))).not.toBe(a);
      expect(sourceConfig(again)).toEqual({ apiKey: again.credentials.apiKey, apiSecret: again.credentials.apiSecret, baseUrl: again.url });
    } finally {
      await again.close();
      await other.close();
    }
  });
});

describe('shipstation emulator rate limit', () => {
  it('announces the budget in X-Rate-Limit-* headers and answers 429 beyond it until the window resets', async () => {
    const h = await start({ seed: 1, orders: 20, customers: 10, rateLimit: { limit: 5, windowMs: 1500 } });
    try {
      const get = client(h);
      const seen: [number, string | null, string | null][] = [];
      for (let i = 0; i < 6; i++) {
        const r = await get('/warehouses');
        seen.push([r.status, r.headers.get('x-rate-limit-remaining'), r.headers.get('x-rate-limit-reset')]);
        if (r.status === 429) expect(r.body).toEqual({ message: 'Too Many Requests' });
      }
      expect(seen.map((s) => s[0])).toEqual([200, 200, 200, 200, 200, 429]);
      expect(seen.map((s) => s[1])).toEqual(['4', '3', '2', '1', '0', '0']);
      expect(seen[0]![2]).toBe('2'); // 1.5 s left, rounded up
      expect(h.throttled()).toBe(1);
      await new Promise((r) => setTimeout(r, 1550));
      const after = await get('/warehouses');
      expect(after.status).toBe(200);
      expect(after.headers.get('x-rate-limit-remaining')).toBe('4');
      expect(after.headers.get('x-rate-limit-limit')).toBe('5');
      h.consume(4); // another application on the same key
      expect((await get('/stores')).status).toBe(429);
      expect(h.throttled()).toBe(2);
    } finally {
      await h.close();
    }
  });
});
