import { SluiceError } from '../errors';
import type { DataRecord, Json } from '../types';
import type { Page } from '../connector';
import type { HttpClient, HttpRequest, HttpResponse } from './client';
import { checkPageOrder, type OrderKey, type OrderSpec } from './order';

/**
 * Paging kinds, each a small object with one protocol (apply the state to a request, derive the next
 * state from the response, or null when done). The state is the resumable checkpoint. A paginator that
 * yields the same state twice is refused: a whole class of infinite loops cannot happen. A paginator
 * over an ordered scan declares its `order`, and the driver checks every page against it (./order.ts).
 */
export interface Paginator<State extends Json = Json> {
  kind: string;
  initial: State;
  apply(state: State, req: HttpRequest): HttpRequest;
  next(state: State, res: HttpResponse, records: DataRecord[]): State | null;
  /** The scan's order (key-set and anchored paging): each page must follow it. */
  order?: OrderSpec;
}

export const withQuery = (req: HttpRequest, q: HttpRequest['query']): HttpRequest => ({ ...req, query: { ...req.query, ...q } });

/** One request answers everything (a bare list): no paging. */
export function single(): Paginator<Record<string, never>> {
  return { kind: 'single', initial: {}, apply: (_s, req) => req, next: () => null };
}

/** `page` / `pageSize` style (ShipStation): stop when the page is short or the reported page count is reached. */
export function pageNumber(o: { pageParam?: string; sizeParam?: string; size: number; first?: number; totalPages?: (body: any) => number | undefined }): Paginator<{ page: number }> {
  const first = o.first ?? 1;
  return {
    kind: 'page-number',
    initial: { page: first },
    apply: (s, req) => withQuery(req, { [o.pageParam ?? 'page']: s.page, [o.sizeParam ?? 'pageSize']: o.size }),
    next: (s, res, records) => {
      const pages = o.totalPages?.(res.body);
      if (pages !== undefined ? s.page - first + 1 >= pages : records.length < o.size) return null;
      return { page: s.page + 1 };
    },
  };
}

/** `offset` / `limit` style; `maxOffset` guards vendors that refuse deep offsets. */
export function offsetPaging(o: { offsetParam?: string; limitParam?: string; size: number; maxOffset?: number }): Paginator<{ offset: number }> {
  return {
    kind: 'offset',
    initial: { offset: 0 },
    apply: (s, req) => withQuery(req, { [o.offsetParam ?? 'offset']: s.offset, [o.limitParam ?? 'limit']: o.size }),
    next: (s, _res, records) => {
      if (records.length < o.size) return null;
      const offset = s.offset + records.length;
      if (o.maxOffset !== undefined && offset > o.maxOffset)
        throw new SluiceError('bad_response', `offset paging would pass the vendor's maximum offset ${o.maxOffset}; use key-set paging`);
      return { offset };
    },
  };
}

/**
 * Key-set paging: the request carries the last key seen (a tuple of field values, in sort order) and
 * the vendor returns records strictly after it. `apply` receives the key (null on the first page) and
 * builds the predicate; the table stays declarative about which fields form the key. The key must be
 * unique and the vendor's order must be the key's: every page is checked (non-decreasing, strictly
 * after the previous page). `orderKey` maps a record to a key that compares as the vendor sorts, when
 * the raw field values do not.
 */
export function keysetPaging(o: {
  fields: readonly string[];
  size: number;
  apply: (after: readonly unknown[] | null, req: HttpRequest) => HttpRequest;
  orderKey?: (record: DataRecord) => OrderKey | undefined;
}): Paginator<{ after: Json[] | null }> {
  return {
    kind: 'keyset',
    initial: { after: null },
    // A record without the key's fields is skipped here; `apply` refuses to page after it.
    order: { key: o.orderKey ?? ((r) => (o.fields.some((f) => r[f] === undefined || r[f] === null) ? undefined : o.fields.map((f) => r[f]))), start: 'strict', fields: o.fields },
    apply: (s, req) => o.apply(s.after, req),
    next: (_s, _res, records) => {
      if (records.length < o.size) return null;
      const last = records[records.length - 1]!;
      return { after: o.fields.map((f) => (last[f] ?? null) as Json) };
    },
  };
}

/** Opaque next-token in the body (`next`, `endCursor`…); the token goes in a query parameter. */
export function cursorToken(o: { param: string; token: (body: any) => string | null | undefined; extra?: HttpRequest['query'] }): Paginator<{ token: string | null }> {
  return {
    kind: 'cursor-token',
    initial: { token: null },
    apply: (s, req) => withQuery(req, { ...(s.token ? { [o.param]: s.token } : {}), ...o.extra }),
    next: (_s, res) => {
      const t = o.token(res.body);
      return t ? { token: t } : null;
    },
  };
}

/** A full next URL in the body (`next`) or in an RFC 8288 `Link: <…>; rel="next"` header. */
export function nextUrl(o: { from: 'body'; url: (body: any) => string | null | undefined } | { from: 'link-header' }): Paginator<{ url: string | null }> {
  return {
    kind: o.from === 'link-header' ? 'link-header' : 'next-url',
    initial: { url: null },
    apply: (s, req) => (s.url ? { ...req, path: s.url, query: {} } : req),
    next: (_s, res) => {
      if (o.from === 'body') return (o.url(res.body) ?? null) ? { url: o.url(res.body)! } : null;
      const link = res.headers['link'] ?? '';
      const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
      return m ? { url: m[1]! } : null;
    },
  };
}

/** GraphQL connection (`pageInfo { hasNextPage endCursor }`): the cursor goes into the `after` variable. */
export function graphqlConnection(o: { connection: (body: any) => { pageInfo?: { hasNextPage?: boolean; endCursor?: string | null } } | undefined; variable?: string }): Paginator<{ after: string | null }> {
  const v = o.variable ?? 'after';
  return {
    kind: 'graphql-connection',
    initial: { after: null },
    apply: (s, req) => {
      const json = (req.json ?? {}) as { query?: string; variables?: Record<string, unknown> };
      return { ...req, json: { ...json, variables: { ...json.variables, [v]: s.after } } };
    },
    next: (_s, res) => {
      const info = o.connection(res.body)?.pageInfo;
      return info?.hasNextPage && info.endCursor ? { after: info.endCursor } : null;
    },
  };
}

/**
 * Drives a paginator: one request per page, resuming from a checkpoint, refusing a repeated state, and
 * checking each page of an ordered scan against the paginator's order. Yields pages whose checkpoint is
 * the state of the *next* request (with the last order key seen, so a resumed attempt checks the page
 * it resumes at); done pages end the loop.
 */
export async function* paginate<S extends Json>(opts: {
  http: HttpClient;
  request: HttpRequest;
  paginator: Paginator<S>;
  records: (body: any, res: HttpResponse) => DataRecord[];
  checkpoint?: Json;
  signal?: AbortSignal;
  report?: HttpRequest['report'];
  /** The table read, for messages (order guard); default: the request path. */
  table?: string;
}): AsyncGenerator<Page> {
  const p = opts.paginator;
  const cp = opts.checkpoint as { state?: S; last?: Json[] | null; done?: boolean } | undefined;
  let state = cp?.state ?? p.initial;
  if (cp?.done) return;
  let last: OrderKey | null = cp?.last ?? null;
  const seen = new Set<string>();
  for (;;) {
    const key = JSON.stringify(state);
    if (seen.has(key)) throw new SluiceError('bad_response', `${p.kind} paging returned the same position twice (${key.slice(0, 200)}); stopping to avoid an endless loop`);
    seen.add(key);
    const req = p.apply(state, { ...opts.request, signal: opts.signal, report: opts.report });
    const res = await opts.http.request(req);
    const records = opts.records(res.body, res);
    if (!Array.isArray(records)) throw new SluiceError('bad_response', `${opts.http.options.vendor} response to ${req.path} has no record list`);
    if (p.order) {
      const order = p.order;
      const after = order.continues?.(state) === false ? null : last;
      last = checkPageOrder({ vendor: opts.http.options.vendor, table: opts.table ?? req.path, keys: records.map((r) => order.key(r)), after, start: order.start, fields: order.fields });
    }
    const next = p.next(state, res, records);
    if (next === null) {
      yield { records, checkpoint: { done: true } };
      return;
    }
    state = next;
    yield { records, checkpoint: p.order ? { state, last: last as Json[] | null } : { state } };
  }
}

/** Selects records at a dotted path (`results`, `data.orders.nodes`); a function for anything odder. */
export function selectRecords(path: string | ((body: any) => DataRecord[])): (body: any) => DataRecord[] {
  if (typeof path === 'function') return path;
  const parts = path === '' ? [] : path.split('.');
  return (body) => parts.reduce((acc: any, key) => (acc == null ? acc : acc[key]), body);
}
