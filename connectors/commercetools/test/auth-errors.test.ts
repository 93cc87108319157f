import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSluiceError, memoryLogger, SluiceError } from '@sluice/core';
import { DEMO_CLIENT, sourceConfig, start, type Handle } from '@sluice/emulators/commercetools/index';
import { configSchema, scopeParam } from '../src/config';
import { classify, missingScope } from '../src/client';
import { connector, expectedDocs, fastClient, read, sortedIds } from './helpers';

const NO_PAYMENTS = { clientId: 'no-payments-client', clientSecret: 'no-payments-secret-123', scopes: ['view_orders', 'view_customers', 'view_products', 'view_categories', 'view_discount_codes'] };

async function failure(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    if (isSluiceError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

async function check(h: Handle, cfg: Record<string, unknown>) {
  const config = configSchema.parse(cfg);
  const client = fastClient(h, undefined, cfg);
  return connector.check({ config, client, log: memoryLogger(), signal: new AbortController().signal });
}

describe('commercetools config', () => {
  it('accepts the five regions and optional overrides, rejects others', () => {
    const base = { projectKey: 'my-shop', clientId: 'id', clientSecret: 'secret' };
    for (const region of ['us-central1.gcp', 'us-east-2.aws', 'europe-west1.gcp', 'eu-central-1.aws', 'australia-southeast1.gcp']) expect(configSchema.parse({ ...base, region }).region).toBe(region);
    const bad = configSchema.safeParse({ ...base, region: 'mars-1.aws' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('europe-west1.gcp');
    expect(configSchema.safeParse({ ...base, region: 'us-east-2.aws', projectKey: 'My Shop!' }).success).toBe(false);
    expect(configSchema.safeParse({ ...base, region: 'us-east-2.aws', clientSecret: '' }).success).toBe(false);
    expect(configSchema.safeParse({ ...base, region: 'us-east-2.aws', apiUrl: 'not a url' }).success).toBe(false);
    expect(configSchema.safeParse({ ...base, region: 'us-east-2.aws', surprise: 1 }).success).toBe(false);
    const c = configSchema.parse({ ...base, region: 'us-east-2.aws', scopes: 'view_orders view_customers:other' });
    expect(scopeParam(c)).toBe('view_orders:my-shop view_customers:other');
  });
});

describe('commercetools auth, check and errors', () => {
  let h: Handle;
  beforeAll(async () => {
    h = await start({ seed: 5, counts: { orders: 1200, payments: 150, customers: 100 }, clients: [DEMO_CLIENT, NO_PAYMENTS] });
  });
  afterAll(async () => h.close());

  it('check: mints a token and reads one record', async () => {
    const result = await check(h, sourceConfig(h));
    expect(result.ok).toBe(true);
    expect(result.message).toContain('read one record from orders');
    expect(result.warnings).toBeUndefined();
  });

  it('check: bad client secret → "invalid client id or secret (or wrong region)", never leaking the secret', async () => {
    const cfg = { ...sourceConfig(h), clientSecret: 'definitely-wrong-secret' };
    const err = await failure(check(h, cfg));
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('invalid client id or secret (or wrong region)');
    expect(err.message).not.toContain('definitely-wrong-secret');
    expect(err.retryable).toBe(false);
    const err2 = await failure(read(h, 'orders', {}, { config: { clientId: 'unknown-client' } }));
    expect(err2.message).toContain('invalid client id or secret (or wrong region)');
  });

  it('check: unknown project → "project key not found in region …"', async () => {
    const err = await failure(check(h, { ...sourceConfig(h), projectKey: 'no-such-shop' }));
    expect(err.kind).toBe('not_found');
    expect(err.message).toContain('project key "no-such-shop" not found in region europe-west1.gcp');
  });

  it('check: a missing scope is a warning naming it; the client still passes', async () => {
    const result = await check(h, sourceConfig(h, NO_PAYMENTS));
    expect(result.ok).toBe(true);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings![0]).toMatch(/missing scope view_payments for table payments/);
  });

  it('check: a client that can read no table fails, naming the scopes', async () => {
    h.addClient({ clientId: 'no-scopes', clientSecret: 'no-scopes-secret', scopes: ['view_project_settings'] });
    const err = await failure(check(h, { ...sourceConfig(h), clientId: 'no-scopes', clientSecret: 'no-scopes-secret' }));
    expect(err.kind).toBe('permission');
    expect(err.message).toContain(`can read none of the tables of project "${h.projectKey}"`);
    expect(err.message).toContain('view_orders');
  });

  it('a table whose scope is missing fails alone with a permission error naming the scope', async () => {
    const client = fastClient(h, NO_PAYMENTS);
    const before = h.requests.length;
    const err = await failure(read(h, 'payments', {}, { client }));
    expect(err.kind).toBe('permission');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('view_payments');
    expect(err.message).toContain(`view_payments:${h.projectKey}`);
    expect(h.requests.slice(before).filter((r) => r.status === 403)).toHaveLength(1); // not retried
    const orders = await read(h, 'orders', {}, { client });
    expect(sortedIds(orders.records)).toEqual(h.store.ids_('orders'));
  });

  it('requests configured scopes and fails clearly when the client may not have them', async () => {
    const ok = await read(h, 'orders', {}, { config: { scopes: ['view_orders'] } });
    expect(ok.records.length).toBe(h.store.size('orders'));
    const narrow = await failure(read(h, 'payments', {}, { config: { scopes: ['view_orders'] } }));
    expect(narrow.message).toContain('view_payments');
    const err = await failure(read(h, 'orders', {}, { config: { scopes: ['manage_project'] } }));
    expect(err.kind).toBe('config');
  });

  it('renews the token once on 401 invalid_token and continues the scan', async () => {
    const client = fastClient(h);
    let served = 0;
    h.afterList = () => {
      if (++served === 1) h.expireTokens();
    };
    try {
      const before = h.requests.length;
      const { records } = await read(h, 'orders', {}, { client });
      expect(sortedIds(records)).toEqual(h.store.ids_('orders'));
      expect(client.auth.tokenRequests()).toBe(2);
      expect(h.requests.slice(before).filter((r) => r.status === 401)).toHaveLength(1);
    } finally {
      h.afterList = undefined;
    }
  });

  it('renews the token before it expires (no 401 at all)', async () => {
    h.tokenTtlSeconds = 2;
    try {
      const client = fastClient(h);
      const before = h.requests.length;
      await read(h, 'categories', {}, { client });
      await new Promise((r) => setTimeout(r, 1100)); // past half of the 2 s lifetime
      await read(h, 'categories', {}, { client });
      expect(client.auth.tokenRequests()).toBe(2);
      expect(h.requests.slice(before).some((r) => r.status === 401)).toBe(false);
    } finally {
      h.tokenTtlSeconds = 172800;
    }
  });

  it('a revoked client (401 after renewal) ends as an auth failure', async () => {
    const client = fastClient(h, NO_PAYMENTS);
    await read(h, 'orders', {}, { client, maxPages: 1 });
    h.clients.delete(NO_PAYMENTS.clientId);
    h.expireTokens();
    try {
      const err = await failure(read(h, 'orders', {}, { client }));
      expect(err.kind).toBe('auth');
      expect(err.message).toContain('invalid client id or secret');
    } finally {
      h.addClient(NO_PAYMENTS);
    }
  });

  it('retries injected 503/502/429, HTML error pages, truncated bodies and resets, and ends equal', async () => {
    // Faults spread over the pages of one scan (each request has its own retry budget).
    h.inject('status', { status: 503, times: 2 });
    h.inject('status', { status: 400, code: 'QueryTimedOut', times: 1 });
    h.inject('status', { status: 429, times: 1, retryAfter: 1 });
    let page = 0;
    h.afterList = () => {
      page++;
      if (page === 1) h.inject('html', { status: 502, times: 2 });
      if (page === 2) {
        h.inject('reset', { times: 1 });
        h.inject('html', { status: 503, times: 1 });
        h.faults.push({ match: (r) => r.path !== '/oauth/token', times: 1, kind: { type: 'truncate' } });
        h.inject('html', { status: 200, times: 1 });
      }
    };
    const { records, events } = await read(h, 'orders');
    expect(h.faults.every((f) => f.times === 0)).toBe(true);
    expect(sortedIds(records)).toEqual(h.store.ids_('orders'));
    expect(records.sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1))).toEqual(expectedDocs(h, 'orders'));
    expect(events.filter((e) => e.type === 'retry').length).toBeGreaterThanOrEqual(8);
    expect(events.filter((e) => e.type === 'wait')).toHaveLength(1);
    h.faults.length = 0;
    h.afterList = undefined;
  });

  it('gives up after the retry budget with a transient error that names the HTML page', async () => {
    h.inject('html', { status: 502, times: 100 });
    try {
      const client = fastClient(h);
      const err = await failure(read(h, 'categories', {}, { client }));
      expect(err.kind).toBe('transient');
      expect(err.message).toMatch(/non-JSON body/);
    } finally {
      h.faults.length = 0;
    }
  });

  it('maps error bodies: scope parsing, QueryTimedOut, InvalidInput', () => {
    expect(missingScope('Insufficient scope. One of the following scopes is missing: view_payments, manage_payments, manage_project')).toBe('view_payments');
    const cls = classify(configSchema.parse(sourceConfig(h)));
    const res = (status: number, body: unknown) => ({ status, headers: {}, text: JSON.stringify(body), body, url: `${h.url}/${h.projectKey}/orders` });
    const req = { path: `/${h.projectKey}/orders` };
    expect(cls(res(400, { statusCode: 400, message: 'timed out', errors: [{ code: 'QueryTimedOut', message: 'timed out' }] }), req)?.kind).toBe('transient');
    expect(cls(res(400, { statusCode: 400, message: 'bad', errors: [{ code: 'InvalidInput', message: 'bad' }] }), req)?.kind).toBe('bad_response');
    expect(cls(res(403, { statusCode: 403, message: 'nope', errors: [{ code: 'insufficient_scope', message: 'nope' }] }), req)?.message).toContain('view_orders');
    expect(cls(res(200, { results: [] }), req)).toBeUndefined();
  });
});
