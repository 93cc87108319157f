import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT, ENDPOINTS, parsePredicate, evaluate, sourceConfig, start, type Handle } from '../src/commercetools/index';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function token(h: Handle, opts: { id?: string; secret?: string; scope?: string } = {}) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (opts.scope) body.set('scope', opts.scope);
  const res = await fetch(`${h.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(opts.id ?? DEMO_CLIENT.clientId, opts.secret ?? DEMO_CLIENT.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  });
  return { status: res.status, body: (await res.json()) as any };
}

function qs(params: Record<string, string | string[]>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) u.append(k, x);
  return u.toString();
}

async function list(h: Handle, tok: string, endpoint: string, params: Record<string, string | string[]> = {}, project = h.projectKey) {
  const res = await fetch(`${h.url}/${project}/${endpoint}?${qs(params)}`, { headers: { authorization: `Bearer ${tok}` } });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

/** Reference implementation: filter + sort the whole collection in JS. */
function brute(h: Handle, endpoint: any, where: string | undefined, vars: Record<string, string> = {}) {
  const docs = h.store.all(endpoint);
  const pred = where ? parsePredicate(where, vars) : undefined;
  return docs.filter((d) => !pred || evaluate(pred, (f) => d[f]));
}

const byLmId = (a: any, b: any) => (a.lastModifiedAt < b.lastModifiedAt ? -1 : a.lastModifiedAt > b.lastModifiedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe('commercetools emulator', () => {
  let h: Handle;
  let tok: string;
  beforeAll(async () => {
    h = await start({ seed: 7, counts: { orders: 2600, customers: 300 } });
    tok = (await token(h)).body.access_token;
  });
  afterAll(async () => h.close());

  describe('oauth', () => {
    it('issues a bearer token with the client scopes', async () => {
      const t = await token(h);
      expect(t.status).toBe(200);
      expect(t.body).toMatchObject({ token_type: 'Bearer', expires_in: 172800 });
      expect(t.body.access_token).toMatch(/^[\w-]{20,}$/);
      expect(t.body.scope.split(' ')).toContain(`view_orders:${h.projectKey}`);
    });
    it('rejects bad client credentials with invalid_client', async () => {
      const t = await token(h, { secret: 'wrong' });
      expect(t.status).toBe(401);
      expect(t.body).toMatchObject({ statusCode: 401, error: 'invalid_client', errors: [{ code: 'invalid_client' }] });
      expect((await token(h, { id: 'nobody' })).status).toBe(401);
    });
    it('grants requested scopes only when the client has them', async () => {
      const ok = await token(h, { scope: `view_orders:${h.projectKey}` });
      expect(ok.status).toBe(200);
      expect(ok.body.scope).toBe(`view_orders:${h.projectKey}`);
      const r = await list(h, ok.body.access_token, 'payments');
      expect(r.status).toBe(403);
      const bad = await token(h, { scope: `manage_project:${h.projectKey}` });
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].code).toBe('invalid_scope');
      expect((await token(h, { scope: `view_orders:other-project` })).status).toBe(400);
    });
    it('answers 401 invalid_token for missing, unknown, revoked and expired tokens', async () => {
      const none = await fetch(`${h.url}/${h.projectKey}/orders`);
      expect(none.status).toBe(401);
      expect(((await none.json()) as any).errors[0].code).toBe('invalid_token');
      expect((await list(h, 'nope', 'orders')).body.errors[0].code).toBe('invalid_token');
      const t = (await token(h)).body.access_token;
      h.expireTokens();
      expect((await list(h, t, 'orders')).status).toBe(401);
      h.tokenTtlSeconds = 1;
      const short = await token(h);
      expect(short.body.expires_in).toBe(1);
      expect((await list(h, short.body.access_token, 'orders')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await list(h, short.body.access_token, 'orders')).status).toBe(401);
      h.tokenTtlSeconds = 172800;
      tok = (await token(h)).body.access_token;
    });
  });

  describe('errors', () => {
    it('403 insufficient_scope names the missing scope', async () => {
      h.addClient({ clientId: 'no-payments', clientSecret: 'secret-np', scopes: ['view_orders', 'view_customers'] });
      const t = (await token(h, { id: 'no-payments', secret: 'secret-np' })).body.access_token;
      expect((await list(h, t, 'orders')).status).toBe(200);
      const r = await list(h, t, 'payments');
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ statusCode: 403, errors: [{ code: 'insufficient_scope' }] });
      expect(r.body.message).toMatch(/One of the following scopes is missing: view_payments/);
      expect((await list(h, t, 'categories')).body.message).toMatch(/missing: view_categories/);
    });
    it('404 ResourceNotFound for an unknown project', async () => {
      const r = await list(h, tok, 'orders', {}, 'no-such-project');
      expect(r.status).toBe(404);
      expect(r.body.errors[0].code).toBe('ResourceNotFound');
      expect(r.body.message).toContain('no-such-project');
    });
    it('400 InvalidInput for limits, sorts and predicates', async () => {
      const bad: Record<string, string>[] = [
        { limit: '501' },
        { offset: '10001' },
        { limit: '-1' },
        { sort: 'lastModifiedAt sideways' },
        { where: 'lastModifiedAt >> "x"' },
        { where: 'lastModifiedAt > "not a date"' },
        { where: 'id > :missing' },
        { where: '(id > "a"' },
        { where: 'id > "a" and' },
        { where: 'id "a"' },
        { withTotal: 'maybe' },
      ];
      for (const params of bad) {
        const r = await list(h, tok, 'orders', params);
        expect(r.status, JSON.stringify(params)).toBe(400);
        expect(r.body).toMatchObject({ statusCode: 400, errors: [{ code: 'InvalidInput' }] });
      }
      expect((await list(h, tok, 'orders', { limit: '500', offset: '10000' })).status).toBe(200);
    });
  });

  describe('envelope and paging', () => {
    it('returns {limit, offset, count, total, results} with a default limit of 20', async () => {
      const r = await list(h, tok, 'orders');
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ limit: 20, offset: 0, count: 20, total: 2600 });
      expect(r.body.results).toHaveLength(20);
      const noTotal = await list(h, tok, 'orders', { withTotal: 'false', limit: '3', offset: '5' });
      expect(noTotal.body).toEqual({ limit: 3, offset: 5, count: 3, results: expect.any(Array) });
    });
    it('serves realistic documents on every endpoint', async () => {
      for (const e of ENDPOINTS) {
        const r = await list(h, tok, e, { limit: '5' });
        expect(r.status, e).toBe(200);
        for (const d of r.body.results) {
          expect(d.id).toMatch(/^[0-9a-f-]{36}$/);
          expect(d.version).toBeGreaterThanOrEqual(1);
          expect(d.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          expect(d.lastModifiedAt >= d.createdAt).toBe(true);
        }
      }
      const order = (await list(h, tok, 'orders', { limit: '1' })).body.results[0];
      expect(order.lineItems.length).toBeGreaterThan(0);
      expect(order.totalPrice).toEqual({ type: 'centPrecision', currencyCode: expect.stringMatching(/^[A-Z]{3}$/), centAmount: expect.any(Number), fractionDigits: 2 });
      expect(order.totalPrice.centAmount).toBe(order.lineItems.reduce((s: number, li: any) => s + li.totalPrice.centAmount, 0));
      expect(order.shippingAddress).toMatchObject({ country: expect.any(String), city: expect.any(String) });
      const pay = (await list(h, tok, 'payments', { limit: '1' })).body.results[0];
      expect(pay.amountPlanned.type).toBe('centPrecision');
      expect(pay.transactions.length).toBeGreaterThan(0);
    });
    it('offset paging sorted by id visits every record once', async () => {
      const ids: string[] = [];
      for (let offset = 0; ; offset += 500) {
        const r = await list(h, tok, 'orders', { sort: 'id asc', limit: '500', offset: String(offset), withTotal: 'false' });
        ids.push(...r.body.results.map((d: any) => d.id));
        if (r.body.count < 500) break;
      }
      expect(ids).toEqual(h.store.ids_('orders'));
    });
    it('key-set paging on (lastModifiedAt, id) with repeatable sort and where equals the brute-force order', async () => {
      const expected = brute(h, 'orders', undefined).sort(byLmId).map((d) => d.id);
      const seen: string[] = [];
      let after: any;
      for (;;) {
        const params: Record<string, string | string[]> = { sort: ['lastModifiedAt asc', 'id asc'], limit: '500', withTotal: 'false' };
        if (after) params.where = `lastModifiedAt > "${after.lastModifiedAt}" or (lastModifiedAt = "${after.lastModifiedAt}" and id > "${after.id}")`;
        const r = await list(h, tok, 'orders', params);
        seen.push(...r.body.results.map((d: any) => d.id));
        after = r.body.results.at(-1);
        if (r.body.count < 500) break;
      }
      expect(seen).toEqual(expected);
    });
    it('sorts descending and on document fields', async () => {
      const r = await list(h, tok, 'customers', { sort: ['createdAt desc'], limit: '50' });
      const created = r.body.results.map((d: any) => d.createdAt);
      expect(created).toEqual([...created].sort().reverse());
      const e = await list(h, tok, 'customers', { sort: 'email asc', limit: '50' });
      const emails = e.body.results.map((d: any) => d.email);
      expect(emails).toEqual([...emails].sort());
      expect(emails[0]).toBe(h.store.all('customers').map((d) => d.email as string).sort()[0]);
    });
  });

  describe('predicates', () => {
    const cases: [string, Record<string, string>?][] = [
      ['lastModifiedAt >= "2025-01-01T00:00:00.000Z"'],
      ['lastModifiedAt >= "2025-01-01T00:00:00Z" and createdAt < "2025-03-01T00:00:00Z"'],
      ['lastModifiedAt >= :since', { since: '2025-05-01T00:00:00.000Z' }],
      ['createdAt > "2025-02-01" or id < "1"'],
      ['not(version = 1) and lastModifiedAt <= "2024-06-01T12:00:00.000Z"'],
      ['version in (1, 2) AND id > "8"'],
      ['id != "x" and shippingAddress(country = "DE")'],
      ['lineItems(quantity >= 3)'],
      ['completedAt is defined and orderState = "Complete"'],
      ['customerId is not defined'],
      ['orderNumber = :n', { n: 'ORD-100007' }],
    ];
    it.each(cases)('%s', async (where, vars = {}) => {
      const expected = brute(h, 'orders', where, vars).sort(byLmId).map((d) => d.id);
      const params: Record<string, string | string[]> = { where, sort: ['lastModifiedAt asc', 'id asc'], limit: '500' };
      for (const [k, v] of Object.entries(vars)) params[`var.${k}`] = v;
      const r = await list(h, tok, 'orders', params);
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
      expect(r.body.results.map((d: any) => d.id)).toEqual(expected.slice(0, 500));
      expect(r.body.total).toBe(Math.min(expected.length, 10000));
      expect(expected.length).toBeGreaterThan(0);
    });
    it('agrees with hand-written filters', async () => {
      const docs = h.store.all('orders');
      const checks: [string, (d: any) => boolean][] = [
        ['lastModifiedAt > "2025-03-01T10:00:00.000Z" or (lastModifiedAt = "2025-03-01T10:00:00.000Z" and id > "8")', (d) => d.lastModifiedAt > '2025-03-01T10:00:00.000Z' || (d.lastModifiedAt === '2025-03-01T10:00:00.000Z' && d.id > '8')],
        ['createdAt >= "2025-01-01" and not(country in ("DE", "NL"))', (d) => d.createdAt >= '2025-01-01T00:00:00.000Z' && !['DE', 'NL'].includes(d.country)],
        ['shippingAddress(city = "Paris") or version > 8', (d) => d.shippingAddress.city === 'Paris' || d.version > 8],
      ];
      for (const [where, fn] of checks) {
        const r = await list(h, tok, 'orders', { where, sort: 'id asc', limit: '500', withTotal: 'false' });
        const expected = docs.filter(fn).map((d) => d.id);
        expect(expected.length).toBeGreaterThan(0);
        expect(r.body.results.map((d: any) => d.id), where).toEqual(expected.slice(0, 500));
      }
    });
    it('combines repeated where parameters with and', async () => {
      const a = 'lastModifiedAt >= "2025-01-01T00:00:00.000Z"';
      const b = 'id < "8"';
      const r = await list(h, tok, 'orders', { where: [a, b], limit: '500', sort: 'id asc' });
      expect(r.body.results.map((d: any) => d.id)).toEqual(brute(h, 'orders', `${a} and ${b}`).map((d) => d.id).slice(0, 500));
    });
  });

  describe('store and knobs', () => {
    it('updates bump version and lastModifiedAt and move the record to the end of the key-set order', async () => {
      const before = h.store.all('orders')[10]!;
      const sorted = (await list(h, tok, 'orders', { sort: ['lastModifiedAt asc', 'id asc'], limit: '1', where: `id = "${before.id}"` })).body.results[0];
      expect(sorted.id).toBe(before.id);
      const after = h.store.update('orders', before.id as string, { orderState: 'Cancelled' });
      expect(after.version).toBe((before.version as number) + 1);
      expect((after.lastModifiedAt as string) > (before.lastModifiedAt as string)).toBe(true);
      expect(after.orderState).toBe('Cancelled');
      const last = await list(h, tok, 'orders', { sort: ['lastModifiedAt desc', 'id desc'], limit: '1' });
      expect(last.body.results[0].id).toBe(before.id);
      // The maintained index still agrees with a brute-force scan.
      const where = `lastModifiedAt >= "2025-06-01T00:00:00.000Z"`;
      const r = await list(h, tok, 'orders', { where, sort: ['lastModifiedAt asc', 'id asc'], limit: '500' });
      expect(r.body.results.map((d: any) => d.id)).toEqual(brute(h, 'orders', where).sort(byLmId).map((d) => d.id).slice(0, 500));
    });
    it('inserts, bulk-inserts with one lastModifiedAt, and deletes', async () => {
      const n = h.store.size('orders');
      const doc = h.store.insert('orders', { orderNumber: 'ORD-NEW' });
      expect(doc.version).toBe(1);
      expect(doc.createdAt).toBe(doc.lastModifiedAt);
      const ids = h.store.insertMany('orders', 12_000, { at: '2025-07-01T00:00:00.000Z' });
      expect(ids).toHaveLength(12_000);
      expect(h.store.size('orders')).toBe(n + 12_001);
      const r = await list(h, tok, 'orders', { where: 'lastModifiedAt = "2025-07-01T00:00:00.000Z"', limit: '0' });
      expect(r.body.total).toBe(10_000); // capped estimate with a predicate
      expect(h.store.remove('orders', doc.id as string)).toBe(true);
      expect(h.store.get('orders', doc.id as string)).toBeUndefined();
      h.store.updateMany('orders', ids.slice(0, 3), { at: '2025-07-02T00:00:00.000Z' });
      const moved = await list(h, tok, 'orders', { where: 'lastModifiedAt = "2025-07-02T00:00:00.000Z"', sort: 'id asc' });
      expect(moved.body.results.map((d: any) => d.id)).toEqual([...ids.slice(0, 3)].sort());
      for (const id of ids) h.store.remove('orders', id);
    });
    it('calls afterList after each list request', async () => {
      const seen: string[] = [];
      h.afterList = (e) => void seen.push(`${e.endpoint}:${e.result.results.length}`);
      await list(h, tok, 'payments', { limit: '7' });
      await list(h, tok, 'inventory', { limit: '2' });
      h.afterList = undefined;
      expect(seen).toEqual(['payments:7', 'inventory:2']);
    });
    it('injects JSON errors, 429 with Retry-After, HTML pages and resets, then recovers', async () => {
      h.inject('status', { status: 503 });
      let r = await list(h, tok, 'orders');
      expect(r.status).toBe(503);
      expect(r.body.errors[0].code).toBe('OverCapacity');
      h.inject('status', { status: 429, retryAfter: 2 });
      r = await list(h, tok, 'orders');
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('2');
      h.inject('html', { status: 502 });
      r = await list(h, tok, 'orders');
      expect(r.status).toBe(502);
      expect(r.body).toMatch(/<html>/);
      h.inject('reset', { times: 1 });
      await expect(list(h, tok, 'orders')).rejects.toThrow();
      // Token requests are never hit by injected faults.
      h.inject('status', { status: 503, times: 1 });
      expect((await token(h)).status).toBe(200);
      expect((await list(h, tok, 'orders')).status).toBe(503);
      expect((await list(h, tok, 'orders')).status).toBe(200);
    });
    it('adds latency to every response', async () => {
      h.latencyMs = 120;
      try {
        const t0 = Date.now();
        expect((await list(h, tok, 'categories', { limit: '1' })).status).toBe(200);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(115);
      } finally {
        h.latencyMs = 0;
      }
    });
    it('sourceConfig points at the emulator', () => {
      expect(sourceConfig(h)).toMatchObject({ region: 'europe-west1.gcp', projectKey: h.projectKey, apiUrl: h.url, authUrl: h.url, clientId: DEMO_CLIENT.clientId });
    });
    it('documents change only through their own updates (inserts elsewhere leave them alone)', async () => {
      const orders = h.store.all('orders');
      const added = Array.from({ length: 5 }, () => h.store.insert('customers').id as string);
      h.store.insertMany('payments', 7);
      expect(h.store.all('orders').filter((d) => !added.includes(d.id as string))).toEqual(orders);
      for (const id of added) h.store.remove('customers', id);
    });
    it('is deterministic for a seed', async () => {
      const a = await start({ seed: 99, counts: { orders: 50 } });
      const b = await start({ seed: 99, counts: { orders: 50 } });
      try {
        expect(a.store.all('orders')).toEqual(b.store.all('orders'));
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});
