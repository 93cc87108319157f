import type { DataRecord, Json } from '../types';

/**
 * Deletions by reconciliation (issue 18, `deletes: { detect: reconcile }`): the keys of every live record
 * are read at the vendor (a full read of the table, keys kept, records dropped), and stored rows whose
 * key is no longer among them are marked (`soft`: `_sluice_deleted_at`) or removed (`hard`).
 * The pure decisions live here; the lake side is @sluice/warehouse's reconcile.ts.
 */
export const DELETE_HANDLES = ['soft', 'hard'] as const;
export type DeleteHandle = (typeof DELETE_HANDLES)[number];

/** The default share of a table's live rows one reconciliation may delete without `--confirm-deletes`. */
export const DEFAULT_MAX_DELETE_FRACTION = 0.5;

/** `deletes:` of a table, resolved (JSON-serialisable: it travels in the workflow's input). */
export interface DeletesPolicy {
  detect: 'reconcile';
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
