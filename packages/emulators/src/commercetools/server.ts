import { randomBytes } from 'node:crypto';
import { parseBasicAuth, Router, startServer, type EmulatorRequest, type EmulatorResponse, type EmulatorServer, type Fault } from '../common/http';
import { ENDPOINTS, type Endpoint } from './generator';
import { graphqlApi } from './graphql';
import { parsePredicate, PredicateError, validate, type Predicate } from './predicate';
import { Store, type QueryResult, type StoreOptions } from './store';

/** Scopes that grant read access to each endpoint; the first is the one a 403 names first. */
export const ENDPOINT_SCOPES: Record<Endpoint, readonly string[]> = {
  orders: ['view_orders', 'manage_orders', 'manage_project'],
  carts: ['view_orders', 'manage_orders', 'manage_project'],
  customers: ['view_customers', 'manage_customers', 'manage_project'],
  payments: ['view_payments', 'manage_payments', 'manage_project'],
  'product-projections': ['view_products', 'view_published_products', 'manage_products', 'manage_project'],
  categories: ['view_categories', 'manage_categories', 'view_products', 'manage_products', 'manage_project'],
  'discount-codes': ['view_discount_codes', 'manage_discount_codes', 'manage_project'],
  inventory: ['view_products', 'manage_products', 'manage_project'],
};

/** Scopes that grant reading Messages. */
export const MESSAGES_SCOPES = ['view_messages', 'manage_project'] as const;

export const ALL_VIEW_SCOPES = ['view_orders', 'view_customers', 'view_payments', 'view_products', 'view_categories', 'view_discount_codes'] as const;

export interface ApiClient {
  clientId: string;
  clientSecret: string;
  /** Scope names without the project suffix (`view_orders`). */
  scopes: string[];
}

interface TokenInfo {
  clientId: string;
  scopes: Set<string>;
  expiresAt: number;
}

export interface ListEvent {
  endpoint: Endpoint;
  query: URLSearchParams;
  result: QueryResult;
  request: EmulatorRequest;
}

export interface InjectOptions {
  /** HTTP status (default 503). */
  status?: number;
  /** Error code in the JSON body (default by status: TooManyRequests, OverCapacity, General; e.g. QueryTimedOut with 400). */
  code?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Retry-After header, seconds. */
  retryAfter?: number;
  /** Only requests whose path matches. */
  path?: RegExp;
}

export interface CommercetoolsEmulator extends EmulatorServer {
  projectKey: string;
  store: Store;
  clients: Map<string, ApiClient>;
  tokens: Map<string, TokenInfo>;
  /** Lifetime of new tokens, seconds (real API: 172800). */
  tokenTtlSeconds: number;
  /**
   * Misbehaviour switch: list requests ignore `sort` and return records in storage order (the `where`
   * predicate still applies), as a misconfigured proxy or a broken API version would. Key-set paging
   * over such answers skips and repeats records; the connector must fail loudly instead.
   */
  ignoreSort: boolean;
  /** Called after each list request was answered from the store and before the response is sent. */
  afterList: ((event: ListEvent) => void | Promise<void>) | undefined;
  addClient(client: ApiClient): void;
  /** Makes every issued token invalid (the next API call gets 401 invalid_token). */
  expireTokens(): void;
  /** Injects `times` failures on API (non-token) requests: a JSON error, 429 with Retry-After, or an HTML page. */
  inject(kind: 'status' | 'html' | 'reset', opts?: InjectOptions): Fault;
  tokenRequests(): number;
}

export function errorBody(statusCode: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  return { statusCode, message, errors: [{ code, message, ...extra }] };
}

const json = (status: number, body: unknown, headers?: Record<string, string>): EmulatorResponse => ({ status, body, headers });
const invalidInput = (message: string) => json(400, errorBody(400, 'InvalidInput', message));

export interface ServerOptions extends Omit<StoreOptions, 'clientId'> {
  port?: number;
  clients: ApiClient[];
  tokenTtlSeconds?: number;
  latencyMs?: number;
  ignoreSort?: boolean;
}

export async function startCommercetools(opts: ServerOptions): Promise<CommercetoolsEmulator> {
  const projectKey = opts.projectKey;
  const store = new Store({ ...opts, clientId: opts.clients[0]?.clientId ?? 'sluice-emulator' });
  const clients = new Map(opts.clients.map((c) => [c.clientId, c]));
  const tokens = new Map<string, TokenInfo>();
  let tokenRequests = 0;
  // Assigned once the server is up; routes only run after that.
  // eslint-disable-next-line prefer-const -- assigned once the server is up, read by the handlers above it
  let self!: CommercetoolsEmulator;
  const router = new Router();

  router.post('/oauth/token', (req) => {
    tokenRequests++;
    const creds = parseBasicAuth(req.headers.authorization);
    const client = creds && clients.get(creds.user);
    if (!client || client.clientSecret !== creds!.password) {
      const msg = 'Please provide valid client credentials using HTTP Basic Authentication.';
      return json(401, { ...errorBody(401, 'invalid_client', msg), error: 'invalid_client', error_description: msg });
    }
    const grant = req.form.get('grant_type');
    if (grant !== 'client_credentials') {
      const msg = `Unsupported grant type '${grant ?? ''}'.`;
      return json(400, { ...errorBody(400, 'unsupported_grant_type', msg), error: 'unsupported_grant_type', error_description: msg });
    }
    let granted = new Set(client.scopes);
    const requested = req.form.get('scope');
    if (requested) {
      granted = new Set();
      for (const s of requested.split(/\s+/).filter(Boolean)) {
        const [name, key] = s.split(':');
        if (key !== projectKey || !client.scopes.includes(name!)) {
          const msg = `Invalid scope: ${s}`;
          return json(400, { ...errorBody(400, 'invalid_scope', msg), error: 'invalid_scope', error_description: msg });
        }
        granted.add(name!);
      }
    }
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, { clientId: client.clientId, scopes: granted, expiresAt: Date.now() + self.tokenTtlSeconds * 1000 });
    return json(200, {
      access_token: token,
      token_type: 'Bearer',
      expires_in: self.tokenTtlSeconds,
      scope: [...granted].map((s) => `${s}:${projectKey}`).join(' '),
    });
  });

  const invalidToken = (message = 'invalid_token') => json(401, { ...errorBody(401, 'invalid_token', message), error: 'invalid_token', error_description: message });

  function authorize(req: EmulatorRequest, endpoint: Endpoint | undefined): EmulatorResponse | undefined {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return invalidToken('Missing or malformed Authorization header: a Bearer token is required.');
    const info = tokens.get(header.slice(7));
    if (!info || info.expiresAt <= Date.now()) return invalidToken();
    if (req.params.projectKey !== projectKey) {
      const msg = `The Resource with key '${req.params.projectKey}' was not found.`;
      return json(404, errorBody(404, 'ResourceNotFound', msg));
    }
    if (endpoint) {
      const allowed = ENDPOINT_SCOPES[endpoint];
      if (!allowed.some((s) => info.scopes.has(s))) {
        const msg = `Insufficient scope. One of the following scopes is missing: ${allowed.join(', ')}`;
        return json(403, { ...errorBody(403, 'insufficient_scope', msg), error: 'insufficient_scope', error_description: msg });
      }
    }
    return undefined;
  }

  function requireScope(req: EmulatorRequest, allowed: readonly string[]): EmulatorResponse | undefined {
    const info = tokens.get((req.headers.authorization ?? '').slice(7));
    if (info && allowed.some((s) => info.scopes.has(s))) return undefined;
    const msg = `Insufficient scope. One of the following scopes is missing: ${allowed.join(', ')}`;
    return json(403, { ...errorBody(403, 'insufficient_scope', msg), error: 'insufficient_scope', error_description: msg });
  }

  function parseQuery(q: URLSearchParams): { where?: Predicate; sort: { field: string; dir: 1 | -1 }[]; limit: number; offset: number; withTotal: boolean } | EmulatorResponse {
    const int = (name: string, def: number, max: number): number | EmulatorResponse => {
      const raw = q.get(name);
      if (raw === null) return def;
      if (!/^\d+$/.test(raw) || Number(raw) > max) return invalidInput(`The query parameter '${name}' must be an integer between 0 and ${max}, got '${raw}'.`);
      return Number(raw);
    };
    const limit = int('limit', 20, 500);
    if (typeof limit !== 'number') return limit;
    const offset = int('offset', 0, 10_000);
    if (typeof offset !== 'number') return offset;
    const wt = q.get('withTotal');
    if (wt !== null && wt !== 'true' && wt !== 'false') return invalidInput(`The query parameter 'withTotal' must be true or false, got '${wt}'.`);
    const vars: Record<string, string> = {};
    for (const [k, v] of q) if (k.startsWith('var.')) vars[k.slice(4)] = v;
    const sort: { field: string; dir: 1 | -1 }[] = [];
    for (const s of q.getAll('sort')) {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s+(asc|desc)\s*$/i.exec(s);
      if (!m) return invalidInput(`Malformed parameter: sort: Invalid sort expression '${s}', expected '<field> asc|desc'.`);
      sort.push({ field: m[1]!, dir: m[2]!.toLowerCase() === 'asc' ? 1 : -1 });
    }
    const preds: Predicate[] = [];
    for (const w of q.getAll('where')) {
      try {
        const p = parsePredicate(w, vars);
        validate(p);
        preds.push(p);
      } catch (err) {
        if (err instanceof PredicateError) return invalidInput(`Malformed parameter: where: ${err.message}`);
        throw err;
      }
    }
    const where = preds.length === 0 ? undefined : preds.length === 1 ? preds[0] : { type: 'and' as const, items: preds };
    return { where, sort, limit, offset, withTotal: wt !== 'false' };
  }

  for (const endpoint of ENDPOINTS) {
    router.get(`/:projectKey/${endpoint}`, async (req) => {
      const denied = authorize(req, endpoint);
      if (denied) return denied;
      const q = parseQuery(req.query);
      if ('status' in q) return q;
      let result: QueryResult;
      try {
        result = store.query(endpoint, self.ignoreSort ? { ...q, sort: [] } : q);
      } catch (err) {
        if (err instanceof PredicateError) return invalidInput(`Malformed parameter: where: ${err.message}`);
        throw err;
      }
      if (self.afterList) await self.afterList({ endpoint, query: req.query, result, request: req });
      return json(200, {
        limit: q.limit,
        offset: q.offset,
        count: result.results.length,
        ...(result.total !== undefined ? { total: result.total } : {}),
        results: result.results,
      });
    });
    router.get(`/:projectKey/${endpoint}/:id`, (req) => {
      const denied = authorize(req, endpoint);
      if (denied) return denied;
      const doc = store.get(endpoint, req.params.id!);
      if (!doc) {
        const msg = `The Resource with ID '${req.params.id}' was not found.`;
        return json(404, errorBody(404, 'ResourceNotFound', msg));
      }
      return json(200, doc);
    });
  }
  // Messages: the API's change feed (here the ResourceDeleted family the store records on remove).
  router.get('/:projectKey/messages', (req) => {
    const denied = authorize(req, undefined) ?? requireScope(req, MESSAGES_SCOPES);
    if (denied) return denied;
    const q = parseQuery(req.query);
    if ('status' in q) return q;
    let result: QueryResult;
    try {
      result = store.queryMessages(q);
    } catch (err) {
      if (err instanceof PredicateError) return invalidInput(`Malformed parameter: where: ${err.message}`);
      throw err;
    }
    return json(200, { limit: q.limit, offset: q.offset, count: result.results.length, ...(result.total !== undefined ? { total: result.total } : {}), results: result.results });
  });
  // The GraphQL API: the resources' query fields (./graphql.ts), with the REST scopes per field.
  const graphqlQuery = graphqlApi({
    store,
    ignoreSort: () => self.ignoreSort,
    scopes: (endpoint, granted) => (ENDPOINT_SCOPES[endpoint].some((s) => granted.has(s)) ? undefined : ENDPOINT_SCOPES[endpoint].join(', ')),
  });
  router.post('/:projectKey/graphql', async (req) => {
    const denied = authorize(req, undefined);
    if (denied) return denied;
    return json(200, await graphqlQuery(req.json, tokens.get((req.headers.authorization ?? '').slice(7))!.scopes));
  });
  router.get('/:projectKey', (req) => {
    const denied = authorize(req, undefined);
    if (denied) return denied;
    return json(200, { key: projectKey, name: projectKey, countries: ['DE', 'NL', 'FR', 'US', 'AU'], currencies: ['EUR', 'USD', 'AUD'], languages: ['en', 'de'], createdAt: '2023-11-02T09:00:00.000Z', version: 3 });
  });

  const server = await startServer(router, {
    port: opts.port,
    notFound: (req) => json(404, errorBody(404, 'ResourceNotFound', `The endpoint '${req.path}' was not found.`)),
  });
  server.latencyMs = opts.latencyMs ?? 0;
  self = Object.assign(server, {
    projectKey,
    store,
    clients,
    tokens,
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 172_800,
    ignoreSort: opts.ignoreSort ?? false,
    afterList: undefined,
    addClient: (c: ApiClient) => void clients.set(c.clientId, c),
    expireTokens: () => tokens.clear(),
    inject(kind: 'status' | 'html' | 'reset', o: InjectOptions = {}): Fault {
      const status = o.status ?? 503;
      const body = o.code
        ? errorBody(status, o.code, o.code === 'QueryTimedOut' ? 'The query timed out. Please refine the query predicate.' : `Injected ${o.code}.`)
        : status === 429
          ? errorBody(429, 'TooManyRequests', 'Too many requests.')
          : status === 503
            ? errorBody(503, 'OverCapacity', 'The service is temporarily over capacity. Please retry.')
            : errorBody(status, 'General', `Injected ${status}.`);
      const fault: Fault = {
        match: (req) => req.path !== '/oauth/token' && (!o.path || o.path.test(req.path)),
        times: o.times ?? 1,
        kind:
          kind === 'html'
            ? { type: 'html', status }
            : kind === 'reset'
              ? { type: 'reset' }
              : { type: 'status', status, body, headers: o.retryAfter !== undefined ? { 'retry-after': String(o.retryAfter) } : undefined },
      };
      server.faults.push(fault);
      return fault;
    },
    tokenRequests: () => tokenRequests,
  }) as CommercetoolsEmulator;
  return self;
}
