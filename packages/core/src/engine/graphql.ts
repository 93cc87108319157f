import { SluiceError } from '../errors';
import { checkPageOrder, type OrderKey } from '../http/order';
import type { Page, ReadContext, ReadDescription, TableSpec } from '../connector';
import type { DataRecord, Json } from '../types';
import type { Size } from './declaration';
import { exportJobPages, ExportUnavailable, type ExportJobDecl } from './export-job';
import { sizeOf } from './rest';

// The export-job kind is exported with the GraphQL kind that uses it as its backfill.
export { exportJobPages, ExportUnavailable, type ExportJobDecl, type ExportStatus } from './export-job';

/**
 * A GraphQL table as data: a connection paged by `pageInfo { hasNextPage endCursor }`, the query's text and
 * transport as small named hooks, optionally cost-sized pages (a vendor's query-cost model as a hook) and a
 * backfill through an asynchronous export job (./export-job.ts). The engine owns the loop, the checkpoint
 * (`{ page: { after, last } }`, then `{ done: true }`), the repeated-cursor guard, the order guard and the
 * page size: a page the vendor refuses as too costly is shrunk and asked again.
 */

/** A connection as GraphQL answers it. */
export interface Connection<Node = Record<string, any>> {
  readonly nodes: Node[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}

/**
 * Thrown by a transport when the vendor refuses a query as costing more than it will ever run (Shopify's
 * MAX_COST_EXCEEDED): the engine tells the cost hook and asks again with a smaller page.
 */
export class QueryTooCostly extends SluiceError {
  constructor(
    readonly cost: number,
    readonly maxCost: number,
    message: string,
  ) {
    super('config', message);
  }
}

/** Cost-sized pages: the vendor's cost model, one per connection read. */
export interface CostSizing {
  /** Items on the next page, for `requested` (the configured size): what the cost budget allows now. */
  size(requested: number): number;
  /** The cost to reserve for a page of `size` (the request's rate-budget cost). */
  estimate(size: number): number;
  /** What a page of `size` really cost, as the vendor reported it (undefined: not reported). */
  calibrate(size: number, cost: number | undefined): void;
  /** A page of `size` was refused as costing `cost`, above the `maxCost` one query may cost. */
  tooCostly(size: number, cost: number, maxCost: number): void;
}

/** The order guard of a sorted connection: each node's key, and whether a page may start at the last key. */
export interface ConnectionOrder<Node = Record<string, any>> {
  readonly key: (node: Node) => OrderKey | undefined;
  readonly start: 'strict' | 'inclusive';
  readonly fields: readonly string[];
}

export interface ConnectionScan<Node = Record<string, any>> {
  /** For messages: `Shopify orders: …`. */
  readonly vendor: string;
  readonly table: string;
  /** The connection's name, for messages (`orders`, `lineItems of gid://…/Order/1`). */
  readonly connection: string;
  /** Items asked per page (before cost sizing). */
  readonly size: number;
  /** The page after `after` (null: the first page); `cost` is the rate budget to reserve, when cost-sized. */
  readonly fetch: (req: { readonly first: number; readonly after: string | null; readonly cost?: number }) => Promise<{ readonly connection: Connection<Node>; readonly cost?: number }>;
  readonly cost?: CostSizing;
  readonly order?: ConnectionOrder<Node>;
  /** Where to start: after this cursor, after this order key (a resumed read). */
  readonly after?: string | null;
  readonly last?: OrderKey | null;
}

/** One page of a connection, with where the next starts (null: none) and the order guard's last key. */
export interface ConnectionPage<Node = Record<string, any>> {
  readonly nodes: Node[];
  readonly next: string | null;
  readonly last: OrderKey | null;
}

/** Pages through a connection: cost-sized pages, the order guard, and a cursor never followed twice. */
export async function* connectionPages<Node>(o: ConnectionScan<Node>): AsyncGenerator<ConnectionPage<Node>> {
  let after = o.after ?? null;
  let last = o.last ?? null;
  const seen = new Set<string>();
  for (;;) {
    const size = o.cost ? o.cost.size(o.size) : o.size;
    let answer;
    try {
      answer = await o.fetch({ first: size, after, ...(o.cost ? { cost: o.cost.estimate(size) } : {}) });
    } catch (e) {
      if (e instanceof QueryTooCostly && o.cost && size > 1) {
        o.cost.tooCostly(size, e.cost, e.maxCost);
        continue;
      }
      throw e;
    }
    o.cost?.calibrate(size, answer.cost);
    const { nodes, pageInfo } = answer.connection;
    if (o.order) last = checkPageOrder({ vendor: o.vendor, table: o.table, keys: nodes.map(o.order.key), after: last, start: o.order.start, fields: o.order.fields });
    const next = pageInfo.hasNextPage ? pageInfo.endCursor : null;
    if (next !== null && seen.has(next)) throw new SluiceError('bad_response', `${o.vendor} ${o.table}: the ${o.connection} connection returned the cursor ${next} twice; stopping to avoid an endless loop`);
    if (next !== null) seen.add(next);
    yield { nodes, next, last };
    if (next === null) return;
    after = next;
  }
}

type Ctx = ReadContext<any, any>;

export interface GraphqlConnectionDecl<C = Ctx> {
  readonly kind: 'graphql-connection';
  readonly size: Size;
  /** The connection's field in the answer's `data` (`orders`). */
  readonly connection: string;
  /** This read's query (variables `$first` and `$after`), and its other variables (a search filter). */
  readonly query: (ctx: C) => { readonly text: string; readonly variables?: Readonly<Record<string, Json>> };
  /** The transport: posts a query, answers its `data` and the cost the vendor reports; throws QueryTooCostly. */
  readonly post: (req: { readonly query: string; readonly variables: Record<string, Json>; readonly cost?: number }, ctx: C) => Promise<{ readonly data: Record<string, unknown>; readonly cost?: number }>;
  /** Cost-sized pages: the vendor's cost model for this query (built once per read, before its first page). */
  readonly cost?: (query: string, ctx: C) => CostSizing | Promise<CostSizing>;
  /** The order guard when this read is sorted. */
  readonly order?: (ctx: C) => ConnectionOrder | undefined;
}

export interface GraphqlTableDecl<Config = any, Client = any> extends Omit<TableSpec<Config, Client>, 'read' | 'reads'> {
  readonly vendor: string;
  /** What is read, for the catalogue. */
  readonly endpoint: string;
  /** How the cursor's lower bound enters the query, for the catalogue. */
  readonly filter?: ReadDescription['filter'];
  readonly paging: GraphqlConnectionDecl<ReadContext<Config, Client>>;
  /** Work done on every page's nodes before they become rows (nested connections completed), described for the catalogue. */
  readonly perPage?: { readonly describe: string | readonly string[]; readonly run: (nodes: Record<string, any>[], ctx: ReadContext<Config, Client>) => Promise<void> };
  /** A backfill through an asynchronous export job; paging when it is not wanted or not available. */
  readonly exportJob?: ExportJobDecl<ReadContext<Config, Client>>;
  /** One row per node, or several (a table of children read through their parents). */
  readonly transform: (node: Record<string, any>) => DataRecord | DataRecord[];
}

type Checkpoint = { done?: true; page?: { after: string | null; last?: Json[] | null }; bulk?: { id: string; skip: number } } | undefined;

const rowsOf = (transform: GraphqlTableDecl['transform'], nodes: Record<string, any>[]): DataRecord[] =>
  nodes.flatMap((n): DataRecord[] => {
    const rows = transform(n);
    return Array.isArray(rows) ? rows : [rows];
  });

async function* pageConnection(decl: GraphqlTableDecl, ctx: Ctx, after: string | null, last: OrderKey | null): AsyncGenerator<Page> {
  const p = decl.paging;
  const { text, variables } = p.query(ctx);
  const order = p.order?.(ctx);
  const cost = p.cost ? await p.cost(text, ctx) : undefined;
  const pages = connectionPages({
    vendor: decl.vendor,
    table: decl.name,
    connection: p.connection,
    size: sizeOf(p.size, ctx),
    cost,
    order,
    after,
    last,
    async fetch(req) {
      const { data, cost: reported } = await p.post({ query: text, variables: { first: req.first, after: req.after, ...variables }, cost: req.cost }, ctx);
      const connection = data[p.connection] as Connection | null | undefined;
      if (!connection) throw new SluiceError('bad_response', `${decl.vendor} answered without ${p.connection}`);
      return { connection, cost: reported };
    },
  });
  for await (const page of pages) {
    if (decl.perPage) await decl.perPage.run(page.nodes, ctx);
    const records = rowsOf(decl.transform, page.nodes);
    const checkpoint: Json = page.next === null ? { done: true } : { page: { after: page.next, ...(order ? { last: page.last as Json[] | null } : {}) } };
    yield { records, checkpoint };
  }
}

/** The engine for a declared GraphQL table: resume, export-job backfill (falling back to paging), paging. */
export function graphqlTable<Config, Client>(decl: GraphqlTableDecl<Config, Client>): TableSpec<Config, Client> {
  const { vendor: _vendor, endpoint: _endpoint, filter: _filter, paging: _paging, perPage: _perPage, exportJob, transform, ...table } = decl;
  return {
    ...table,
    reads: describeGraphql(decl),
    async *read(ctx) {
      const d = decl as GraphqlTableDecl;
      const cp = ctx.request.checkpoint as Checkpoint;
      if (cp?.done) return;
      if (cp?.page) {
        yield* pageConnection(d, ctx, cp.page.after, (cp.page.last as OrderKey | null | undefined) ?? null);
        return;
      }
      if (exportJob && (cp?.bulk || (await exportJob.wanted(ctx)))) {
        try {
          yield* exportJobPages(exportJob, ctx, { resume: cp?.bulk, transform });
          return;
        } catch (e) {
          if (!(e instanceof ExportUnavailable)) throw e;
          ctx.log.warn(`${decl.vendor} ${decl.name}: ${e.message}; paging instead`);
          ctx.report({ type: 'note', message: `${e.message}; paging instead` });
        }
      }
      yield* pageConnection(d, ctx, null, null);
    },
  };
}

/** The catalogue's view of a GraphQL table: the connection, page size, cost sizing, per-page work, backfill. */
export function describeGraphql(decl: Pick<GraphqlTableDecl, 'endpoint' | 'filter' | 'paging' | 'perPage' | 'exportJob'>): ReadDescription {
  const p = decl.paging;
  return {
    endpoint: decl.endpoint,
    paging: {
      kind: p.kind,
      pageSize: p.size,
      ...(p.cost ? { costSized: true } : {}),
      ...(decl.perPage ? { perPage: decl.perPage.describe } : {}),
      ...(decl.exportJob ? { backfill: decl.exportJob.describe } : {}),
    },
    ...(decl.filter ? { filter: decl.filter } : {}),
  };
}
