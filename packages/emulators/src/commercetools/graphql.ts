import { buildSchema, graphql, GraphQLError, type GraphQLSchema } from 'graphql';
import type { Endpoint } from './generator';
import { parsePredicate, PredicateError, validate, type Predicate } from './predicate';
import type { Store } from './store';

/**
 * The GraphQL API (`POST /{projectKey}/graphql`), for the query fields Sluice uses: each resource's
 * `QueryResult` (`offset count total exists results`) with `where`, `sort`, `limit` (≤ 500), `offset`
 * (≤ 10,000) as on REST, and the common resource fields (`id version createdAt lastModifiedAt`). Errors come
 * as HTTP 200 with `errors` (and `data.<field>: null`), each with `extensions.code` as the API sends them:
 * `insufficient_scope`, `InvalidInput`; a field outside this subset fails validation as on the real API.
 */
export const GRAPHQL_FIELDS: Partial<Record<Endpoint, string>> = {
  orders: 'orders',
  carts: 'carts',
  customers: 'customers',
  payments: 'payments',
  categories: 'categories',
  'discount-codes': 'discountCodes',
  inventory: 'inventoryEntries',
};

const SDL = `
type Resource { id: String! version: Long! createdAt: DateTime! lastModifiedAt: DateTime! }
type ResourceQueryResult { offset: Int! count: Int! total: Long! exists: Boolean! results: [Resource!]! }
scalar Long
scalar DateTime
type Query {
${Object.values(GRAPHQL_FIELDS)
  .map((f) => `  ${f}(where: String, sort: [String!], limit: Int, offset: Int): ResourceQueryResult!`)
  .join('\n')}
}`;

const fail = (code: string, message: string) => new GraphQLError(message, { extensions: { code } });

export function graphqlApi(deps: { store: Store; scopes: (endpoint: Endpoint, granted: ReadonlySet<string>) => string | undefined; ignoreSort: () => boolean }) {
  const schema: GraphQLSchema = buildSchema(SDL);
  const root: Record<string, unknown> = {};
  for (const [endpoint, field] of Object.entries(GRAPHQL_FIELDS) as [Endpoint, string][]) {
    root[field] = (args: { where?: string | null; sort?: string[] | null; limit?: number | null; offset?: number | null }, granted: ReadonlySet<string>) => {
      const missing = deps.scopes(endpoint, granted);
      if (missing) throw fail('insufficient_scope', `Insufficient scope. One of the following scopes is missing: ${missing}`);
      const limit = args.limit ?? 20;
      const offset = args.offset ?? 0;
      if (limit < 0 || limit > 500) throw fail('InvalidInput', `The limit must be between 0 and 500, got ${limit}.`);
      if (offset < 0 || offset > 10_000) throw fail('InvalidInput', `The offset must be between 0 and 10000, got ${offset}.`);
      const sort: { field: string; dir: 1 | -1 }[] = [];
      for (const s of args.sort ?? []) {
        const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s+(asc|desc)\s*$/i.exec(s);
        if (!m) throw fail('InvalidInput', `Invalid sort expression '${s}', expected '<field> asc|desc'.`);
        sort.push({ field: m[1]!, dir: m[2]!.toLowerCase() === 'asc' ? 1 : -1 });
      }
      let where: Predicate | undefined;
      try {
        if (args.where) {
          where = parsePredicate(args.where);
          validate(where);
        }
        const result = deps.store.query(endpoint, { where, sort: deps.ignoreSort() ? [] : sort, limit, offset, withTotal: true });
        return { offset, count: result.results.length, total: result.total ?? 0, exists: result.results.length > 0, results: result.results };
      } catch (err) {
        if (err instanceof PredicateError) throw fail('InvalidInput', `Malformed parameter: where: ${err.message}`);
        throw err;
      }
    };
  }
  return async (body: unknown, granted: ReadonlySet<string>): Promise<{ data?: unknown; errors?: unknown[] }> => {
    const b = (body ?? {}) as { query?: unknown; variables?: unknown; operationName?: unknown };
    if (typeof b.query !== 'string') return { errors: [{ message: 'Missing the GraphQL query.', extensions: { code: 'InvalidInput' } }] };
    const r = await graphql({ schema, source: b.query, rootValue: root, contextValue: granted, variableValues: (b.variables ?? undefined) as Record<string, unknown> | undefined, operationName: typeof b.operationName === 'string' ? b.operationName : undefined });
    return { ...(r.data !== undefined ? { data: r.data } : {}), ...(r.errors?.length ? { errors: r.errors.map((e) => e.toJSON()) } : {}) };
  };
}
