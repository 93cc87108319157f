import { concurrencyLimiter, HttpClient, type RateScope, oauth2ClientCredentials, classifyStatus, parseRetryAfter, SluiceError, type Auth, type HttpClientOptions, type HttpRequest, type HttpResponse } from '@sluice/core';
import { apiUrlOf, authUrlOf, scopeParam, type CommercetoolsConfig } from './config';

/** Per-source client: one token and one concurrency budget shared by every table of the source. */
export interface CommercetoolsClient {
  http: HttpClient;
  auth: Auth & { tokenRequests(): number };
}

/** Endpoint (last path segment) → table name and the scope the table needs. */
export const ENDPOINT_TABLES: Record<string, { table: string; scope: string }> = {
  orders: { table: 'orders', scope: 'view_orders' },
  carts: { table: 'carts', scope: 'view_orders' },
  customers: { table: 'customers', scope: 'view_customers' },
  payments: { table: 'payments', scope: 'view_payments' },
  'product-projections': { table: 'product_projections', scope: 'view_products' },
  categories: { table: 'categories', scope: 'view_categories' },
  'discount-codes': { table: 'discount_codes', scope: 'view_discount_codes' },
  inventory: { table: 'inventory', scope: 'view_products' },
};

interface CtErrorBody {
  statusCode?: number;
  message?: string;
  error?: string;
  error_description?: string;
  errors?: { code?: string; message?: string }[];
}

const errorCode = (b: CtErrorBody | undefined) => b?.errors?.[0]?.code ?? b?.error;
const errorMessage = (b: CtErrorBody | undefined) => b?.message ?? b?.error_description ?? b?.errors?.[0]?.message ?? '';

/** The first scope named in "Insufficient scope. One of the following scopes is missing: view_orders, manage_orders". */
export function missingScope(message: string): string | undefined {
  const m = /missing:\s*([A-Za-z_]+)/.exec(message) ?? /\b(view_[a-z_]+)/.exec(message);
  return m?.[1];
}

const regionOf = (c: CommercetoolsConfig) => `${c.region}${c.apiUrl ? ` (API at ${new URL(c.apiUrl).host})` : ''}`;

export function projectNotFound(c: CommercetoolsConfig, detail: string): SluiceError {
  return new SluiceError(
    'not_found',
    `project key "${c.projectKey}" not found in region ${regionOf(c)}: check projectKey and region in the source config (commercetools: ${detail})`,
    { status: 404 },
  );
}

/** The parts of a commercetools error answer the messages use. */
function parts(res: HttpResponse) {
  const body = res.body as CtErrorBody;
  const endpoint = new URL(res.url).pathname.split('/').filter(Boolean)[1];
  return { code: errorCode(body), msg: errorMessage(body), endpoint, table: endpoint ? ENDPOINT_TABLES[endpoint] : undefined };
}

/** Maps commercetools error bodies (and the edge's HTML pages) onto SluiceError kinds. */
export function classify(config: CommercetoolsConfig) {
  const transient = (res: HttpResponse) => {
    const { code, msg } = parts(res);
    return `commercetools answered HTTP ${res.status} (${code ?? ''}: ${msg}); retrying`;
  };
  const ladder = classifyStatus({
    // invalid_token: the HttpClient renews the token once and retries; a second 401 ends as an auth failure.
    401: (res) => {
      const { code, msg } = parts(res);
      return `commercetools rejected the access token (${code ?? 401}: ${msg}); if this persists the API client was revoked or belongs to another region`;
    },
    403: (res, req) => {
      const { code, msg, endpoint, table } = parts(res);
      const scope = (code === 'insufficient_scope' ? missingScope(msg) : undefined) ?? table?.scope;
      // Messages are read only for `deletes: { detect: vendor }`: the remedy is the scope, or reconciling.
      if (endpoint === 'messages')
        return (
          `missing scope ${scope ?? 'view_messages'}: the API client may not read Messages, which deletes: { detect: vendor } reads. ` +
          `Add ${scope ?? 'view_messages'}:${config.projectKey} to the API client (Merchant Center → Settings → Developer settings) or use deletes: { detect: reconcile }. (commercetools: ${msg})`
        );
      if (code === 'insufficient_scope' || scope) {
        return (
          `missing scope ${scope ?? '(unknown)'}${table ? ` for table ${table.table}` : ''}: the API client may not read ${endpoint ?? req.path}. ` +
          `Add ${scope ?? 'the scope'}:${config.projectKey} to the API client (Merchant Center → Settings → Developer settings) or remove the table from this source. (commercetools: ${msg})`
        );
      }
      return `commercetools denied access to ${req.path} (${code ?? 403}: ${msg})`;
    },
    404: (res, req) => {
      const { code, msg, endpoint, table } = parts(res);
      if (table) return projectNotFound(config, `${code ?? 404}: ${msg}`);
      if (endpoint === 'graphql') return noGraphql(req, `${code ?? 404}: ${msg}`);
      return `commercetools: ${req.path} not found (${code ?? 404}: ${msg})`;
    },
    400: (res, req) => {
      const { code, msg } = parts(res);
      if (code === 'QueryTimedOut') return new SluiceError('transient', `commercetools query timed out (${msg}); retrying`, { status: 400 });
      return new SluiceError('bad_response', `commercetools rejected the request to ${req.path} (${code ?? 400}: ${msg})`, { status: 400 });
    },
    429: (res) => `commercetools asked to slow down (429: ${parts(res).msg})`,
    408: transient,
    '5xx': transient,
  });
  // Only reconciliation's key scan posts to /graphql: an API (or gateway) without it needs the REST scan.
  const noGraphql = (req: HttpRequest, detail: string) =>
    new SluiceError('not_found', `commercetools has no GraphQL API at ${req.path} (${detail}): the key scan of deletes: { detect: reconcile } selects ids through it. Set keyScan: rest in the source's config to scan with the REST API; nothing was deleted`, { status: 404 });
  return (res: HttpResponse, req: HttpRequest): SluiceError | undefined => {
    const s = res.status;
    if (s >= 200 && s < 300) return undefined;
    if (s === 404 && req.path.endsWith('/graphql') && (res.body === null || typeof res.body !== 'object')) return noGraphql(req, `404: ${res.text.slice(0, 80).replace(/\s+/g, ' ')}`);
    if (res.body === null || typeof res.body !== 'object') {
      // An HTML page or a cut body from a load balancer / CDN: not the API speaking. Retry.
      const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      const snippet = res.text.slice(0, 80).replace(/\s+/g, ' ');
      if (s === 429) return new SluiceError('rate_limited', `commercetools answered HTTP 429 (${snippet})`, { status: s, retryAfterMs });
      return new SluiceError('transient', `commercetools answered HTTP ${s} with a non-JSON body (an error page from the edge?): ${snippet}`, { status: s, retryAfterMs });
    }
    return ladder(res, req);
  };
}

/** Token endpoint failures: bad client credentials look exactly like a wrong region (regions are isolated). */
export function describeTokenFailure(config: CommercetoolsConfig) {
  return (status: number, raw: unknown): SluiceError => {
    const body = (raw !== null && typeof raw === 'object' ? raw : undefined) as CtErrorBody | undefined;
    const code = errorCode(body);
    const host = new URL(authUrlOf(config)).host;
    if (!body) {
      // The edge answered a page instead of the auth server: not a verdict on the credentials.
      return new SluiceError('transient', `commercetools auth server ${host} answered HTTP ${status} with a non-JSON body`, { status });
    }
    if (status === 401 || code === 'invalid_client') {
      return new SluiceError('auth', `invalid client id or secret (or wrong region): the auth server ${host} rejected the API client (${code ?? status}). Check clientId/clientSecret and that the project lives in region ${config.region}.`, { status });
    }
    if (code === 'invalid_scope') {
      return new SluiceError('config', `the API client may not request the configured scopes (${errorMessage(body)}): fix 'scopes' in the source config or the API client's scopes`, { status });
    }
    return new SluiceError('auth', `commercetools auth server ${host} refused a token (HTTP ${status} ${code ?? ''}: ${errorMessage(body)})`, { status });
  };
}

/** Retry tuning (tests shorten the backoff; production uses the core defaults). */
export type Tuning = Partial<Pick<HttpClientOptions, 'retries' | 'minRetryDelayMs' | 'maxRetryDelayMs' | 'timeoutMs'>> & { maxConcurrent?: number; shared?: RateScope };

export function connect(config: CommercetoolsConfig, tuning: Tuning = {}): CommercetoolsClient {
  const auth = oauth2ClientCredentials({
    tokenUrl: `${authUrlOf(config)}/oauth/token`,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    scope: scopeParam(config),
    renewBeforeMs: 10 * 60_000,
    describeFailure: describeTokenFailure(config),
  });
  const http = new HttpClient({
    vendor: 'commercetools',
    baseUrl: apiUrlOf(config),
    auth,
    // No published rate limit: stay polite with bounded concurrency per source.
    governor: concurrencyLimiter({ maxConcurrent: tuning.maxConcurrent ?? 4, shared: tuning.shared }),
    classify: classify(config),
    timeoutMs: tuning.timeoutMs ?? 120_000,
    retries: tuning.retries,
    minRetryDelayMs: tuning.minRetryDelayMs,
    maxRetryDelayMs: tuning.maxRetryDelayMs,
  });
  return { http, auth };
}
