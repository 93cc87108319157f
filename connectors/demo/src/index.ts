import { z } from 'zod';
import { HttpClient, bearerAuth, concurrencyLimiter, defineConnector, restTable, SluiceError } from '@sluice/core';

/** The smallest complete connector: one declarative table over a page-numbered REST endpoint. */
const config = z.strictObject({
  baseUrl: z.url().default('http://127.0.0.1:4010'),
  token: z.string().min(1, 'required: the API token'),
  pageSize: z.number().int().min(1).max(200).default(100),
  /** Per-request timeout: a response slower than this is abandoned and retried. */
  requestTimeoutMs: z.number().int().min(100).default(30_000),
});
type Config = z.output<typeof config>;
type Client = { http: HttpClient };

const orders = restTable<Config, Client>({
  name: 'orders',
  description: 'Orders, updated in place as they are paid and shipped',
  primaryKey: ['id'],
  partitionBy: 'created_at',
  cursor: { fields: ['updated_at', 'created_at'], default: 'updated_at', filter: { param: { updated_at: 'updated_since', created_at: 'created_since' } } },
  // Page over an immutable order (id): an order updated mid-scan keeps its position, so no other order
  // shifts past a page boundary; its new version is read by the next sync (the cursor never passes the
  // extract's start).
  request: { path: '/v1/orders', params: { sort: 'id' } },
  records: 'data',
  paging: { kind: 'page-number', size: { config: 'pageSize' }, sizeParam: 'per_page', totalPages: 'total_pages' },
});

export default defineConnector({
  type: 'demo',
  description: 'Demo storefront (a local emulator ships with Sluice)',
  config,
  secrets: ['token'],
  connect: (cfg, ctx): Client => ({
    // With `redis:`, the 4 requests at a time hold for every worker together (the source is the account here).
    http: new HttpClient({ vendor: 'demo', baseUrl: cfg.baseUrl, auth: bearerAuth(cfg.token), governor: concurrencyLimiter({ maxConcurrent: 4, shared: ctx.rates?.scope() }), retries: 4, minRetryDelayMs: 200, timeoutMs: cfg.requestTimeoutMs }),
  }),
  async check({ client }) {
    try {
      const r = await client.http.get<{ data: unknown[] }>('/v1/orders', { per_page: 1 });
      return { ok: true, message: `token accepted; ${r.body.data.length ? 'read one order' : 'no orders yet'}` };
    } catch (err) {
      if (err instanceof SluiceError && err.kind === 'auth') throw new SluiceError('auth', 'invalid API token: create a new one in the demo shop settings');
      throw err;
    }
  },
  tables: [orders],
  views: ({ source, tables }) => (tables.has('orders') ? [{ name: 'revenue_daily', sql: `SELECT date_trunc('day', created_at) AS day, currency, count(*) AS orders, sum(total_cents) AS revenue_cents FROM "${source}".orders GROUP BY ALL` }] : []),
});
