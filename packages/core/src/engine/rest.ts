import { SluiceError } from '../errors';
import type { Page, ReadContext, ReadDescription, TableSpec } from '../connector';
import type { HttpClient, HttpRequest } from '../http/client';
import { anchoredPageNumber } from '../http/anchored-paging';
import { cursorToken, keysetPaging, nextUrl, offsetPaging, pageNumber, paginate, selectRecords, single, type Paginator } from '../http/paging';
import type { CursorFilter, PagingDecl, Param, RestTableDecl, SliceDecl, Size } from './declaration';
import { isSlicedCheckpoint, runSlices, sliceEdges, type SlicedState } from './slices';
import type { DataRecord, Json } from '../types';

type Ctx = ReadContext<any, any>;
type Query = NonNullable<HttpRequest['query']>;

const configField = (ctx: Ctx, field: string, what: string): unknown => {
  const v = (ctx.config as Record<string, unknown> | undefined)?.[field];
  if (v === undefined || v === null) throw new SluiceError('config', `${ctx.table}: the source's config has no "${field}" (needed for ${what})`);
  return v;
};

export function sizeOf(size: Size, ctx: Ctx): number {
  if (typeof size === 'number') return size;
  const n = Number(configField(ctx, size.config, 'the page size'));
  if (!Number.isInteger(n) || n < 1) throw new SluiceError('config', `${ctx.table}: page size "${size.config}" must be a positive integer`);
  return n;
}

/** `{config.projectKey}` placeholders, URL-encoded. */
export function fillPath(path: string, ctx: Ctx): string {
  return path.replace(/\{config\.([A-Za-z0-9_]+)\}/g, (_m, f: string) => encodeURIComponent(String(configField(ctx, f, `the path ${path}`))));
}

function paramValue(p: Param, ctx: Ctx): Query[string] {
  if (typeof p === 'function') return p(ctx) as Query[string];
  if (p !== null && typeof p === 'object' && !Array.isArray(p)) return configField(ctx, (p as { config: string }).config, 'a request parameter') as Query[string];
  return p as Query[string];
}

/** The filter parameter for the cursor field in use (undefined: this field filters nothing). */
export function filterParam(filter: CursorFilter, field: string): string | undefined {
  if (typeof filter.param === 'string') return filter.param.replaceAll('{field}', field);
  return filter.param[field];
}

/** The filter's value for a lower bound: formatted, then templated. */
export function filterValue(filter: CursorFilter, since: string, field: string): string {
  const v = filter.format ? filter.format(since, field) : since;
  return filter.template ? filter.template.replaceAll('{value}', v) : v;
}

const addTo = (query: Query, param: string, value: string): Query => {
  const had = query[param];
  if (had === undefined || had === null) return { ...query, [param]: value };
  return { ...query, [param]: [...(Array.isArray(had) ? had : [had]), value] as Query[string] };
};

/** Builds the paging kind's paginator for this run. */
function paginatorOf(p: PagingDecl, ctx: Ctx, anchor: { param: string; initial: string | null } | undefined): Paginator<any> {
  const at = (path: string | undefined) => (path ? (body: unknown) => selectRecords(path)(body) as unknown : undefined);
  switch (p.kind) {
    case 'single':
      return single();
    case 'page-number': {
      const pages = at(p.totalPages);
      return pageNumber({ size: sizeOf(p.size, ctx), pageParam: p.pageParam, sizeParam: p.sizeParam, first: p.first, totalPages: pages && ((b) => numberOrUndefined(pages(b))) });
    }
    case 'offset':
      return offsetPaging({ size: sizeOf(p.size, ctx), offsetParam: p.offsetParam, limitParam: p.limitParam, maxOffset: p.maxOffset });
    case 'keyset': {
      const size = sizeOf(p.size, ctx);
      return keysetPaging({
        fields: p.fields,
        size,
        orderKey: p.orderKey,
        apply: (after, req) => {
          const sized = p.sizeParam ? { ...req, query: { ...req.query, [p.sizeParam]: size } } : req;
          if (!after) return sized;
          if (after.some((v) => v === null || v === undefined))
            throw new SluiceError('bad_response', `${ctx.table}: a record without ${p.fields.join('/')} ended a page; cannot page by key`);
          return p.after(after, sized);
        },
      });
    }
    case 'anchored-page-number': {
      if (!anchor) throw new SluiceError('config', `${ctx.table}: anchored paging needs the cursor's filter parameter`);
      const field = ctx.request.cursorField!;
      const pages = at(p.totalPages);
      return anchoredPageNumber({
        size: sizeOf(p.size, ctx),
        pageParam: p.pageParam,
        sizeParam: p.sizeParam,
        totalPages: pages && ((b) => numberOrUndefined(pages(b))),
        anchorParam: anchor.param,
        anchorOf: (r) => p.anchorOf(r, field),
        orderKey: p.orderKey && ((r) => p.orderKey!(r, field)),
        initial: anchor.initial,
      });
    }
    case 'cursor-token': {
      const token = at(p.token)!;
      return cursorToken({ param: p.param, token: (b) => stringOrUndefined(token(b)) });
    }
    case 'next-url': {
      const url = at(p.url)!;
      return nextUrl({ from: 'body', url: (b) => stringOrUndefined(url(b)) });
    }
    case 'link-header':
      return nextUrl({ from: 'link-header' });
  }
}

const numberOrUndefined = (v: unknown) => (typeof v === 'number' ? v : undefined);
const stringOrUndefined = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The engine: one read loop for every declared REST table. It fills the request from the declaration and
 * the run (the cursor's lower bound into its filter, or into the anchor of anchored paging), and drives the
 * paging kind through `paginate`, which owns resume, "done", the repeated-position guard and order guards.
 */
export function restTable<Config, Client extends { http: HttpClient }>(decl: RestTableDecl<Config, Client>): TableSpec<Config, Client> {
  const { request, records, paging, transform, ...table } = decl;
  const select = selectRecords(records);
  const filter = decl.cursor?.filter;
  if (paging.kind === 'anchored-page-number' && !filter) throw new Error(`${decl.name}: anchored paging needs cursor.filter (the parameter the anchor goes into)`);
  return {
    ...table,
    reads: describeRest(decl),
    async *read(ctx) {
      let query: Query = {};
      for (const [k, p] of Object.entries(request.params ?? {})) {
        const v = paramValue(p as Param, ctx);
        if (v !== undefined) query[k] = v;
      }
      const field = ctx.request.cursorField;
      // A window's upper bound (`--until`, inclusive) goes to the vendor when the table has an upper filter.
      const upper = decl.slices?.upper;
      const untilParam = ctx.request.until !== undefined && upper && field !== undefined ? filterParam(upper, field) : undefined;
      if (untilParam) query = addTo(query, untilParam, filterValue(upper!, justAfter(ctx.request.until!), field!));
      const unfiltered = query;
      const since = ctx.request.since;
      if (field !== undefined && decl.cursor && !decl.cursor.fields.includes(field))
        throw new SluiceError('config', `${ctx.table}: cursor "${field}" is not supported; choose one of ${decl.cursor.fields.join(', ')}`);
      let anchor: { param: string; initial: string | null } | undefined;
      if (filter && field) {
        const param = filterParam(filter, field);
        if (paging.kind === 'anchored-page-number') {
          if (!param) throw new SluiceError('config', `${ctx.table}: cursor "${field}" has no filter parameter to anchor on`);
          anchor = { param, initial: since !== undefined ? filterValue(filter, since, field) : null };
        } else if (since !== undefined) {
          if (!param) throw new SluiceError('config', `${ctx.table}: cursor "${field}" cannot filter the request; choose one of ${Object.keys(filter.param).join(', ')}`);
          query = addTo(query, param, filterValue(filter, since, field));
        }
      }
      const base: HttpRequest = { method: request.method ?? 'GET', path: fillPath(request.path, ctx), query, ...(request.body !== undefined ? { json: request.body } : {}), ...(request.cost !== undefined ? { cost: request.cost } : {}) };
      const run: Run = (req, checkpoint, signal, onBody) =>
        paginate({ http: ctx.client.http, request: req, paginator: paginatorOf(paging, ctx, anchor), records: onBody ? (b) => (onBody(b), select(b)) : select, checkpoint, signal, report: ctx.report, table: ctx.table });
      const pages =
        decl.slices && paging.kind === 'keyset' && filter && field !== undefined
          ? readSliceable(decl as RestTableDecl & { slices: SliceDecl }, ctx, base, { ...base, query: unfiltered }, run)
          : run(base, ctx.request.checkpoint, ctx.signal);
      for await (const page of pages) yield transform ? { ...page, records: page.records.map((r: DataRecord) => transform(r, ctx)) } : page;
    },
  };
}

/** The request for one slice: the unfiltered request with the slice's lower edge (the cursor's filter) and upper edge. */
function bounded(unfiltered: HttpRequest, decl: RestTableDecl, ctx: Ctx, lo: string, hi: string | undefined): HttpRequest {
  const field = ctx.request.cursorField!;
  const lower = decl.cursor!.filter!;
  let query = addTo(unfiltered.query ?? {}, filterParam(lower, field)!, filterValue(lower, lo, field));
  if (hi !== undefined) {
    const upper = decl.slices!.upper;
    const param = filterParam(upper, field);
    if (!param) throw new SluiceError('config', `${ctx.table}: cursor "${field}" has no upper-bound filter to slice with`);
    query = addTo(query, param, filterValue(upper, hi, field));
  }
  return { ...unfiltered, query };
}

const DEFAULT_CATCH_UP_MS = 7 * 86400_000;

/** One paged scan; `onBody` sees each response body (the count rides on the first page's). */
type Run = (req: HttpRequest, checkpoint: Json | undefined, signal: AbortSignal, onBody?: (body: unknown) => void) => AsyncGenerator<Page>;

/**
 * A key-set table that may slice: a resumed sliced read keeps its plan; a fresh full read (or a catch-up
 * older than `catchUpMs`) reads its first page with the vendor's count, and slices [first record's cursor,
 * now) when there are at least two pages per reader (without a count: always), in slices of at least two
 * pages. The first page is slice 0's first page, so deciding costs no request. `SLUICE_SLICES=off` never
 * slices; `force` slices every fresh read.
 */
async function* readSliceable(decl: RestTableDecl & { slices: SliceDecl }, ctx: Ctx, base: HttpRequest, unfiltered: HttpRequest, run: Run): AsyncGenerator<Page> {
  const mode = process.env.SLUICE_SLICES;
  const concurrency = sizeOf(decl.slices.concurrency, ctx);
  const paging = decl.paging as Extract<PagingDecl, { kind: 'keyset' }>;
  const field = ctx.request.cursorField!;
  const fields = paging.fields;
  const sliced = (state: SlicedState) =>
    runSlices({
      state,
      concurrency,
      // Each slice: the request without the run's lower bound, bounded by the slice's edges.
      open: (i, cp, signal) => run(bounded(unfiltered, decl, ctx, state.edges[i]!, i < state.edges.length - 2 ? state.edges[i + 1] : undefined), cp, signal),
      tail: (after, cp, signal) => run(bounded(unfiltered, decl, ctx, state.edges.at(-2)!, undefined), cp ?? (after ? { state: { after }, last: null } : undefined), signal),
      lastKey: (r) => fields.map((f) => (r[f] ?? null) as Json),
      signal: ctx.signal,
      report: ctx.report,
      table: ctx.table,
    });
  const cp = ctx.request.checkpoint;
  if (isSlicedCheckpoint(cp)) return yield* sliced(cp.sliced);
  const since = ctx.request.since;
  const now = Date.now();
  const candidate = cp === undefined && mode !== 'off' && concurrency > 1 && (since === undefined || mode === 'force' || now - Date.parse(since) >= (decl.slices.catchUpMs ?? DEFAULT_CATCH_UP_MS));
  if (!candidate) return yield* run(base, cp, ctx.signal);

  // The first page, with the vendor's count.
  const count = decl.slices.count;
  let total: number | undefined;
  const counting = count ? { ...base, query: { ...base.query, ...count.params } } : base;
  const firstPages = run(counting, undefined, ctx.signal, count ? (b) => void (total = Number(selectRecords(count.total)(b))) : undefined);
  const head = await firstPages.next();
  await firstPages.return(undefined);
  if (head.done) return;
  const page = head.value;
  if (count && (total === undefined || !Number.isFinite(total))) {
    throw new SluiceError('bad_response', `${ctx.table}: the count (${count.total}) is missing from the response; cannot size slices`);
  }
  let slices = concurrency * (decl.slices.perReader ?? 4);
  let worth = true;
  if (total !== undefined) {
    const pages = Math.ceil(total / sizeOf(paging.size, ctx));
    worth = pages >= 2 * concurrency || mode === 'force';
    slices = Math.max(2, Math.min(slices, Math.floor(pages / 2)));
  }
  const lo = since ?? page.records[0]?.[field];
  const edges = worth && typeof lo === 'string' && Number.isFinite(Date.parse(lo)) && isDone(page.checkpoint) === false ? sliceEdges(lo, ctx.request.until !== undefined ? justAfter(ctx.request.until) : new Date(now).toISOString(), slices) : [];
  if (edges.length < 3) {
    // One scan: this page, then the rest from its checkpoint (without the count).
    yield page;
    if (!isDone(page.checkpoint)) yield* run(base, page.checkpoint, ctx.signal);
    return;
  }
  ctx.report({ type: 'note', message: `${ctx.table}: reading ${edges.length - 1} slices of ${field}, ${concurrency} at a time` });
  // The page is slice 0's first page: what it holds beyond slice 0's upper edge belongs to later slices.
  const inFirst = page.records.filter((r: DataRecord) => compareIsoLoose(r[field], edges[1]!) < 0);
  const state: SlicedState = { v: 1, edges, states: edges.slice(1).map(() => null) };
  state.states[0] = inFirst.length < page.records.length ? { done: true } : page.checkpoint;
  yield { records: inFirst, checkpoint: { sliced: state as unknown as Json } };
  yield* sliced(state);
}

/** The exclusive bound that keeps `until` in (millisecond timestamps). */
const justAfter = (iso: string) => new Date(Date.parse(iso) + 1).toISOString();

const isDone = (cp: Json) => !!cp && typeof cp === 'object' && (cp as { done?: boolean }).done === true;
const compareIsoLoose = (v: unknown, edge: string) => Date.parse(String(v)) - Date.parse(edge);

/** The catalogue's view of a declared table: endpoint, paging kind and size, and the filter the cursor feeds. */
export function describeRest(decl: Pick<RestTableDecl, 'request' | 'paging' | 'cursor' | 'records' | 'slices'>): ReadDescription {
  const { kind, ...rest } = decl.paging;
  const details: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (typeof v !== 'function' && k !== 'size') details[k] = v;
  const size = 'size' in decl.paging ? decl.paging.size : undefined;
  const params = Object.entries(decl.request.params ?? {}).map(([k, p]) => `${k}=${typeof p === 'function' ? `{${p.name || 'hook'}}` : typeof p === 'object' && !Array.isArray(p) ? `{config.${(p as { config: string }).config}}` : String(p)}`);
  const f = decl.cursor?.filter;
  const filterText = (param: string) => `${param}=${f?.template ?? '{value}'}${f?.format ? ` (value: ${f.format.name || 'vendor format'})` : ''}`;
  const fields = decl.cursor?.fields ?? [];
  // One entry per cursor field when the parameter depends on the field (`{field}Start`, or a map).
  const perField = f && (typeof f.param !== 'string' || (f.param.includes('{field}') && fields.length > 1));
  const filter = !f ? undefined : perField ? Object.fromEntries(fields.flatMap((field) => { const p = filterParam(f, field); return p ? [[field, filterText(p)]] : []; })) : filterText(filterParam(f, fields[0] ?? '') ?? String(f.param));
  return {
    endpoint: `${decl.request.method ?? 'GET'} ${decl.request.path}${params.length ? `?${params.join('&')}` : ''}${decl.records ? ` → ${decl.records}` : ''}`,
    paging: {
      kind,
      ...(size !== undefined ? { pageSize: size } : {}),
      ...details,
      ...(decl.slices
        ? { slices: { concurrency: decl.slices.concurrency, max: (typeof decl.slices.concurrency === 'number' ? decl.slices.concurrency : 1) * (decl.slices.perReader ?? 4), sizedBy: decl.slices.count ? `count (${decl.slices.count.total})` : 'fixed' } }
        : {}),
    },
    ...(filter ? { filter } : {}),
  };
}
