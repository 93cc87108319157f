import type { DuckDBConnection } from '@duckdb/node-api';
import type { SyncMode } from '@sluice/core';
import { rows } from './duck';
import { LAKE } from './paths';
import { withLakeRetry } from './retry';
import { quoteIdent as q, quoteLiteral as lit, type SchemaChange } from './schema';

/**
 * Sync state lives in the lake itself, in schema `sluice`: `sluice.syncs` is an append-only log of
 * every sync of every table (and of rollbacks). A table's cursor is the `cursor_after` of its newest
 * succeeded (or rolled-back-to) entry, and that entry is inserted in the same DuckLake transaction as
 * the data it covers: the cursor can never be ahead of the data, and a crash before the commit leaves
 * neither. Append-only also means concurrent commits of different tables never conflict on it.
 */
export type SyncOutcome = 'succeeded' | 'failed' | 'rolled_back';

export interface SyncRecord {
  source: string;
  table: string;
  syncId: string;
  mode: SyncMode;
  fullRefresh: boolean;
  startedAt: string;
  finishedAt: string;
  outcome: SyncOutcome;
  rowsRead: number;
  rowsWritten: number;
  /** Rows in the table after this sync. */
  tableRows?: number;
  pages: number;
  cursorField?: string;
  cursorBefore?: string;
  cursorAfter?: string;
  error?: string;
  schemaChanges: SchemaChange[];
  /** Partitions (months) this sync wrote into. */
  monthsTouched?: number;
  /** Primary keys read more than once in this sync (the newest version was kept). */
  duplicateKeys?: number;
  /** Anomalies worth an operator's attention that did not fail the sync. */
  warnings?: string[];
  /** For a rollback: the snapshot restored. */
  restoredSnapshot?: number;
  /**
   * `deletes: reconcile`: rows this sync's reconciliation marked deleted (soft) or removed (hard), and when
   * it committed; both unset when the sync did not reconcile. Set by an UPDATE of this entry in the
   * reconciliation's own transaction (reconcile.ts), after the sync's commit.
   */
  rowsDeleted?: number;
  reconciledAt?: string;
  /**
   * `deletes: { detect: vendor }` (and a reconciliation of a table that has a feed): how far the vendor's delete
   * feed is known to be applied (UTC ISO); the next read of the feed starts there.
   */
  deleteFeedCursor?: string;
}

const COLUMNS: [string, string][] = [
  ['source', 'VARCHAR'],
  ['table', 'VARCHAR'],
  ['sync_id', 'VARCHAR'],
  ['mode', 'VARCHAR'],
  ['full_refresh', 'BOOLEAN'],
  ['started', 'TIMESTAMPTZ'],
  ['finished', 'TIMESTAMPTZ'],
  ['outcome', 'VARCHAR'],
  ['rows_read', 'BIGINT'],
  ['rows_written', 'BIGINT'],
  ['table_rows', 'BIGINT'],
  ['pages', 'BIGINT'],
  ['cursor_field', 'VARCHAR'],
  ['cursor_before', 'VARCHAR'],
  ['cursor_after', 'VARCHAR'],
  ['error', 'VARCHAR'],
  ['schema_changes', 'JSON'],
  ['warnings', 'JSON'],
  ['months_touched', 'BIGINT'],
  ['duplicate_keys', 'BIGINT'],
  ['restored_snapshot', 'BIGINT'],
  ['rows_deleted', 'BIGINT'],
  ['reconciled_at', 'TIMESTAMPTZ'],
  ['delete_feed_cursor', 'VARCHAR'],
];

export const STATE_SCHEMA = 'sluice';
const SYNCS = `${STATE_SCHEMA}.syncs`;

const bootstrapped = new WeakSet<DuckDBConnection>();

/**
 * The Parquet row-group size of every file the lake writes. A write keeps one row group open per month it
 * touches (up to 32 at once): at DuckDB's default (~125 MB a row group) a sliced backfill, whose pages
 * interleave months, ran out of memory at 1M commercetools orders (256 MB limit). 4 MiB × 32 open months
 * stays within half the default limit; a 5 KB record's row group is ~800 rows.
 */
export const ROW_GROUP_BYTES = '4MiB';

/**
 * Creates schema `sluice` and its tables on first use, and adds columns a newer Sluice knows. The
 * sync log is small rows written one per commit: DuckLake inlines them in the catalog instead of
 * writing a Parquet file per sync (maintenance flushes them). Data tables never inline: every row of
 * theirs is in Parquet under the data path.
 */
export async function bootstrapState(conn: DuckDBConnection): Promise<void> {
  if (bootstrapped.has(conn)) return;
  const have = await rows(conn, `SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ${lit(STATE_SCHEMA)} AND table_name = 'syncs'`);
  if (have.length === 0) {
    await withLakeRetry(async () => {
      await conn.run('BEGIN');
      try {
        await conn.run(`CREATE SCHEMA IF NOT EXISTS ${STATE_SCHEMA}`);
        await conn.run(`CREATE TABLE IF NOT EXISTS ${SYNCS} (${COLUMNS.map(([n, t]) => `${q(n)} ${t}`).join(', ')})`);
        await conn.run(`CALL ${LAKE}.set_option('data_inlining_row_limit', 0)`);
        await conn.run(`CALL ${LAKE}.set_option('parquet_row_group_size_bytes', '${ROW_GROUP_BYTES}')`);
        await conn.run(`CALL ${LAKE}.set_commit_message('sluice', 'create the sluice schema')`);
        await conn.run('COMMIT');
        // (a schema's own option can be set only once the schema is committed)
        await conn.run(`CALL ${LAKE}.set_option('data_inlining_row_limit', 1000, schema => ${lit(STATE_SCHEMA)})`);
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        // Another process created it at the same moment: fine.
        if (!/already exists/i.test((err as Error).message)) throw err;
      }
    });
  } else {
    const names = new Set(have.map((r) => String(r.column_name)));
    for (const [n, t] of COLUMNS) if (!names.has(n)) await conn.run(`ALTER TABLE ${SYNCS} ADD COLUMN IF NOT EXISTS ${q(n)} ${t}`);
    // A lake created before the row-group bound gets it once; an operator's own setting is kept.
    const bound = await rows(conn, `SELECT 1 FROM ${LAKE}.options() WHERE option_name = 'parquet_row_group_size_bytes' AND scope = 'GLOBAL'`);
    if (bound.length === 0) await withLakeRetry(() => conn.run(`CALL ${LAKE}.set_option('parquet_row_group_size_bytes', '${ROW_GROUP_BYTES}')`));
  }
  bootstrapped.add(conn);
}

const opt = (v: string | undefined) => (v === undefined || v === null ? 'NULL' : lit(v));
const num = (v: number | undefined) => (v === undefined || v === null || !Number.isFinite(v) ? 'NULL' : String(Math.trunc(v)));

export function insertSyncSql(r: SyncRecord): string {
  const values: Record<string, string> = {
    source: lit(r.source),
    table: lit(r.table),
    sync_id: lit(r.syncId),
    mode: lit(r.mode),
    full_refresh: String(Boolean(r.fullRefresh)),
    started: `${lit(r.startedAt)}::TIMESTAMPTZ`,
    finished: `${lit(r.finishedAt)}::TIMESTAMPTZ`,
    outcome: lit(r.outcome),
    rows_read: num(r.rowsRead),
    rows_written: num(r.rowsWritten),
    table_rows: num(r.tableRows),
    pages: num(r.pages),
    cursor_field: opt(r.cursorField),
    cursor_before: opt(r.cursorBefore),
    cursor_after: opt(r.cursorAfter),
    error: opt(r.error),
    schema_changes: `${lit(JSON.stringify(r.schemaChanges ?? []))}::JSON`,
    warnings: `${lit(JSON.stringify(r.warnings ?? []))}::JSON`,
    months_touched: num(r.monthsTouched),
    duplicate_keys: num(r.duplicateKeys),
    restored_snapshot: num(r.restoredSnapshot),
  };
  return `INSERT INTO ${SYNCS} (${Object.keys(values).map(q).join(', ')}) VALUES (${Object.values(values).join(', ')})`;
}

function toRecord(r: Record<string, unknown>): SyncRecord {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));
  const json = <T>(v: unknown, fallback: T): T => {
    if (v === null || v === undefined) return fallback;
    try {
      return (typeof v === 'string' ? JSON.parse(v) : v) as T;
    } catch {
      return fallback;
    }
  };
  const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
  const s = (v: unknown) => (v === null || v === undefined ? undefined : String(v));
  return {
    source: String(r.source),
    table: String(r.table),
    syncId: String(r.sync_id),
    mode: String(r.mode) as SyncMode,
    fullRefresh: Boolean(r.full_refresh),
    startedAt: iso(r.started),
    finishedAt: iso(r.finished),
    outcome: String(r.outcome) as SyncOutcome,
    rowsRead: Number(r.rows_read ?? 0),
    rowsWritten: Number(r.rows_written ?? 0),
    tableRows: n(r.table_rows),
    pages: Number(r.pages ?? 0),
    cursorField: s(r.cursor_field),
    cursorBefore: s(r.cursor_before),
    cursorAfter: s(r.cursor_after),
    error: s(r.error),
    schemaChanges: json<SchemaChange[]>(r.schema_changes, []),
    warnings: json<string[]>(r.warnings, []),
    monthsTouched: n(r.months_touched),
    duplicateKeys: n(r.duplicate_keys),
    restoredSnapshot: n(r.restored_snapshot),
    rowsDeleted: n(r.rows_deleted),
    reconciledAt: r.reconciled_at === null || r.reconciled_at === undefined ? undefined : iso(r.reconciled_at),
    deleteFeedCursor: s(r.delete_feed_cursor),
  };
}

const ORDER = `ORDER BY finished DESC, sync_id DESC`;

/** The sync log of one table (or all), newest first. `asOf`: the log as it was at a snapshot. */
export async function readSyncs(conn: DuckDBConnection, filter: { source?: string; table?: string; limit?: number; asOf?: number } = {}): Promise<SyncRecord[]> {
  if (!(await hasStateTable(conn))) return [];
  const where = [filter.source ? `source = ${lit(filter.source)}` : undefined, filter.table ? `"table" = ${lit(filter.table)}` : undefined].filter(Boolean);
  const at = filter.asOf !== undefined ? ` AT (VERSION => ${Math.trunc(filter.asOf)})` : '';
  const sql = `SELECT * FROM ${SYNCS}${at} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ${ORDER}${filter.limit ? ` LIMIT ${Math.trunc(filter.limit)}` : ''}`;
  return (await rows(conn, sql)).map(toRecord);
}

export interface TableState {
  /** Whether the lake holds the table. */
  exists: boolean;
  /** The cursor committed with the table's data, and the field it is a value of. */
  cursor?: string;
  cursorField?: string;
  mode?: SyncMode;
  last?: SyncRecord;
  lastSucceeded?: SyncRecord;
}

/** What the next sync of a table starts from. */
export async function readTableState(conn: DuckDBConnection, source: string, table: string): Promise<TableState> {
  const exists = await tableExists(conn, source, table);
  const history = await readSyncs(conn, { source, table, limit: 50 });
  const last = history[0];
  const committed = history.find((s) => s.outcome === 'succeeded' || s.outcome === 'rolled_back') ?? (history.length === 50 ? (await committedSync(conn, source, table)) : undefined);
  return { exists, cursor: committed?.cursorAfter, cursorField: committed?.cursorField, mode: committed?.mode, last, lastSucceeded: committed };
}

async function committedSync(conn: DuckDBConnection, source: string, table: string): Promise<SyncRecord | undefined> {
  const r = await rows(conn, `SELECT * FROM ${SYNCS} WHERE source = ${lit(source)} AND "table" = ${lit(table)} AND outcome IN ('succeeded', 'rolled_back') ${ORDER} LIMIT 1`);
  return r[0] ? toRecord(r[0]) : undefined;
}

export async function findSync(conn: DuckDBConnection, source: string, table: string, syncId: string): Promise<SyncRecord | undefined> {
  if (!(await hasStateTable(conn))) return undefined;
  const r = await rows(conn, `SELECT * FROM ${SYNCS} WHERE source = ${lit(source)} AND "table" = ${lit(table)} AND sync_id = ${lit(syncId)} AND outcome = 'succeeded' LIMIT 1`);
  return r[0] ? toRecord(r[0]) : undefined;
}

async function hasStateTable(conn: DuckDBConnection): Promise<boolean> {
  return (await rows(conn, `SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ${lit(STATE_SCHEMA)} AND table_name = 'syncs'`)).length > 0;
}

export async function tableExists(conn: DuckDBConnection, source: string, table: string): Promise<boolean> {
  return (await rows(conn, `SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ${lit(source)} AND table_name = ${lit(table)}`)).length > 0;
}

/** Every data table of the lake (schema = source). */
export async function lakeTables(conn: DuckDBConnection): Promise<{ source: string; table: string }[]> {
  const r = await rows(conn, `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name <> ${lit(STATE_SCHEMA)} ORDER BY 1, 2`);
  return r.map((x) => ({ source: String(x.schema_name), table: String(x.table_name) }));
}

/**
 * Records a failed sync in the table's history, alone in its transaction: the table's data and cursor
 * stay as they were (the cursor is that of the last committed sync, whatever fails after it).
 */
export async function recordFailure(conn: DuckDBConnection, rec: Omit<SyncRecord, 'outcome' | 'schemaChanges' | 'cursorAfter' | 'cursorBefore'>): Promise<void> {
  await withLakeRetry(async () => {
    const state = await readTableState(conn, rec.source, rec.table);
    const cursor = state.cursorField === rec.cursorField ? state.cursor : undefined;
    await conn.run('BEGIN TRANSACTION');
    try {
      await conn.run(insertSyncSql({ ...rec, outcome: 'failed', schemaChanges: [], cursorBefore: cursor, cursorAfter: cursor }));
      await conn.run(`CALL ${LAKE}.set_commit_message('sluice', ${lit(`sync ${rec.source}.${rec.table} failed`)}, extra_info => ${lit(JSON.stringify({ source: rec.source, table: rec.table, sync_id: rec.syncId, outcome: 'failed' }))})`);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
