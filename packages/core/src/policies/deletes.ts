import type { DataRecord, Json } from '../types';

/**
 * Deletions by reconciliation (issue 18, `deletes: { detect: reconcile }`): the keys of every live record
 * are read at the vendor (a full read of the table, keys kept, records dropped), and stored rows whose
 * key is no longer among them are marked (`soft`: `_sluice_deleted_at`) or removed (`hard`).
 * The pure decisions live here; the lake side is @sluice/warehouse's reconcile.ts.
 */
export const DELETE_HANDLES = ['soft', 'hard'] as const;
/** `reconcile`: compare every live key; `vendor`: the table's delete feed at the vendor (`TableSpec.deleteFeed`). */
export const DELETE_DETECTS = ['reconcile', 'vendor'] as const;
export type DeleteDetect = (typeof DELETE_DETECTS)[number];
export type DeleteHandle = (typeof DELETE_HANDLES)[number];

/** The default share of a table's live rows one reconciliation may delete without `--confirm-deletes`. */
export const DEFAULT_MAX_DELETE_FRACTION = 0.5;

/** `deletes:` of a table, resolved (JSON-serialisable: it travels in the workflow's input). */
export interface DeletesPolicy {
  detect: DeleteDetect;
  handle: DeleteHandle;
  /** Reconcile at most this often (ms); undefined: on every sync. */
  everyMs?: number;
  /** `every:` as written, for messages. */
  every?: string;
  /** Above this share of the live rows, the reconciliation stops and asks for --confirm-deletes. */
  maxFraction: number;
}

export const SOFT_DELETE_COLUMN = '_sluice_deleted_at';

/**
 * Whether a reconciliation is due: always without `every`, else when `every` has elapsed since the last one
 * (or there was none). `now` and `last` are epoch ms / ISO.
 */
export function reconcileDue(everyMs: number | undefined, lastReconciledAt: string | undefined, now: number): boolean {
  if (everyMs === undefined || !lastReconciledAt) return true;
  const last = Date.parse(lastReconciledAt);
  return !Number.isFinite(last) || now - last >= everyMs;
}

/**
 * The safety threshold: a reconciliation that would delete more than `maxFraction` of the table's live
 * rows is far more likely a key scan gone wrong (a vendor answering an empty or partial list, a token
 * that sees another store) than a real mass deletion, so it stops and asks the operator. Returns the
 * error message, or undefined when the deletion may go ahead.
 */
export function deletionRefusal(p: { source: string; table: string; toDelete: number; liveRows: number; maxFraction: number; confirmed: boolean }): string | undefined {
  if (p.confirmed || p.toDelete === 0 || p.liveRows === 0) return undefined;
  const fraction = p.toDelete / p.liveRows;
  if (fraction <= p.maxFraction) return undefined;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  return (
    `${p.source}.${p.table}: reconciliation would delete ${p.toDelete} of ${p.liveRows} row(s) (${pct(fraction)}, above deletes.maxFraction ${pct(p.maxFraction)}); nothing was deleted. ` +
    `If the vendor really lost these records, run: sluice sync ${p.source} --table ${p.table} --confirm-deletes`
  );
}

/**
 * Paging by position (page numbers, offsets) is not stable under deletion: a record the vendor deletes
 * during the key scan, on a page already read, moves every later record one place up, and the record at
 * the next page's boundary is read by no page. It would look deleted. Such scans confirm their missing keys
 * with a second complete scan (a key counts as deleted only if both missed it). Key-set, cursor-token and
 * GraphQL-connection paging continue from the last record read, so they skip nothing. An undescribed read
 * is assumed positional.
 */
export function scanSkipsOnDelete(paging: { kind: string } | undefined): boolean {
  return paging === undefined || ['page-number', 'offset', 'anchored-page-number'].includes(paging.kind);
}

/** The key scan is complete only when the read's last checkpoint says so (a read cut short has none). */
export function scanComplete(lastCheckpoint: Json | undefined): boolean {
  return typeof lastCheckpoint === 'object' && lastCheckpoint !== null && !Array.isArray(lastCheckpoint) && (lastCheckpoint as Record<string, Json>).done === true;
}

/**
 * The primary keys of a page as NDJSON lines (each key field as text, so that the lake compares them
 * whatever type the column has). A record without a key field cannot be matched: it is reported, and
 * the caller refuses to reconcile, because a key missing from the list would delete its row.
 */
export function keyLines(records: readonly DataRecord[], primaryKey: readonly string[]): { text: string; missing: number } {
  let text = '';
  let missing = 0;
  for (const r of records) {
    const key: Record<string, string> = {};
    let ok = true;
    for (const k of primaryKey) {
      const v = r[k];
      if (v === null || v === undefined) ok = false;
      else key[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    if (ok) text += `${JSON.stringify(key)}\n`;
    else missing++;
  }
  return { text, missing };
}

/**
 * A vendor feed's events become readable a little after their time (commit order, replication): the saved
 * feed cursor stays this far behind the moment the feed was read, and the next read starts there (an event
 * read twice marks nothing more).
 */
export const FEED_LAG_MS = 5 * 60_000;

/**
 * The feed cursor saved after a complete read of the feed: the later of its last event's time and the read's
 * start less {@link FEED_LAG_MS}, so that a quiet feed (no deletions for weeks) still moves forward and
 * does not look older than the vendor's retention.
 */
export function nextFeedCursor(p: { saved: string | undefined; lastEventAt: string | undefined; readStartedAt: number }): string {
  const candidates = [p.readStartedAt - FEED_LAG_MS, p.lastEventAt ? Date.parse(p.lastEventAt) : NaN, p.saved ? Date.parse(p.saved) : NaN].filter((x) => Number.isFinite(x));
  return new Date(Math.max(...candidates)).toISOString();
}

/**
 * The vendor keeps its delete events `retentionMs` (commercetools Messages: 15 days by default): a saved
 * feed cursor older than that means deletions may have come and gone unread. Returns the error message
 * (nothing is deleted; a reconciliation once catches up), or undefined when the feed can be trusted.
 */
export function feedRetentionRefusal(p: { source: string; table: string; saved: string | undefined; retentionMs: number | undefined; now: number; describe: string }): string | undefined {
  if (!p.saved || p.retentionMs === undefined) return undefined;
  const at = Date.parse(p.saved);
  if (!Number.isFinite(at) || p.now - at <= p.retentionMs) return undefined;
  const days = (ms: number) => `${Math.round((ms / 86_400_000) * 10) / 10} day(s)`;
  return (
    `${p.source}.${p.table}: the vendor's delete feed (${p.describe}) was last read up to ${p.saved}, ${days(p.now - at)} ago, but the vendor keeps its events only ${days(p.retentionMs)}: ` +
    `deletions in between may have been missed; nothing was deleted. Reconcile once to catch up (deletes: { detect: reconcile } for one sync, then back to detect: vendor), ` +
    `or sync more often than every ${days(p.retentionMs)}.`
  );
}
