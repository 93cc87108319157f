import { HttpClient, QueryTooCostly, SluiceError, apiKeyHeaderAuth, classifyStatus, parseRetryAfter, type HttpRequest, type HttpResponse, type ProgressEvent, type SharedRates } from '@sluice/core';
import { costBucket, type CostBucket } from '@sluice/core/http/cost-bucket';
import { shopifyCostReport } from './cost-report';
import type { ShopifyConfig } from './config';

/**
 * The per-source client: one HttpClient (token header, cost-bucket governor, Shopify error mapping) and
 * one bulk-operation lock, shared by every table of the source in a worker.
 */
export interface ShopifyClient {
  http: HttpClient;
  bucket: CostBucket;
  config: ShopifyConfig;
  /** Path of the GraphQL endpoint, relative to the base URL. */
  endpoint: string;
  /** Runs `fn` while holding this source's bulk-operation slot (Shopify allows one bulk query per shop). */
  withBulkSlot<T>(fn: () => Promise<T>): Promise<T>;
}

export interface GraphqlResult<T> {
  data: T;
  requestedCost: number | undefined;
}

/**
 * Thrown when a query costs more than Shopify will ever run (the single-query limit, or more than the
 * whole bucket): the caller shrinks the page. Not retryable as such: the same query would fail again.
 */
export class MaxCostExceeded extends QueryTooCostly {
  constructor(cost: number, maxCost: number) {
    super(cost, maxCost, `Shopify: a query cost ${cost} points, above the ${maxCost} points Shopify allows for one query`);
  }
}

type GqlError = { message?: string; extensions?: { code?: string; requiredAccess?: string; cost?: number; maxCost?: number } };

const errorsOf = (body: unknown): GqlError[] => {
  const e = (body as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(e) ? (e as GqlError[]) : [];
};

/** The access scopes a denial names (`read_orders`), from GraphQL errors or a REST-style 403 body. */
export function missingScopes(body: unknown, text: string): string[] {
  const scopes = new Set<string>();
  for (const e of errorsOf(body)) {
    for (const m of `${e.extensions?.requiredAccess ?? ''} ${e.message ?? ''}`.matchAll(/`?((?:read|write)_[a-z_]+)`?/g)) scopes.add(m[1]!);
  }
  if (scopes.size === 0) for (const m of text.matchAll(/((?:read|write)_[a-z_]+)/g)) scopes.add(m[1]!);
  return [...scopes];
}

export function classifyShopify(config: ShopifyConfig, bucket: CostBucket) {
  const shop = config.shop;
  const denied = (res: HttpResponse) => {
    const s = res.status;
    const scopes = missingScopes(res.body, res.text);
    const what = scopes.length ? `missing access scope ${scopes.map((x) => `\`${x}\``).join(', ')}` : 'access denied';
    return new SluiceError(
      'permission',
      `Shopify: ${what} for ${shop}${s === 403 ? ' (HTTP 403)' : ''}. Grant ${scopes.join(', ') || 'the scope'} to the app in the store admin (Develop apps → Configuration → Admin API access scopes), reinstall it and use the new access token.`,
      { status: s },
    );
  };
  const limited = (res: HttpResponse, req: HttpRequest) => {
    const s = res.status;
    const header = parseRetryAfter(res.headers['retry-after']);
    const ms = header !== undefined && header > 0 ? header : Math.max(1000, bucket.waitMs(req.cost ?? 1));
    return new SluiceError(s === 429 ? 'rate_limited' : 'transient', `Shopify answered HTTP ${s}; retrying in ${Math.ceil(ms / 1000)} s`, { retryAfterMs: ms, status: s });
  };
  const ladder = classifyStatus(
    {
      401: `Shopify: invalid access token for ${shop} (HTTP 401). Create an Admin API access token in the store admin (Settings → Apps and sales channels → Develop apps) and set accessToken.`,
      402: `Shopify: store is frozen (payment required): ${shop} answered HTTP 402. The store's Shopify bill is unpaid or the store is paused; resolve it in the store admin, then sync again.`,
      423: `Shopify: store ${shop} is locked (HTTP 423); contact Shopify support.`,
      404: `Shopify: shop not found: ${shop} does not exist or has been closed (HTTP 404). Set shop to the store's myshopify.com domain.`,
      403: denied,
    },
    // GraphQL speaks in a 200: denials, throttling and internal errors are in `errors`; a denial wins over any status.
    (res, req) => {
      const s = res.status;
      const errs = errorsOf(res.body);
      if (errs.some((e) => e.extensions?.code === 'ACCESS_DENIED')) return denied(res);
      if (s === 200 && errs.some((e) => e.extensions?.code === 'THROTTLED')) {
        const report = shopifyCostReport(res.body);
        const t = report?.throttle;
        const need = report?.requested ?? req.cost ?? 1;
        if (t && need > t.maximumAvailable) return new MaxCostExceeded(need, t.maximumAvailable);
        const ms = t ? Math.ceil((Math.max(0, need - t.currentlyAvailable) / t.restoreRate) * 1000) : bucket.waitMs(need);
        return new SluiceError('rate_limited', `Shopify throttled the query (cost ${need}, ${t?.currentlyAvailable ?? '?'} points available)`, { retryAfterMs: Math.max(100, ms), status: s });
      }
      if (s === 429 || s === 503) return limited(res, req);
      if (s === 200 && errs.some((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR'))
        return new SluiceError('transient', `Shopify internal error: ${errs.map((e) => e.message).join('; ').slice(0, 300)}`, { status: s });
      return undefined;
    },
  );
  return (res: HttpResponse, req: HttpRequest): SluiceError | undefined => (req.anonymous ? undefined : ladder(res, req));
}

export function createClient(config: ShopifyConfig, report?: (e: ProgressEvent) => void, rates?: SharedRates): ShopifyClient {
  void report;
  // With `redis:`, every worker spends the app's bucket on this shop through one shared model.
  const bucket = costBucket({ read: shopifyCostReport, maximumAvailable: 1000, restoreRate: 100, shared: rates?.scope(`shopify\n${config.baseUrl ?? ''}\n${config.shop}\n${config.accessToken}`) });
  const origin = (config.baseUrl ?? `https://${config.shop}`).replace(/\/$/, '');
  const http = new HttpClient({
    baseUrl: origin,
    auth: apiKeyHeaderAuth('X-Shopify-Access-Token', config.accessToken),
    governor: bucket,
    vendor: 'Shopify',
    classify: classifyShopify(config, bucket),
    timeoutMs: 120_000,
  });
  let slot: Promise<unknown> = Promise.resolve();
  return {
    http,
    bucket,
    config,
    endpoint: `/admin/api/${config.apiVersion}/graphql.json`,
    withBulkSlot(fn) {
      const run = slot.then(fn);
      slot = run.catch(() => undefined);
      return run;
    },
  };
}

/** POSTs a GraphQL query through the cost governor; GraphQL-level errors become SluiceErrors. */
export async function graphql<T>(
  client: ShopifyClient,
  query: string,
  variables: Record<string, unknown>,
  opts: { cost: number; signal?: AbortSignal; report?: (e: ProgressEvent) => void },
): Promise<GraphqlResult<T>> {
  const res = await client.http.request<{ data?: T | null; errors?: GqlError[] }>({
    method: 'POST',
    path: client.endpoint,
    json: { query, variables },
    cost: opts.cost,
    signal: opts.signal,
    report: opts.report,
  });
  const errs = errorsOf(res.body);
  const max = errs.find((e) => e.extensions?.code === 'MAX_COST_EXCEEDED');
  if (max) throw new MaxCostExceeded(Number(max.extensions?.cost ?? opts.cost), Number(max.extensions?.maxCost ?? 1000));
  const data = res.body?.data;
  if (errs.length && (data === null || data === undefined)) {
    // A query our code builds is only rejected when the API version's schema differs: not retryable.
    throw new SluiceError('config', `Shopify rejected the query for API version ${client.config.apiVersion}: ${errs.map((e) => e.message).join('; ').slice(0, 500)}`);
  }
  if (data === null || data === undefined) throw new SluiceError('bad_response', `Shopify answered HTTP ${res.status} without data`);
  return { data, requestedCost: shopifyCostReport(res.body)?.requested };
}
