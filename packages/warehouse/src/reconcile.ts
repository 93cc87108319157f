import fs from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { SOFT_DELETE_COLUMN, deletionRefusal, type DeleteHandle } from '@sluice/core/policies/deletes';
import { rows, scalar } from './duck';
import { openLake } from './lake';
import { withLakeRetry } from './retry';
import { quoteIdent as q, quoteLiteral as lit } from './schema';
import { findSync, tableExists } from './state';
import { setCommitMessage, tableColumns } from './commit';

/**
 * Deletions by reconciliation (`deletes: { detect: reconcile }`), the lake side: the keys of every live
 * record at the vendor were written to `keysFiles` (NDJSON, one object of key fields as text per line) by a
 * complete key scan (two scans' files when a positional scan confirmed its misses: a key either lists is live); stored rows whose key is not among them are marked (`soft`: `_sluice_deleted_at`)
 * or removed (`hard`), in one DuckLake transaction with the update of the sync's own `sluice.syncs` entry
 * (`rows_deleted`, `reconciled_at`). Only keys are loaded (a temp table DuckDB spills within its memory
 * limit), never records.
 */
export interface ReconcileInput {
  paths: Parameters<typeof openLake>[0];
  source: string;
  table: string;
  primaryKey: readonly string[];
  handle: DeleteHandle;
  maxFraction: number;
  /** `--confirm-deletes`: go above maxFraction. */
  confirmed: boolean;
  /** The sync this reconciliation follows: its `sluice.syncs` entry records the result. */
  syncId: string;
  keysFiles: readonly string[];
  /** The table has a vendor delete feed: the feed is known applied up to here (the scan's start, less the feed's lag). */
  feedCursor?: string;
  onRetry?: (attempt: number, err: Error) => void;
}

export interface ReconcileResult {
  /** Rows marked deleted (soft) or removed (hard). */
  rowsDeleted: number;
  /** Soft: previously marked rows whose key is live again, unmarked. */
  rowsRestored: number;
  /** Distinct live keys the vendor listed. */
  liveKeys: number;
  /** Rows of the table not marked deleted, before this reconciliation. */
  liveRows: number;
  /** An earlier attempt of this reconciliation had committed: nothing was done again. */
  alreadyDone: boolean;
}

/** The deletion would go above the table's `deletes.maxFraction`; nothing was deleted. */
export class DeletionThresholdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeletionThresholdError';
  }
}

/** When the table was last reconciled (UTC ISO), for `deletes.every`. */
export async function lastReconciledAt(conn: DuckDBConnection, source: string, table: string): Promise<string | undefined> {
  const have = await rows(conn, `SELECT 1 FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'sluice' AND table_name = 'syncs' AND column_name = 'reconciled_at'`);
  if (have.length === 0) return undefined;
  const v = await scalar(conn, `SELECT max(reconciled_at) FROM sluice.syncs WHERE source = ${lit(source)} AND "table" = ${lit(table)}`);
  return v === null || v === undefined ? undefined : v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}

export async function applyReconciliation(input: ReconcileInput): Promise<ReconcileResult> {
  return inLake(input, (conn) => attempt(conn, input));
}

/** One lake session, each attempt retried while the catalog is busy. */
async function inLake<T>(input: { paths: ReconcileInput['paths']; onRetry?: ReconcileInput['onRetry'] }, run: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const session = await openLake(input.paths, { collectGarbage: true });
  try {
    return await withLakeRetry(() => run(session.conn), { onRetry: input.onRetry });
  } finally {
    session.close();
  }
}

async function attempt(conn: DuckDBConnection, input: ReconcileInput): Promise<ReconcileResult> {
  const { source, table } = input;
  const sync = await findSync(conn, source, table, input.syncId);
  // The reconciliation follows the sync's commit and writes into its entry: without one there is nothing
  // to attach it to (and nothing may be deleted on the word of an uncommitted sync).
  if (!sync) throw new Error(`${source}.${table}: sync ${input.syncId} has no committed entry in sluice.syncs; nothing was reconciled`);
  if (sync.reconciledAt) return { rowsDeleted: sync.rowsDeleted ?? 0, rowsRestored: 0, liveKeys: 0, liveRows: 0, alreadyDone: true };
  if (!(await tableExists(conn, source, table))) throw new Error(`${source}.${table} is not in the lake; nothing was reconciled`);

  const soft = input.handle === 'soft';
  const { liveKeys, toDelete, liveRows, ...shape } = await stageKeys(conn, input);

  const refusal = deletionRefusal({ source, table, toDelete, liveRows, maxFraction: input.maxFraction, confirmed: input.confirmed });
  if (refusal) throw new DeletionThresholdError(refusal);

  const now = new Date().toISOString();
  await conn.run('BEGIN TRANSACTION');
  try {
    const rowsDeleted = await removeGone(conn, { ...shape, soft, now, any: toDelete > 0 });
    // A record the vendor lists again (restored, or missed by an earlier scan) is live: unmark it.
    const rowsRestored = soft && shape.hasMark ? Number(await scalar(conn, `UPDATE ${shape.target} SET ${shape.mark} = NULL WHERE ${shape.mark} IS NOT NULL AND EXISTS (SELECT 1 FROM live_keys k WHERE ${shape.matches('k')})`)) : 0;
    await recordDeletion(conn, { source, table, syncId: input.syncId, rowsDeleted, now, feedCursor: input.feedCursor });
    await setCommitMessage(conn, `reconcile ${source}.${table} (deletes: ${input.handle}): ${rowsDeleted} row(s) ${soft ? 'marked deleted' : 'deleted'}`, { source, table, sync_id: input.syncId, reconcile: { handle: input.handle, rows_deleted: rowsDeleted, live_keys: liveKeys } });
    await conn.run('COMMIT');
    return { rowsDeleted, rowsRestored, liveKeys, liveRows, alreadyDone: false };
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

type KeyScan = Pick<ReconcileInput, 'source' | 'table' | 'primaryKey' | 'keysFiles'>;

/**
 * Loads the scanned keys into `temp.live_keys` and the stored live keys absent from them into
 * `temp.gone_keys`, and counts what a reconciliation would delete. Keys compare as text: the key files
 * hold them as text whatever the column's type.
 */
async function stageKeys(conn: DuckDBConnection, input: KeyScan) {
  const shape = await deletionShape(conn, input.source, input.table, input.primaryKey);
  const { target, isLive } = shape;
  const pk = input.primaryKey.map(q);
  await conn.run('DROP TABLE IF EXISTS temp.gone_keys');
  const liveKeys = await keyTable(conn, 'live_keys', input.keysFiles, input.primaryKey);
  await conn.run(`CREATE TEMP TABLE gone_keys AS SELECT ${pk.map((k) => `CAST(${k} AS VARCHAR) AS ${k}`).join(', ')} FROM ${target} WHERE ${isLive} EXCEPT SELECT ${pk.join(', ')} FROM live_keys`);
  const toDelete = Number(await scalar(conn, `SELECT count(*) FROM ${target} WHERE ${shape.goneWhere}`));
  const liveRows = Number(await scalar(conn, `SELECT count(*) FROM ${target} WHERE ${isLive}`));
  return { ...shape, liveKeys, toDelete, liveRows };
}

/** The table a deletion applies to: its soft-delete mark, and how a key table's row matches a stored row. */
async function deletionShape(conn: DuckDBConnection, source: string, table: string, primaryKey: readonly string[]) {
  const target = `${q(source)}.${q(table)}`;
  const hasMark = (await tableColumns(conn, source, table)).some((c) => c.name === SOFT_DELETE_COLUMN);
  const mark = q(SOFT_DELETE_COLUMN);
  // Keys compare as text: the key files hold them as text whatever the column's type.
  const matches = (alias: string) => primaryKey.map((k) => `${alias}.${q(k)} = CAST(${target}.${q(k)} AS VARCHAR)`).join(' AND ');
  const isLive = hasMark ? `${mark} IS NULL` : 'true';
  return { target, hasMark, mark, matches, isLive, goneWhere: `${isLive} AND EXISTS (SELECT 1 FROM gone_keys g WHERE ${matches('g')})` };
}

/** A temp table of the distinct keys the NDJSON files list (each key field as text); empty without any. */
async function keyTable(conn: DuckDBConnection, name: 'live_keys' | 'gone_keys', files: readonly string[], primaryKey: readonly string[]): Promise<number> {
  await conn.run(`DROP TABLE IF EXISTS temp.${name}`);
  const spec = primaryKey.map((k) => `${lit(k)}: 'VARCHAR'`).join(', ');
  const present = files.filter((f) => fs.existsSync(f) && fs.statSync(f).size > 0);
  await conn.run(
    present.length > 0
      ? `CREATE TEMP TABLE ${name} AS SELECT DISTINCT * FROM read_json([${present.map(lit).join(', ')}], format = 'newline_delimited', columns = {${spec}})`
      : `CREATE TEMP TABLE ${name} AS SELECT ${primaryKey.map((k) => `CAST(NULL AS VARCHAR) AS ${q(k)}`).join(', ')} WHERE false`,
  );
  return Number(await scalar(conn, `SELECT count(*) FROM ${name}`));
}

/** Marks (soft, adding the mark column on first use) or removes (hard) the live rows whose key is in `gone_keys`. */
async function removeGone(conn: DuckDBConnection, o: Awaited<ReturnType<typeof deletionShape>> & { soft: boolean; now: string; any: boolean }): Promise<number> {
  if (o.soft && !o.hasMark) await conn.run(`ALTER TABLE ${o.target} ADD COLUMN ${o.mark} TIMESTAMPTZ`);
  if (!o.any) return 0;
  if (o.soft) return Number(await scalar(conn, `UPDATE ${o.target} SET ${o.mark} = TIMESTAMPTZ ${lit(o.now)} WHERE ${o.mark} IS NULL AND EXISTS (SELECT 1 FROM gone_keys g WHERE ${o.matches('g')})`));
  return Number(await scalar(conn, `DELETE FROM ${o.target} WHERE ${o.goneWhere}`));
}

/** The deletion's result on the sync's own `sluice.syncs` entry (and how far a vendor feed is applied). */
async function recordDeletion(conn: DuckDBConnection, o: { source: string; table: string; syncId: string; rowsDeleted: number; now: string; feedCursor?: string }): Promise<void> {
  await conn.run(
    `UPDATE sluice.syncs SET rows_deleted = ${o.rowsDeleted}, reconciled_at = TIMESTAMPTZ ${lit(o.now)}${o.feedCursor ? `, delete_feed_cursor = ${lit(o.feedCursor)}` : ''} WHERE source = ${lit(o.source)} AND "table" = ${lit(o.table)} AND sync_id = ${lit(o.syncId)} AND outcome = 'succeeded'`,
  );
}

/** How many stored live rows the scanned keys miss (what a reconciliation would delete); nothing is changed. */
export async function countMissingKeys(conn: DuckDBConnection, scan: KeyScan): Promise<number> {
  if (!(await tableExists(conn, scan.source, scan.table))) return 0;
  try {
    return (await stageKeys(conn, scan)).toDelete;
  } finally {
    await conn.run('DROP TABLE IF EXISTS temp.live_keys; DROP TABLE IF EXISTS temp.gone_keys');
  }
}

/** How far the table's vendor delete feed is known applied (UTC ISO), from `sluice.syncs`; undefined: never read. */
export async function lastFeedCursor(conn: DuckDBConnection, source: string, table: string): Promise<string | undefined> {
  const have = await rows(conn, `SELECT 1 FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'sluice' AND table_name = 'syncs' AND column_name = 'delete_feed_cursor'`);
  if (have.length === 0) return undefined;
  const v = await scalar(conn, `SELECT max(delete_feed_cursor) FROM sluice.syncs WHERE source = ${lit(source)} AND "table" = ${lit(table)} AND outcome = 'succeeded'`);
  return v === null || v === undefined ? undefined : String(v);
}

/**
 * Deletions from the vendor's own feed (`deletes: { detect: vendor }`), the lake side: the ids the feed
 * listed since the saved feed cursor were written to `idsFile` (NDJSON, `{"<key>": "<id>"}` per line); the
 * stored rows with those keys are marked (`soft`) or removed (`hard`) — by listed key, not by absence — in
 * one DuckLake transaction with the sync's `sluice.syncs` entry (`rows_deleted`, `reconciled_at`, and the
 * new `delete_feed_cursor`). Listed ids not stored (never synced, or deleted already) change nothing.
 */
export interface FeedDeletionInput {
  paths: Parameters<typeof openLake>[0];
  source: string;
  table: string;
  primaryKey: readonly string[];
  handle: DeleteHandle;
  syncId: string;
  idsFile: string;
  /** The feed cursor to save with the deletion. */
  feedCursor: string;
  onRetry?: (attempt: number, err: Error) => void;
}

export interface FeedDeletionResult {
  rowsDeleted: number;
  /** Distinct ids the feed listed. */
  listed: number;
  alreadyDone: boolean;
}

export async function applyFeedDeletions(input: FeedDeletionInput): Promise<FeedDeletionResult> {
  return inLake(input, (conn) => feedAttempt(conn, input));
}

async function feedAttempt(conn: DuckDBConnection, input: FeedDeletionInput): Promise<FeedDeletionResult> {
  const { source, table } = input;
  const sync = await findSync(conn, source, table, input.syncId);
  if (!sync) throw new Error(`${source}.${table}: sync ${input.syncId} has no committed entry in sluice.syncs; nothing was deleted`);
  if (sync.reconciledAt) return { rowsDeleted: sync.rowsDeleted ?? 0, listed: 0, alreadyDone: true };
  if (!(await tableExists(conn, source, table))) throw new Error(`${source}.${table} is not in the lake; nothing was deleted`);

  const soft = input.handle === 'soft';
  const shape = await deletionShape(conn, source, table, input.primaryKey);
  const listed = await keyTable(conn, 'gone_keys', [input.idsFile], input.primaryKey);

  const now = new Date().toISOString();
  await conn.run('BEGIN TRANSACTION');
  try {
    const rowsDeleted = await removeGone(conn, { ...shape, soft, now, any: listed > 0 });
    await recordDeletion(conn, { source, table, syncId: input.syncId, rowsDeleted, now, feedCursor: input.feedCursor });
    await setCommitMessage(conn, `vendor deletes ${source}.${table} (deletes: ${input.handle}): ${rowsDeleted} row(s) ${soft ? 'marked deleted' : 'deleted'}`, {
      source,
      table,
      sync_id: input.syncId,
      delete_feed: { handle: input.handle, rows_deleted: rowsDeleted, listed, cursor: input.feedCursor },
    });
    await conn.run('COMMIT');
    return { rowsDeleted, listed, alreadyDone: false };
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
