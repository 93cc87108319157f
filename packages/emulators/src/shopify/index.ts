import { GraphQLError, execute, parse, validate, visit, type ArgumentNode, type ASTNode, type DocumentNode, type FieldNode, type OperationDefinitionNode } from 'graphql';
import { Router, startServer, type EmulatorRequest, type EmulatorResponse, type EmulatorServer } from '../common/http';
import { accessDeniedError, deniedFields } from './access';
import { BulkOperations, type BulkOp } from './bulk';
import { LeakyBucket, actualQueryCost, requestedQueryCost } from './cost';
import { shopifySchema, type ExecContext } from './schema';
import { ShopifyStore, type StoreOptions } from './store';
import type { EmulatorConformance } from '../common/conformance';
import { conformanceHooks } from './conformance';

export { ShopifyStore } from './store';
export { generateCustomers, customerEmail, DEFAULT_SEED, DEFAULT_COUNTS, orderTotals, orderTransactions, money } from './generator';
export type { TransactionRec, CustomerRec, OrderRec, ProductRec, VariantRec, InventoryItemRec, LocationRec } from './generator';
export { gid, parseGid } from './schema';

/**
 * Emulator of the Shopify GraphQL Admin API: `POST /admin/api/{version}/graphql.json` with the
 * `X-Shopify-Access-Token` header (also under `/shops/{shop}/…` so tests can address an unknown shop).
 * Queries are parsed, validated and executed by graphql-js against a schema subset of 2025-01; every
 * response carries `extensions.cost` from a calculated query cost and a per-shop leaky bucket.
 */

export const DEMO_TOKEN = 'shpat_sluice_demo_token_0123456789abcdef';
export const ALL_SCOPES = ['read_orders', 'read_all_orders', 'read_customers', 'read_products', 'read_inventory', 'read_locations'] as const;

export interface ShopifyEmulatorOptions extends StoreOptions {
  port?: number;
  /** Shop subdomain: `<shop>.myshopify.com`. */
  shop?: string;
  /** Bucket size (maximumAvailable) and restore rate in points per second (default 2000 / 1000: Plus). */
  bucketSize?: number;
  restoreRate?: number;
  /** Single-query cost limit (MAX_COST_EXCEEDED above it). */
  maxQueryCost?: number;
  /** Status of a missing-scope answer: Shopify's GraphQL answers 200 with ACCESS_DENIED; some edges 403. */
  accessDeniedStatus?: 200 | 403;
  bulkRowsPerSecond?: number;
  bulkStartDelayMs?: number;
  /** Access tokens and their scopes (default: DEMO_TOKEN with every scope). */
  tokens?: Record<string, readonly string[]>;
  [knob: string]: unknown;
}

export interface ShopifyKnobs {
  /** Frozen store (unpaid bill): every API call answers 402. */
  frozen: boolean;
  accessDeniedStatus: 200 | 403;
  maxQueryCost: number;
  maxPageSize: number;
  bulkRowsPerSecond: number;
  bulkStartDelayMs: number;
  /** The next bulk operation ends FAILED with this code. */
  failNextBulk: BulkOp['failWith'] | undefined;
  /** Clock for the 60-day order window of tokens without read_all_orders. */
  now: () => number;
  /** Misbehaviour: connections accept `sortKey` but page in ID order (a broken API version or proxy). */
  ignoreSortKey: boolean;
}

export interface GraphqlLogEntry {
  query: string;
  variables: Record<string, unknown>;
  operationName?: string;
  requestedCost: number | null;
  actualCost: number | null;
  at: number;
}

export interface ShopifyEmulator extends EmulatorServer {
  shop: string;
  shopDomain: string;
  store: ShopifyStore;
  bucket: LeakyBucket;
  bulk: BulkOperations;
  tokens: Map<string, Set<string>>;
  knobs: ShopifyKnobs;
  stats: { graphql: number; throttled: number; maxCostExceeded: number; requestedCost: number; actualCost: number; bulkRuns: number; bulkDownloads: number };
  /**
   * Every GraphQL request received (after authentication), in order: its text, variables and the cost
   * reported back (`actualCost` null when refused: throttled, too costly, invalid). For tests asserting what
   * a read selected and what it cost. A long-running emulator keeps the last 10,000 to 20,000.
   */
  queries: GraphqlLogEntry[];
  /** GraphQL endpoint for a version. */
  endpoint(version?: string): string;
  /** Hooks for the conformance suite (@sluice/testing). */
  conformance: EmulatorConformance;
}

/**
 * A validation error as Shopify (graphql-ruby) words it. An argument the field does not take is answered
 * in a 200: `{ errors: [{ message: "Field 'customersCount' doesn't accept argument 'limit'", locations,
 * path: ['query SluiceCount', 'c', 'limit'], extensions: { code: 'argumentNotAccepted', name, typeName:
 * 'Field', argumentName } }] }`, with no data. Other rules keep graphql-js's wording.
 */
function validationError(e: GraphQLError, doc: DocumentNode) {
  const m = /^Unknown argument "(\w+)" on field "\w+\.(\w+)"\./.exec(e.message);
  const argNode = e.nodes?.[0];
  if (!m || argNode?.kind !== 'Argument') return { message: e.message, locations: e.locations, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } };
  const [, argumentName, name] = m;
  return {
    message: `Field '${name}' doesn't accept argument '${argumentName}'`,
    locations: e.locations,
    path: pathTo(doc, argNode),
    extensions: { code: 'argumentNotAccepted', name, typeName: 'Field', argumentName },
  };
}

/** graphql-ruby's error path of an argument: the operation (`query Name`), the fields by alias or name, the argument. */
function pathTo(doc: DocumentNode, target: ArgumentNode): string[] | undefined {
  let found: string[] | undefined;
  visit(doc, {
    Argument(node, _key, _parent, _path, ancestors) {
      if (node !== target) return;
      const steps = (ancestors as readonly (ASTNode | readonly ASTNode[])[]).filter((a): a is ASTNode => !Array.isArray(a) && 'kind' in a);
      found = [
        ...steps.flatMap((a): string[] => {
          if (a.kind === 'OperationDefinition') return [[(a as OperationDefinitionNode).operation, (a as OperationDefinitionNode).name?.value].filter(Boolean).join(' ')];
          if (a.kind === 'Field') return [(a as FieldNode).alias?.value ?? (a as FieldNode).name.value];
          return [];
        }),
        node.name.value,
      ];
    },
  });
  return found;
}

const VERSION_RE = /^(\d{4}-(01|04|07|10)|unstable)$/;

export async function start(options: ShopifyEmulatorOptions = {}): Promise<ShopifyEmulator> {
  const shop = options.shop ?? 'sluice-demo';
  const shopDomain = `${shop}.myshopify.com`;
  const store = new ShopifyStore(options);
  // Default: a Shopify Plus store (1000 points/s); tests pass the Standard plan's 100/s when they want it.
  const bucket = new LeakyBucket(options.bucketSize ?? 2000, options.restoreRate ?? 1000);
  const tokens = new Map<string, Set<string>>(Object.entries(options.tokens ?? { [DEMO_TOKEN]: ALL_SCOPES }).map(([t, s]) => [t, new Set(s)]));
  const knobs: ShopifyKnobs = {
    frozen: false,
    accessDeniedStatus: options.accessDeniedStatus ?? 403,
    maxQueryCost: options.maxQueryCost ?? 1000,
    maxPageSize: 250,
    bulkRowsPerSecond: options.bulkRowsPerSecond ?? 50_000,
    bulkStartDelayMs: options.bulkStartDelayMs ?? 100,
    failNextBulk: undefined,
    now: () => Date.now(),
    ignoreSortKey: false,
  };
  const stats = { graphql: 0, throttled: 0, maxCostExceeded: 0, requestedCost: 0, actualCost: 0, bulkRuns: 0, bulkDownloads: 0 };
  const queries: GraphqlLogEntry[] = [];
  const schema = shopifySchema();
  let baseUrl = '';
  let currentScopes: ReadonlySet<string> = new Set();

  const context = (scopes: ReadonlySet<string>): ExecContext => ({
    store,
    shopDomain,
    bulk: false,
    bulkApi: bulk,
    allOrders: scopes.has('read_all_orders'),
    scopes,
    now: knobs.now(),
    maxPageSize: knobs.maxPageSize,
    ignoreSortKey: knobs.ignoreSortKey,
    plan: bucket.restoreRate >= 1000 ? 'Shopify Plus' : bucket.restoreRate >= 200 ? 'Advanced' : 'Basic',
    cache: new Map(),
  });

  const bulk: BulkOperations = new BulkOperations({
    schema,
    context: () => context(currentScopes),
    scopes: () => currentScopes,
    fileUrl: (op) => `${baseUrl}/bulk-files/${op.id}.jsonl?X-Goog-Signature=${op.token}`,
    rowsPerSecond: () => knobs.bulkRowsPerSecond,
    startDelayMs: () => knobs.bulkStartDelayMs,
    takeFailure: () => {
      const f = knobs.failNextBulk;
      knobs.failNextBulk = undefined;
      return f;
    },
  });

  const common = (version: string) => ({ 'x-shopify-api-version': version, 'x-request-id': Math.random().toString(16).slice(2) });

  const graphql = (req: EmulatorRequest): EmulatorResponse => {
    const version = req.params['version']!;
    const reqShop = req.params['shop'] ?? hostShop(req) ?? shop;
    if (reqShop !== shop) {
      return { status: 404, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<!DOCTYPE html><html><head><title>Create an Ecommerce Website and Online Store</title></head><body><h1>Sorry, this shop is currently unavailable.</h1></body></html>' };
    }
    if (!VERSION_RE.test(version)) return { status: 404, body: { errors: 'Not Found' } };
    const headers = common(version);
    const token = req.headers['x-shopify-access-token'];
    const scopes = typeof token === 'string' ? tokens.get(token) : undefined;
    if (!scopes) return { status: 401, headers, body: { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' } };
    if (knobs.frozen) return { status: 402, headers, body: { errors: 'Unavailable Shop' } };

    let body = req.json as { query?: unknown; variables?: unknown; operationName?: unknown } | undefined;
    if (String(req.headers['content-type'] ?? '').includes('application/graphql')) body = { query: req.rawBody };
    if (!body || typeof body.query !== 'string') return { status: 400, headers, body: { errors: { query: 'Required parameter missing or invalid' } } };
    const variables = (body.variables && typeof body.variables === 'object' ? body.variables : {}) as Record<string, unknown>;
    const operationName = typeof body.operationName === 'string' ? body.operationName : undefined;
    stats.graphql++;
    const entry: GraphqlLogEntry = { query: body.query, variables, ...(operationName ? { operationName } : {}), requestedCost: null, actualCost: null, at: Date.now() };
    queries.push(entry);
    if (queries.length > 20_000) queries.splice(0, 10_000);

    let doc: DocumentNode;
    try {
      doc = parse(body.query);
    } catch (e) {
      const g = e as GraphQLError;
      return { status: 200, headers, body: { errors: [{ message: g.message, locations: g.locations }] } };
    }
    const invalid = validate(schema, doc);
    if (invalid.length) return { status: 200, headers, body: { errors: invalid.map((e) => validationError(e, doc)) } };

    const denied = deniedFields(schema, doc, scopes);
    if (denied.length) {
      return { status: knobs.accessDeniedStatus, headers, body: { errors: denied.map((d) => accessDeniedError(d, [d.field])), data: knobs.accessDeniedStatus === 200 ? null : undefined } };
    }

    const requested = requestedQueryCost(schema, doc, variables, operationName);
    entry.requestedCost = requested;
    if (requested > knobs.maxQueryCost) {
      stats.maxCostExceeded++;
      return {
        status: 200,
        headers,
        body: {
          errors: [
            {
              message: `Query cost is ${requested}, which exceeds the single query max cost limit (${knobs.maxQueryCost}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n`,
              extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: knobs.maxQueryCost, documentation: 'https://shopify.dev/api/usage/rate-limits' },
            },
          ],
          extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: bucket.status() } },
        },
      };
    }
    if (!bucket.take(requested)) {
      stats.throttled++;
      return {
        status: 200,
        headers,
        body: {
          errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
          extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: bucket.status() } },
        },
      };
    }
    currentScopes = scopes;
    const result = execute({ schema, document: doc, variableValues: variables, operationName, contextValue: context(scopes) }) as {
      data?: Record<string, unknown> | null;
      errors?: readonly GraphQLError[];
    };
    const actual = Math.min(requested, actualQueryCost(schema, doc, result.data, variables, operationName));
    bucket.refund(requested - actual);
    stats.requestedCost += requested;
    stats.actualCost += actual;
    entry.actualCost = actual;
    if (doc.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'mutation') && result.data?.['bulkOperationRunQuery']) stats.bulkRuns++;
    const out: Record<string, unknown> = {};
    if (result.errors?.length) out['errors'] = result.errors.map((e) => ({ message: e.message, locations: e.locations, path: e.path, extensions: e.extensions }));
    out['data'] = result.data ?? null;
    out['extensions'] = { cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: bucket.status() } };
    return { status: 200, headers, body: out };
  };

  const router = new Router()
    .post('/admin/api/:version/graphql.json', graphql)
    .post('/shops/:shop/admin/api/:version/graphql.json', graphql)
    .get('/bulk-files/:file', (req) => {
      const id = Number(req.params['file']!.replace(/\.jsonl$/, ''));
      const text = bulk.file(id, req.query.get('X-Goog-Signature') ?? '');
      if (text === undefined)
        return { status: 403, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access denied.</Message></Error>' };
      stats.bulkDownloads++;
      return { status: 200, headers: { 'content-type': 'application/jsonl' }, body: text };
    });

  const server = await startServer(router, { port: options.port });
  baseUrl = server.url;
  return Object.assign(server, {
    shop,
    shopDomain,
    store,
    bucket,
    bulk,
    tokens,
    knobs,
    stats,
    queries,
    endpoint: (version = '2025-01') => `${server.url}/admin/api/${version}/graphql.json`,
    conformance: conformanceHooks(store),
  });
}

function hostShop(req: EmulatorRequest): string | undefined {
  const host = String(req.headers['host'] ?? '');
  const m = /^([a-z0-9][a-z0-9-]*)\.myshopify\.com(:\d+)?$/i.exec(host);
  return m?.[1];
}

/** The connector `config:` block pointing at this emulator, with a token holding every scope. */
export function sourceConfig(handle: ShopifyEmulator): Record<string, unknown> {
  const token = [...handle.tokens.entries()].find(([, s]) => s.size >= ALL_SCOPES.length)?.[0] ?? DEMO_TOKEN;
  // A low bulk threshold so the demo's first sync shows a bulk backfill; polling every half second.
  return { shop: handle.shopDomain, accessToken: token, apiVersion: '2025-01', baseUrl: handle.url, bulk: { mode: 'auto', threshold: 500, pollIntervalMs: 500 } };
}
