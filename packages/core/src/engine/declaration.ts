import type { CursorSpec, ReadContext, TableSpec } from '../connector';

export type { ReadDescription } from '../connector';
import type { HttpRequest } from '../http/client';
import type { OrderKey } from '../http/order';
import type { DataRecord, Json } from '../types';

/**
 * A REST table as data: the request, where the records sit, how pages follow each other, which filter
 * the cursor feeds. The engine (./rest.ts) runs it; the catalogue (./catalogue.ts) prints it. Functions
 * appear only as small named hooks where a vendor is truly odd (a predicate language, a time zone).
 */

/** A page size: fixed, or a field of the source's config (`{ config: 'pageSize' }`). */
export type Size = number | { readonly config: string };

type QueryScalar = string | number | boolean;
/**
 * A query parameter: a literal (a list repeats the parameter), a field of the source's config, or a hook
 * for values that depend on the run (the cursor field in use).
 */
export type Param<Ctx = ReadContext<any, any>> = QueryScalar | readonly QueryScalar[] | { readonly config: string } | ((ctx: Ctx) => QueryScalar | readonly QueryScalar[] | undefined);

export interface RequestDecl<Ctx = ReadContext<any, any>> {
  method?: 'GET' | 'POST';
  /** Path with `{config.<field>}` placeholders (URL-encoded when filled): `/{config.projectKey}/orders`. */
  path: string;
  params?: Readonly<Record<string, Param<Ctx>>>;
  /** A JSON body (POST). */
  body?: Json;
  /** Rate-budget cost of one request (HttpRequest.cost), when it is not the governor's default. */
  cost?: number;
}

/**
 * Paging kinds, implemented once in core (../http/paging.ts, ../http/anchored-paging.ts). Response paths
 * (`totalPages`, `token`, `url`, `connection`) are dotted paths into the body.
 */
export type PagingDecl =
  /** One request answers everything (a bare list, a settings endpoint). */
  | { readonly kind: 'single' }
  /** `page` / `pageSize`: stops at the reported page count, else at a short page. Over an order that does not move. */
  | { readonly kind: 'page-number'; readonly size: Size; readonly pageParam?: string; readonly sizeParam?: string; readonly first?: number; readonly totalPages?: string }
  | { readonly kind: 'offset'; readonly size: Size; readonly offsetParam?: string; readonly limitParam?: string; readonly maxOffset?: number }
  /**
   * Key-set over a unique key in the vendor's order: `after` turns the last key into the request's predicate
   * (vendor syntax); the engine checks each page's order. `sizeParam` carries the page size.
   */
  | {
      readonly kind: 'keyset';
      readonly size: Size;
      readonly sizeParam?: string;
      readonly fields: readonly [string, ...string[]];
      readonly after: (key: readonly unknown[], req: HttpRequest) => HttpRequest;
      readonly orderKey?: (record: DataRecord) => OrderKey | undefined;
    }
  /**
   * Page numbers re-anchored on the cursor's sort key (see ../http/anchored-paging.ts); the anchor goes into
   * the cursor's filter parameter, and the saved cursor (formatted by the filter) is the first anchor.
   */
  | {
      readonly kind: 'anchored-page-number';
      readonly size: Size;
      readonly pageParam?: string;
      readonly sizeParam?: string;
      readonly totalPages?: string;
      /** The filter value that still includes the record (its sort key at the filter's resolution). */
      readonly anchorOf: (record: DataRecord, cursorField: string) => string | undefined;
      readonly orderKey?: (record: DataRecord, cursorField: string) => OrderKey | undefined;
    }
  | { readonly kind: 'cursor-token'; readonly param: string; readonly token: string }
  | { readonly kind: 'next-url'; readonly url: string }
  | { readonly kind: 'link-header' };

/**
 * The request filter the cursor's lower bound feeds. `param` may name a parameter per cursor field, or use
 * `{field}` for the field in use (`{field}Start`). `template` wraps the value (`lastModifiedAt >= "{value}"`);
 * `format` turns the UTC ISO bound into what the vendor's filter takes (its time zone, its precision).
 */
export interface CursorFilter {
  readonly param: string | Readonly<Record<string, string>>;
  readonly template?: string;
  readonly format?: (since: string, field: string) => string;
}

/**
 * Sliced reads (key-set tables): a full read (first sync, full refresh) or a large catch-up is split into
 * ranges of the cursor field read concurrently, each key-set paged with its own checkpoint (./slices.ts).
 * The lower edge of a slice goes through the cursor's filter; `upper` is the filter for its upper edge.
 */
export interface SliceDecl {
  readonly upper: CursorFilter;
  /** Slices read at once: the vendor's concurrency ceiling (its governor's). */
  readonly concurrency: Size;
  /** Slices per concurrent reader: more, smaller slices even out skewed data (default 4). */
  readonly perReader?: number;
  /** A catch-up whose lower bound is older than this is sliced too (default 7 days). */
  readonly catchUpMs?: number;
  /**
   * The vendor's count, asked once with the probe request (commercetools: `withTotal=true` → `total`): a read
   * of fewer than two pages per reader is not sliced, and slices are sized to at least two pages each.
   * Without it, the number of slices is fixed.
   */
  readonly count?: { readonly params: Readonly<Record<string, string | number | boolean>>; readonly total: string };
}

export interface RestTableDecl<Config = any, Client = any> extends Omit<TableSpec<Config, Client>, 'read' | 'cursor'> {
  request: RequestDecl<ReadContext<Config, Client>>;
  /** Dotted path to the record list in the body (`results`, `data.orders`); '' for a bare list. */
  records: string;
  paging: PagingDecl;
  cursor?: CursorSpec & { filter?: CursorFilter };
  /** Sliced parallel reads; only with key-set paging. `SLUICE_SLICES=off` disables, `force` slices every read. */
  slices?: SliceDecl;
  transform?: (record: DataRecord, ctx: ReadContext<Config, Client>) => DataRecord;
}
