import { SluiceError } from '../errors';

/**
 * Order guards for ordered scans. Key-set paging (and page numbers re-anchored on a sort key) is only
 * correct when the vendor really returns records in the requested order: an API that ignores `sort`
 * makes "after the last key" skip some records and repeat others, and the sync would still look
 * successful. So every page is checked: its keys must be non-decreasing, and it must start after the
 * previous page's last key (strictly for a unique key, at or after for one that may repeat). A violation
 * fails the table with a non-retryable error (retrying reads the same disorder) before anything is
 * committed.
 *
 * A key is a tuple of the record's sort values in sort order (`[lastModifiedAt, id]`), compared element
 * by element: null first, numbers (and bigints) numerically, strings by code point (the byte order of
 * UTF-8, which is how databases without a collation compare). Connectors map values whose vendor order
 * is something else (ClickHouse UUIDs, wall clocks) to keys that sort as the vendor sorts.
 */
export type OrderKey = readonly unknown[];

/** How a paging kind declares its order, for the driver to check each page. */
export interface OrderSpec {
  /** The record's key in the scan's order; undefined skips the record (no usable key). */
  key: (record: Record<string, unknown>) => OrderKey | undefined;
  /** `strict`: a page starts strictly after the previous page's last key (unique keys); `inclusive`: at or after. */
  start: 'strict' | 'inclusive';
  /** Names of the key's fields, for messages. */
  fields?: readonly string[];
  /**
   * Whether the request for `state` continues where the previous page ended, so its first record must
   * follow that page's last key (default: always). A paginator that restarts from a lower bound it moved
   * back on purpose (anchored paging re-reads the anchor value) answers false there; its pages are still
   * checked within themselves.
   */
  continues?: (state: any) => boolean;
}

function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 code units misorder code points above U+FFFF against U+E000..U+FFFF: surrogates sort last.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function compareValues(a: unknown, b: unknown): number {
  const na = a === null || a === undefined;
  const nb = b === null || b === undefined;
  if (na || nb) return na === nb ? 0 : na ? -1 : 1;
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return compareStrings(typeof a === 'string' ? a : JSON.stringify(a), typeof b === 'string' ? b : JSON.stringify(b));
}

/** Compares two keys element by element; a shorter key that is a prefix of the other sorts first. */
export function compareKeys(a: OrderKey, b: OrderKey): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

const show = (key: OrderKey, fields?: readonly string[]) => {
  const text = key.length === 1 ? JSON.stringify(key[0]) : `(${key.map((v) => JSON.stringify(v)).join(', ')})`;
  const label = fields && fields.length === key.length ? `${fields.length === 1 ? fields[0] : `(${fields.join(', ')})`} ` : '';
  return `${label}${text.length > 300 ? `${text.slice(0, 300)}…` : text}`;
};

export interface PageOrderCheck {
  vendor: string;
  table: string;
  /** The page's keys in the order the vendor returned them (undefined: a record without a usable key, skipped). */
  keys: readonly (OrderKey | undefined)[];
  /** The last key of the previous page (from the checkpoint when resuming); null or undefined on the first page. */
  after: OrderKey | null | undefined;
  /** Default `strict`. */
  start?: 'strict' | 'inclusive';
  /** Names of the key's fields, for the message. */
  fields?: readonly string[];
}

/**
 * Checks one page of an ordered scan and returns its last key (or `after` when the page has no keyed
 * record), to be passed as `after` for the next page. Throws SluiceError `inconsistent` naming the
 * vendor, the table and the two keys that are out of order.
 */
export function checkPageOrder(o: PageOrderCheck): OrderKey | null {
  const strict = (o.start ?? 'strict') === 'strict';
  let prev = o.after ?? null;
  let first = true;
  for (const key of o.keys) {
    if (key === undefined) continue;
    if (prev !== null) {
      const c = compareKeys(key, prev);
      const startsPage = first && o.after !== null && o.after !== undefined;
      if (c < 0 || (c === 0 && startsPage && strict)) {
        const where = startsPage
          ? `a page starts at ${show(key, o.fields)}, which is not ${strict ? 'after' : 'at or after'} the previous page's last key ${show(prev, o.fields)}`
          : `${show(key, o.fields)} follows ${show(prev, o.fields)} within one page`;
        throw new SluiceError(
          'inconsistent',
          `${o.vendor} ${o.table}: records came back out of order (${where}). Paging by key relies on the API's sort order; read this way it would skip some records and repeat others, so the table's sync stops here and nothing is committed. Is the API (or a proxy in front of it) ignoring the sort?`,
        );
      }
    }
    prev = key;
    first = false;
  }
  return prev;
}
