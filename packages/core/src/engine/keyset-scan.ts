import { SluiceError } from '../errors';
import { checkPageOrder, type OrderKey } from '../http/order';
import type { DataRecord, Json } from '../types';

/**
 * A key-set scan over any transport (a query language, an RPC, HTTP): the vendor answers "the next page
 * after this position", the scan owns the loop. It resumes from a checkpoint, stops when the vendor says
 * nothing more may follow, refuses a position that repeats, and checks every page's order (non-decreasing,
 * starting strictly after the previous page's last key) with core's order guard, naming the vendor and
 * the table. Used by query tables (./query.ts), inside each time window (./windows.ts), and as a plain
 * iterator where a connector looks up something per page.
 */

/** The key's values of the last record read, in sort order: what "after" means, as stored in checkpoints. */
export type Position = Json[];

/** One page as the vendor answered it: the records (already mapped) and whether another page may follow. */
export interface ScanPage {
  readonly records: DataRecord[];
  readonly more: boolean;
}

/** Where a resumed scan continues: after a position, or nowhere (it had finished). */
export type ScanCheckpoint = { readonly after: Position } | { readonly done: true };

export interface KeysetScanOptions {
  /** For messages: `PostHog persons: records came back out of order …`. */
  readonly vendor: string;
  readonly table: string;
  /** The record fields forming the unique key, in the vendor's sort order. */
  readonly fields: readonly [string, ...string[]];
  /** Maps a position to a key that compares as the vendor sorts, when the raw values do not (ClickHouse UUIDs). */
  readonly orderKey?: (position: Position) => OrderKey;
  /** The page strictly after `after` (null: the first page). */
  readonly fetch: (after: Position | null) => Promise<ScanPage>;
  /** A checkpoint this scan yielded in an earlier attempt; absent to start at the beginning. */
  readonly checkpoint?: Json;
}

/** The record's position, or undefined when it lacks a key field (it cannot be ordered or paged after). */
export function positionOf(record: DataRecord, fields: readonly string[]): Position | undefined {
  const values = fields.map((f) => record[f]);
  return values.some((v) => v === undefined || v === null) ? undefined : (values as Json[]);
}

/** Reads the scan's checkpoint: 'done', a position, or null (start). */
export function resumeScan(checkpoint: Json | undefined, o: Pick<KeysetScanOptions, 'table' | 'fields'>): Position | null | 'done' {
  if (checkpoint === undefined || checkpoint === null) return null;
  const cp = checkpoint as { done?: unknown; after?: unknown };
  if (cp.done === true) return 'done';
  if (Array.isArray(cp.after) && cp.after.length === o.fields.length) return cp.after as Json[];
  // Connectors' own loops stored a one-field key bare (`{ after: "…" }`); an attempt in flight across the
  // upgrade resumes from it.
  if (o.fields.length === 1 && (typeof cp.after === 'string' || typeof cp.after === 'number')) return [cp.after];
  throw new SluiceError('config', `${o.table}: cannot resume from the checkpoint ${JSON.stringify(checkpoint).slice(0, 200)} (not a key-set position over ${o.fields.join(', ')}); this sync fails, and the next one starts the table afresh`);
}

export async function* keysetScan(o: KeysetScanOptions): AsyncGenerator<{ records: DataRecord[]; checkpoint: ScanCheckpoint }> {
  const from = resumeScan(o.checkpoint, o);
  if (from === 'done') return;
  const orderOf = (p: Position) => (o.orderKey ? o.orderKey(p) : p);
  let after = from;
  const seen = new Set([JSON.stringify(after)]);
  for (;;) {
    const page = await o.fetch(after);
    const positions = page.records.map((r) => positionOf(r, o.fields));
    checkPageOrder({ vendor: o.vendor, table: o.table, keys: positions.map((p) => p && orderOf(p)), after: after && orderOf(after), start: 'strict', fields: o.fields });
    if (!page.more) {
      yield { records: page.records, checkpoint: { done: true } };
      return;
    }
    const last = page.records.length > 0 ? positions[positions.length - 1] : after;
    if (last === undefined) throw new SluiceError('bad_response', `${o.vendor} ${o.table}: a record without ${o.fields.join('/')} ended a page; cannot page by key`);
    // An empty page that claims more, or a vendor echoing the same last record, would loop forever.
    const at = JSON.stringify(last);
    if (last === null || seen.has(at)) throw new SluiceError('bad_response', `${o.vendor} ${o.table}: key-set paging returned the same position twice (${at.slice(0, 200)}); stopping to avoid an endless loop`);
    seen.add(at);
    after = last;
    yield { records: page.records, checkpoint: { after } };
  }
}
