import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, DEMO_TOKEN, generateCustomers, gid, type ShopifyEmulator } from '../src/shopify/index';

let h: ShopifyEmulator;

async function gql(query: string, variables: Record<string, unknown> = {}, opts: { token?: string; path?: string; host?: string } = {}) {
  const res = await fetch(h.url + (opts.path ?? '/admin/api/2025-01/graphql.json'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-shopify-access-token': opts.token ?? DEMO_TOKEN, ...(opts.host ? { host: opts.host } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

const ORDERS = `query($first: Int!, $after: String, $query: String, $sortKey: OrderSortKeys, $reverse: Boolean) {
  orders(first: $first, after: $after, query: $query, sortKey: $sortKey, reverse: $reverse) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id createdAt updatedAt } }
  }
}`;

async function allOrders(vars: Record<string, unknown>) {
  const out: { id: string; createdAt: string; updatedAt: string }[] = [];
  let after: string | null = null;
  for (;;) {
    const { body } = await gql(ORDERS, { first: 37, ...vars, after });
    const conn = body.data.orders;
    out.push(...conn.edges.map((e: any) => e.node));
    if (!conn.pageInfo.hasNextPage) return out;
    after = conn.pageInfo.endCursor;
  }
}

beforeAll(async () => {
  h = await start({ seed: 3, orders: 150, customers: 40, products: 10, restoreRate: 1_000_000 });
});
afterAll(async () => h.close());

describe('auth and shop errors', () => {
  it('401 for an unknown token, in Shopify\'s shape', async () => {
    const r = await gql('{ shop { name } }', {}, { token: 'nope' });
    expect(r.status).toBe(401);
    expect(r.body.errors).toMatch(/Invalid API key or access token/);
  });
  it('403 ACCESS_DENIED naming the scope (or 200 with the same error)', async () => {
    h.tokens.set('products-only', new Set(['read_products']));
    const r = await gql('{ shop { name } orders(first: 1) { nodes { id } } }', {}, { token: 'products-only' });
    expect(r.status).toBe(403);
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'ACCESS_DENIED', requiredAccess: '`read_orders` access scope.' });
    h.knobs.accessDeniedStatus = 200;
    const r2 = await gql('{ customers(first: 1) { nodes { id } } }', {}, { token: 'products-only' });
    expect(r2.status).toBe(200);
    expect(r2.body.errors[0].message).toContain('read_customers');
    h.knobs.accessDeniedStatus = 403;
    expect((await gql('{ products(first: 1) { nodes { id } } }', {}, { token: 'products-only' })).status).toBe(200);
  });
  it('404 for an unknown shop (path or Host), 402 for a frozen store, 400 without a query', async () => {
    expect((await gql('{ shop { name } }', {}, { path: '/shops/other/admin/api/2025-01/graphql.json' })).status).toBe(404);
    expect((await gql('{ shop { name } }', {}, { path: `/shops/${h.shop}/admin/api/2025-01/graphql.json` })).status).toBe(200);
    expect((await gql('{ shop { name } }', {}, { path: '/admin/api/banana/graphql.json' })).status).toBe(404);
    h.knobs.frozen = true;
    const frozen = await gql('{ shop { name } }');
    expect(frozen.status).toBe(402);
    h.knobs.frozen = false;
    const res = await fetch(h.endpoint(), { method: 'POST', headers: { 'x-shopify-access-token': DEMO_TOKEN, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(400);
  });
  it('syntax and validation errors come back as GraphQL errors', async () => {
    expect((await gql('{ shop { name ')).body.errors[0].message).toMatch(/Syntax Error/);
    expect((await gql('{ shop { nope } }')).body.errors[0].message).toMatch(/Cannot query field "nope"/);
  });

  it("an argument the field does not take: 200 with Shopify's argumentNotAccepted error and no data (2025-01: customersCount has no limit)", async () => {
    const r = await gql('query SluiceCount($query: String, $limit: Int) { c: customersCount(query: $query, limit: $limit) { count precision } }', { query: null, limit: 10 });
    expect(r.status).toBe(200);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors).toEqual([
      {
        message: "Field 'customersCount' doesn't accept argument 'limit'",
        locations: [{ line: 1, column: 83 }],
        path: ['query SluiceCount', 'c', 'limit'],
        extensions: { code: 'argumentNotAccepted', name: 'customersCount', typeName: 'Field', argumentName: 'limit' },
      },
    ]);
    const ok = await gql('{ customersCount { count precision } ordersCount(limit: 5) { count precision } productsCount(query: "id:>0", limit: 5) { count } }');
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.customersCount.precision).toBe('EXACT');
    expect(ok.body.data.ordersCount).toEqual({ count: 5, precision: 'AT_LEAST' });
  });
});

describe('connections', () => {
  it('pages with first/after through every order exactly once, edges and nodes agree', async () => {
    const all = await allOrders({});
    expect(all.map((o) => o.id)).toEqual([...h.store.orders.keys()].map((id) => gid('Order', id)));
    const { body } = await gql('{ orders(first: 3) { nodes { id } edges { cursor node { id } } pageInfo { hasNextPage endCursor startCursor } } }');
    const c = body.data.orders;
    expect(c.nodes.map((n: any) => n.id)).toEqual(c.edges.map((e: any) => e.node.id));
    expect(c.pageInfo.endCursor).toBe(c.edges[2].cursor);
  });
  it('sortKey UPDATED_AT ascending (and reverse), query filters on updated_at/created_at', async () => {
    const since = '2025-01-01T00:00:00Z';
    const got = await allOrders({ sortKey: 'UPDATED_AT', query: `updated_at:>='${since}'` });
    const want = [...h.store.orders.values()].filter((o) => o.updatedAt >= since).sort((a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : a.id - b.id));
    expect(got.map((o) => o.id)).toEqual(want.map((o) => gid('Order', o.id)));
    const rev = await allOrders({ sortKey: 'UPDATED_AT', reverse: true, query: `updated_at:>='${since}'` });
    expect(rev.map((o) => o.id)).toEqual([...want].reverse().map((o) => gid('Order', o.id)));
    const window = await allOrders({ sortKey: 'CREATED_AT', query: `created_at:>=2024-06-01 AND created_at:<'2024-07-01T00:00:00Z'` });
    expect(window.length).toBeGreaterThan(0);
    expect(window.every((o) => o.createdAt >= '2024-06-01' && o.createdAt < '2024-07-01')).toBe(true);
    const strict = await allOrders({ query: `updated_at:>'${want[0]!.updatedAt}'` });
    expect(strict.some((o) => o.id === gid('Order', want[0]!.id))).toBe(false);
  });
  it('first is required and at most 250', async () => {
    expect((await gql('{ orders { nodes { id } } }')).body.errors[0].message).toMatch(/first or last/);
    expect((await gql('{ orders(first: 251) { nodes { id } } }')).body.errors[0].message).toMatch(/250/);
  });
  it('orders older than 60 days need read_all_orders', async () => {
    h.tokens.set('recent-only', new Set(['read_orders']));
    const { body } = await gql('{ orders(first: 10) { nodes { id } } }', {}, { token: 'recent-only' });
    expect(body.data.orders.nodes).toEqual([]);
  });
});

describe('cost and throttling', () => {
  it('requested cost = 2 + first × node cost; actual follows what was returned', async () => {
    const { body } = await gql('{ orders(first: 10) { nodes { id totalPriceSet { shopMoney { amount } } lineItems(first: 5) { nodes { id } } } } }');
    // node: 1 + MoneyBag 1 + MoneyV2 1 + lineItems (2 + 5 × 1) = 10
    expect(body.extensions.cost.requestedQueryCost).toBe(2 + 10 * 10);
    expect(body.extensions.cost.actualQueryCost).toBeLessThanOrEqual(body.extensions.cost.requestedQueryCost);
    expect(body.extensions.cost.throttleStatus).toMatchObject({ maximumAvailable: 2000, restoreRate: 1_000_000 });
    expect((await gql('{ shop { name } }')).body.extensions.cost.requestedQueryCost).toBe(1);
  });
  it('THROTTLED with no data when the bucket cannot pay; MAX_COST_EXCEEDED above the single-query limit', async () => {
    h.bucket.reset(100, 1);
    const r = await gql('{ orders(first: 50) { nodes { id customer { id } } } }');
    expect(r.status).toBe(200);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors[0].extensions.code).toBe('THROTTLED');
    expect(r.body.extensions.cost.actualQueryCost).toBeNull();
    const big = await gql('{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }');
    expect(big.body.errors[0].extensions.code).toBe('MAX_COST_EXCEEDED');
    h.bucket.reset(1000, 1_000_000);
  });
});

describe('bulk operations', () => {
  const RUN = `mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message } } }`;
  const STATUS = `query($id: ID!) { node(id: $id) { ... on BulkOperation { id status objectCount rootObjectCount url errorCode } } }`;

  it('CREATED → RUNNING → COMPLETED, one at a time, JSONL with __parentId children after their parent', async () => {
    h.knobs.bulkRowsPerSecond = 2000;
    h.knobs.bulkStartDelayMs = 100;
    const q = `{ orders { edges { node { id name lineItems { edges { node { id quantity } } } } } } }`;
    const run = await gql(RUN, { q });
    const op = run.body.data.bulkOperationRunQuery.bulkOperation;
    expect(op.status).toBe('CREATED');
    const busy = await gql(RUN, { q });
    expect(busy.body.data.bulkOperationRunQuery.userErrors[0].message).toMatch(/already in progress/);
    const seen = new Set<string>([op.status]);
    let s: any;
    for (let i = 0; i < 200; i++) {
      s = (await gql(STATUS, { id: op.id })).body.data.node;
      seen.add(s.status);
      if (s.status === 'COMPLETED') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect([...seen]).toEqual(expect.arrayContaining(['CREATED', 'RUNNING', 'COMPLETED']));
    const current = (await gql('{ currentBulkOperation { id status } }')).body.data.currentBulkOperation;
    expect(current).toEqual({ id: op.id, status: 'COMPLETED' });
    const lineCount = [...h.store.orders.values()].reduce((n, o) => n + o.lineItems.length, 0);
    expect(Number(s.objectCount)).toBe(h.store.orders.size + lineCount);
    expect(Number(s.rootObjectCount)).toBe(h.store.orders.size);
    const text = await (await fetch(s.url)).text(); // pre-signed: no token
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(h.store.orders.size + lineCount);
    let parent: string | undefined;
    for (const l of lines) {
      if (l.__parentId === undefined) parent = l.id;
      else expect(l.__parentId).toBe(parent);
      expect(l.lineItems).toBeUndefined();
    }
    expect((await fetch(s.url.replace(/Signature=[^&]+/, 'Signature=forged'))).status).toBe(403);
    h.knobs.bulkRowsPerSecond = 50_000;
    h.knobs.bulkStartDelayMs = 10;
  });

  it('rejects bulk queries that break the rules, or that the token may not run; can cancel', async () => {
    const bad = await gql(RUN, { q: `{ shop { name } }` });
    expect(bad.body.data.bulkOperationRunQuery.userErrors[0].message).toMatch(/at least one connection/);
    const noId = await gql(RUN, { q: `{ products { edges { node { title variants { edges { node { id } } } } } } }` });
    expect(noId.body.data.bulkOperationRunQuery.userErrors[0].message).toMatch(/must select the 'id' field/);
    h.knobs.bulkRowsPerSecond = 1;
    const run = await gql(RUN, { q: `{ customers { edges { node { id email } } } }` });
    expect(run.body.data.bulkOperationRunQuery.userErrors).toEqual([]);
    const id = run.body.data.bulkOperationRunQuery.bulkOperation.id;
    const c = await gql(`mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { status } userErrors { message } } }`, { id });
    expect(c.body.data.bulkOperationCancel.bulkOperation.status).toBe('CANCELED');
    h.knobs.bulkRowsPerSecond = 50_000;
  });
});

describe('generator', () => {
  it('is deterministic, and customer emails follow <first>.<last><n>@example.com', () => {
    const a = generateCustomers({ seed: 9, count: 30 });
    expect(generateCustomers({ seed: 9, count: 30 })).toEqual(a);
    const ident = (c: { email: string; phone: string | null; firstName: string }) => [c.email, c.phone, c.firstName];
    expect(generateCustomers({ seed: 9, count: 10 }).map(ident)).toEqual(a.slice(0, 10).map(ident));
    a.forEach((c, i) => expect(c.email).toBe(`${c.firstName}.${c.lastName}${i + 1}@example.com`.toLowerCase()));
    expect(new Set(a.map((c) => c.email)).size).toBe(30);
  });
  it('store mutations stamp updatedAt and are visible through the API', async () => {
    const o = [...h.store.orders.values()][0]!;
    h.store.update('orders', o.id, { note: 'changed' });
    const { body } = await gql(`query($id: ID!) { order(id: $id) { note updatedAt } }`, { id: gid('Order', o.id) });
    expect(body.data.order.note).toBe('changed');
    expect(Date.parse(body.data.order.updatedAt)).toBeGreaterThan(Date.parse(o.updatedAt));
    h.store.delete('orders', o.id);
    expect((await gql(`query($id: ID!) { order(id: $id) { id } }`, { id: gid('Order', o.id) })).body.data.order).toBeNull();
  });
});
