import type { DataRecord } from '../types';
import type { OrderKey } from './order';
import type { Paginator } from './paging';

/**
 * Page-number paging re-anchored on the sort key (a paging kind for APIs that offer `page`/`pageSize`,
 * a sort, and a `>=` filter on the sort field, but no key-set paging: ShipStation's
 * `sortBy=ModifyDate&modifyDateStart=…`).
 *
 * Plain page numbers over a mutable ordering skip records: when a record on an earlier page changes
 * and moves to the end, every later record slides back one place and the one at the page boundary
 * lands on a page already read. Here, after each page the filter moves up to the sort key of the last
 * record read and paging restarts at page 1, so positions are counted from a point that does not move.
 * Records sharing the anchor value are read twice (the merge keeps one). When the last record's key
 * does not advance the anchor (a page full of one value), the page number advances instead, so paging
 * always progresses. State (the checkpoint): `{ anchor, page }`.
 *
 * The scan is ordered, so each page is checked: non-decreasing in the sort key, and a next page number
 * starts at or after the previous page's last key (inclusive: values repeat). A page restarted from a
 * new anchor may re-read earlier keys by design (the anchor is at the filter's resolution, and a vendor
 * may widen it), so only its own order is checked. `orderKey` gives the key at the API's sort resolution
 * when `anchorOf` is not monotonic in the API's order.
 */
export function anchoredPageNumber(o: {
  size: number;
  pageParam?: string;
  sizeParam?: string;
  /** Reported page count for the current anchor; undefined → stop on a short page. */
  totalPages?: (body: any) => number | undefined;
  /** The filter parameter that receives the anchor (inclusive lower bound). */
  anchorParam: string;
  /**
   * The filter value that still includes `record` (its sort key at the filter's resolution). Values must
   * sort as strings in the same order as the API sorts.
   */
  anchorOf: (record: DataRecord) => string | undefined;
  /** Starting lower bound (from the saved cursor), or null to start from the beginning. */
  initial: string | null;
  /** The record's key in the API's order, compared as the API sorts (default: `anchorOf`); undefined skips the record. */
  orderKey?: (record: DataRecord) => OrderKey | undefined;
}): Paginator<{ anchor: string | null; page: number }> {
  const orderKey =
    o.orderKey ??
    ((r: DataRecord) => {
      const a = o.anchorOf(r);
      return a === undefined ? undefined : [a];
    });
  return {
    kind: 'anchored-page-number',
    initial: { anchor: o.initial, page: 1 },
    order: { key: orderKey, start: 'inclusive', continues: (s: { page: number }) => s.page > 1 },
    apply: (s, req) => ({
      ...req,
      query: { ...req.query, ...(s.anchor !== null ? { [o.anchorParam]: s.anchor } : {}), [o.pageParam ?? 'page']: s.page, [o.sizeParam ?? 'pageSize']: o.size },
    }),
    next: (s, res, records) => {
      const pages = o.totalPages?.(res.body);
      if (pages !== undefined ? s.page >= pages : records.length < o.size) return null;
      const last = records[records.length - 1];
      const anchor = last ? o.anchorOf(last) : undefined;
      if (anchor !== undefined && (s.anchor === null || anchor > s.anchor)) return { anchor, page: 1 };
      return { anchor: s.anchor, page: s.page + 1 };
    },
  };
}
