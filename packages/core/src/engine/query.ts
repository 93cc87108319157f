import { SluiceError } from '../errors';
import type { ReadContext, ReadDescription, TableSpec } from '../connector';
import type { OrderKey } from '../http/order';
import type { DataRecord } from '../types';
import type { Size } from './declaration';
import { keysetScan, type Position, type ScanPage } from './keyset-scan';
import { sizeOf } from './rest';
import { timeWindows, type WindowRequest } from './windows';

/**
 * A query table as data: a table read through a query language or an RPC rather than REST paths (PostHog's
 * HogQL). The vendor supplies small named hooks: `fetch` (its query text for a position, its transport,
 * its row mapping and its "may have more" rule), `orderKey` when its order is not the raw values', and
 * for time windows `tooLarge` (which error means "narrow the window"). The engine owns the loop, the
 * checkpoint, the guards and the window sizes (./keyset-scan.ts, ./windows.ts).
 */

/** A span: fixed milliseconds, or a number of `unitMs` from the source's config (`{ config: 'windowHours', unitMs: 3_600_000 }`). */
export type Duration = number | { readonly config: string; readonly unitMs: number };

interface ScanDecl {
  readonly size: Size;
  /** The record fields forming the unique key, in the vendor's sort order. */
  readonly fields: readonly [string, ...string[]];
  /** A position as a key that compares as the vendor sorts, when the raw values do not. */
  readonly orderKey?: (position: Position) => OrderKey;
}

export type QueryPagingDecl<Ctx = ReadContext<any, any>> =
  /** Key-set over the whole table: `fetch` answers the page strictly after `after`. */
  | (ScanDecl & { readonly kind: 'keyset'; readonly fetch: (req: { readonly after: Position | null; readonly size: number }, ctx: Ctx) => Promise<ScanPage> })
  /**
   * [since, now) in time windows, key-set inside each; `fields[0]` is the time the windows cut. A first sync
   * (no lower bound) starts `firstSync` before now. `tooLarge` tells which error of `fetch` means the
   * window must be halved.
   */
  | (ScanDecl & {
      readonly kind: 'time-windows';
      readonly window: { readonly initial: Duration; readonly minMs: number; readonly maxMs: number };
      readonly firstSync: Duration;
      readonly tooLarge: (error: unknown) => boolean;
      readonly fetch: (req: WindowRequest & { readonly size: number }, ctx: Ctx) => Promise<ScanPage>;
    });

export interface QueryTableDecl<Config = any, Client = any> extends Omit<TableSpec<Config, Client>, 'read' | 'reads' | 'keyScan'> {
  /** The vendor's name, for messages (`PostHog persons: records came back out of order …`). */
  readonly vendor: string;
  /** What is read, for the catalogue: `POST …/query/: HogQL SELECT … FROM persons ORDER BY id`. */
  readonly query: string;
  /** How the cursor's lower bound enters the query, for the catalogue. */
  readonly filter?: string;
  readonly paging: QueryPagingDecl<ReadContext<Config, Client>>;
  /** A lookup run on every page before it is yielded (the distinct ids of a page of persons), described for the catalogue. */
  readonly perPage?: { readonly describe: string; readonly run: (records: DataRecord[], ctx: ReadContext<Config, Client>) => Promise<DataRecord[]> };
  /**
   * Reconciliation's key scan (`TableSpec.keyScan`) through this same engine: its own query (a select list of
   * the primary key and what the paging orders by) and paging, whose records carry the primary key as the
   * table's read stores it. No `perPage` lookup. The engine runs it with no lower bound, as a full read.
   */
  readonly keyScan?: { readonly query: string; readonly paging: QueryPagingDecl<ReadContext<Config, Client>> };
}

type Ctx = ReadContext<any, any>;

function durationOf(d: Duration, ctx: Ctx, what: string): number {
  if (typeof d === 'number') return d;
  const v = Number((ctx.config as Record<string, unknown> | undefined)?.[d.config]);
  if (!Number.isFinite(v) || v < 0) throw new SluiceError('config', `${ctx.table}: "${d.config}" (${what}) must be a non-negative number`);
  return Math.round(v * d.unitMs);
}

/** The lower bound of the windows: the cursor's (lookback applied by the plan), else `firstSync` before now. */
function rangeOf(ctx: Ctx, firstSync: Duration): { fromMs: number; untilMs: number } {
  const untilMs = Date.now();
  const since = ctx.request.since;
  if (since === undefined) return { fromMs: untilMs - durationOf(firstSync, ctx, 'how far back a first sync reads'), untilMs };
  const fromMs = Date.parse(since);
  if (!Number.isFinite(fromMs)) throw new SluiceError('bad_response', `${ctx.table}: saved cursor "${since}" is not a timestamp`);
  return { fromMs, untilMs };
}

function pagesOf(paging: QueryPagingDecl, ctx: Ctx, vendor: string) {
  const size = sizeOf(paging.size, ctx);
  const scan = { vendor, table: ctx.table, fields: paging.fields, orderKey: paging.orderKey, checkpoint: ctx.request.checkpoint };
  switch (paging.kind) {
    case 'keyset':
      return keysetScan({ ...scan, fetch: (after) => paging.fetch({ after, size }, ctx) });
    case 'time-windows':
      return timeWindows({
        ...scan,
        size,
        window: { initialMs: durationOf(paging.window.initial, ctx, 'the first window'), minMs: paging.window.minMs, maxMs: paging.window.maxMs },
        range: () => rangeOf(ctx, paging.firstSync),
        tooLarge: paging.tooLarge,
        fetch: (req) => paging.fetch({ ...req, size }, ctx),
        report: ctx.report,
        log: ctx.log,
      });
  }
}

/** The engine for a declared query table: runs its paging kind, then its per-page lookup. */
export function queryTable<Config, Client>(decl: QueryTableDecl<Config, Client>): TableSpec<Config, Client> {
  const { vendor, query: _query, filter: _filter, paging, perPage, keyScan, ...table } = decl;
  return {
    ...table,
    reads: describeQuery(decl),
    ...(keyScan ? { keyScan: { reads: describeQuery(keyScan), read: (ctx: Ctx) => pagesOf(keyScan.paging as QueryPagingDecl, ctx, vendor) } } : {}),
    async *read(ctx) {
      for await (const page of pagesOf(paging as QueryPagingDecl, ctx, vendor)) {
        const records = perPage && page.records.length > 0 ? await perPage.run(page.records, ctx) : page.records;
        yield { records, checkpoint: page.checkpoint };
      }
    },
  };
}

const describeSpan = (ms: number) => (ms % 86_400_000 === 0 ? `${ms / 86_400_000} d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms} ms`);

const describeDuration = (d: Duration) => (typeof d === 'number' ? describeSpan(d) : `config.${d.config}`);

/** The catalogue's view of a query table: the query, the paging kind, page size and key, and the filter. */
export function describeQuery(decl: Pick<QueryTableDecl, 'query' | 'filter' | 'paging' | 'perPage'>): ReadDescription {
  const p = decl.paging;
  const key = p.fields.length === 1 ? p.fields[0] : `(${p.fields.join(', ')})`;
  const paging: ReadDescription['paging'] =
    p.kind === 'keyset'
      ? { kind: 'keyset', pageSize: p.size, fields: [...p.fields] }
      : {
          kind: 'time-windows',
          pageSize: p.size,
          window: `${describeDuration(p.window.initial)}, halved when too large (down to ${describeSpan(p.window.minMs)}), doubled when sparse (up to ${describeSpan(p.window.maxMs)})`,
          inside: `keyset ${key}`,
          firstSync: describeDuration(p.firstSync),
        };
  if (decl.perPage) paging.perPage = decl.perPage.describe;
  return { endpoint: decl.query, paging, ...(decl.filter ? { filter: decl.filter } : {}) };
}
