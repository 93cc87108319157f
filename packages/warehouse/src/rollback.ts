import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { rows, scalar } from './duck';
import { withLake } from './lake';
import { assertName, LAKE, type WarehousePaths } from './paths';
import { withLakeRetry } from './retry';
import { quoteIdent as q, quoteLiteral as lit } from './schema';
import { insertSyncSql, readSyncs, readTableState, tableExists, type SyncRecord } from './state';

/**
 * `sluice rollback SOURCE.TABLE --to SNAPSHOT`: a table's rows and its cursor as they were at an earlier
 * snapshot, written as a new snapshot (history is kept: the rollback itself can be travelled back over).
 * In one DuckLake transaction the table's rows are replaced by those it had at the snapshot, and a sync
 * record with outcome 'rolled_back' carries the cursor the table had then, so the next sync re-reads
 * everything since. Columns added after the snapshot stay, NULL in the restored rows.
 */
export class RollbackError extends Error {}

export interface RollbackResult {
  source: string;
  table: string;
  /** The snapshot restored. */
  restoredSnapshot: number;
  restoredSnapshotTime: string;
  /** The snapshot the rollback created. */
  snapshot: number;
  rowsBefore: number;
  rowsAfter: number;
  cursorField?: string;
  cursorBefore?: string;
  cursorAfter?: string;
  /** Columns the table gained after the snapshot (NULL in the restored rows). */
  columnsNulled: string[];
  /** Columns the table had at the snapshot but no longer has (their values cannot be restored). */
  columnsDropped: string[];
  syncId: string;
}

export interface SnapshotInfo {
  id: number;
  time: string;
}

/** A snapshot id, or a time: the latest snapshot at or before it. */
export type SnapshotRef = number | Date;

/** Parses `--to`: a snapshot id (digits) or an ISO timestamp. */
export function parseSnapshotRef(text: string): SnapshotRef {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (!/^\d{4}-\d{2}-\d{2}/.test(t) || !Number.isFinite(ms)) throw new RollbackError(`--to expects a snapshot id (e.g. 12) or an ISO timestamp (e.g. 2026-01-31T12:00:00Z); got "${text}"`);
  return new Date(ms);
}

export async function rollbackTable(paths: WarehousePaths, source: string, table: string, to: SnapshotRef, opts: { onRetry?: (attempt: number, err: Error) => void } = {}): Promise<RollbackResult> {
  assertName('source', source);
  assertName('table', table);
  const target = `${q(source)}.${q(table)}`;
  return withLake(paths, {}, async ({ conn }) => {
    if (!(await tableExists(conn, source, table))) throw new RollbackError(`${source}.${table} is not in the warehouse`);
    const snap = await resolveSnapshot(conn, to);
    const thenColumns = await columnsAt(conn, target, snap.id, `${source}.${table}`);
    const syncId = `rollback-${snap.id}-${Date.now().toString(36)}`;
    // The rows as of the snapshot go through a Parquet file first: inside the transaction, a read AT
    // (VERSION => n) of a table the transaction has already deleted from sees those deletes (DuckLake),
    // and a temp file keeps memory bounded whatever the table's size.
    fs.mkdirSync(paths.tmp, { recursive: true });
    const file = path.join(paths.tmp, `${syncId}.parquet`);
    try {
      await conn.run(`COPY (SELECT * FROM ${target} AT (VERSION => ${snap.id})) TO ${lit(file)} (FORMAT parquet)`);
      return await withLakeRetry(async () => {
        const state = await readTableState(conn, source, table);
        const nowColumns = (await rows(conn, `SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ${lit(source)} AND table_name = ${lit(table)}`)).map((r) => String(r.column_name));
        const columnsNulled = nowColumns.filter((c) => !thenColumns.includes(c));
        const columnsDropped = thenColumns.filter((c) => !nowColumns.includes(c));
        const kept = thenColumns.filter((c) => nowColumns.includes(c));
        // The sync log as it was at the snapshot: the table's committed cursor then.
        const then = (await readSyncs(conn, { source, table, asOf: snap.id, limit: 1000 })).find((s) => s.outcome === 'succeeded' || s.outcome === 'rolled_back');
        const rowsBefore = Number(await scalar(conn, `SELECT count(*) FROM ${target}`));
        const startedAt = new Date().toISOString();
        await conn.run('BEGIN TRANSACTION');
        try {
          await conn.run(`DELETE FROM ${target}`);
          const written = Number(await scalar(conn, `INSERT INTO ${target} BY NAME SELECT ${kept.map(q).join(', ')} FROM read_parquet(${lit(file)})`));
          const rowsAfter = Number(await scalar(conn, `SELECT count(*) FROM ${target}`));
          const warnings = [
            ...(columnsNulled.length ? [`columns added after snapshot ${snap.id} are NULL in the restored rows: ${columnsNulled.join(', ')}`] : []),
            ...(columnsDropped.length ? [`columns the table had at snapshot ${snap.id} no longer exist and were not restored: ${columnsDropped.join(', ')}`] : []),
          ];
          const record: SyncRecord = {
            source,
            table,
            syncId,
            mode: then?.mode ?? state.mode ?? 'incremental',
            fullRefresh: false,
            startedAt,
            finishedAt: new Date().toISOString(),
            outcome: 'rolled_back',
            rowsRead: 0,
            rowsWritten: written,
            tableRows: rowsAfter,
            pages: 0,
            cursorField: then?.cursorField,
            cursorBefore: state.cursor,
            cursorAfter: then?.cursorAfter,
            schemaChanges: [],
            warnings,
            restoredSnapshot: snap.id,
          };
          await conn.run(insertSyncSql(record));
          const extra = { source, table, sync_id: syncId, outcome: 'rolled_back', restored_snapshot: snap.id, cursor: then?.cursorAfter ?? null };
          await conn.run(`CALL ${LAKE}.set_commit_message('sluice', ${lit(`rollback ${source}.${table} to snapshot ${snap.id} (${snap.time}): ${rowsAfter} row(s)`)}, extra_info => ${lit(JSON.stringify(extra))})`);
          await conn.run('COMMIT');
          const snapshot = Number(await scalar(conn, `SELECT max(snapshot_id) FROM ${LAKE}.snapshots() WHERE json_valid(commit_extra_info) AND json_extract_string(commit_extra_info, '$.sync_id') = ${lit(syncId)}`));
          return {
            source,
            table,
            restoredSnapshot: snap.id,
            restoredSnapshotTime: snap.time,
            snapshot,
            rowsBefore,
            rowsAfter,
            cursorField: then?.cursorField,
            cursorBefore: state.cursor,
            cursorAfter: then?.cursorAfter,
            columnsNulled,
            columnsDropped,
            syncId,
          };
        } catch (err) {
          await conn.run('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }, { onRetry: opts.onRetry });
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
}

/** The snapshots time travel can reach, oldest first. */
export async function listSnapshots(conn: DuckDBConnection): Promise<SnapshotInfo[]> {
  return (await rows(conn, `SELECT snapshot_id, snapshot_time FROM ${LAKE}.snapshots() ORDER BY snapshot_id`)).map((r) => ({ id: Number(r.snapshot_id), time: iso(r.snapshot_time) }));
}

/** A snapshot id that exists, or the latest at or before a time; otherwise an error naming the nearest ones. */
export async function resolveSnapshot(conn: DuckDBConnection, to: SnapshotRef): Promise<SnapshotInfo> {
  const all = await listSnapshots(conn);
  const show = (s: SnapshotInfo) => `${s.id} (${s.time})`;
  const range = all.length ? `available: ${show(all[0]!)} … ${show(all.at(-1)!)}` : 'the lake has no snapshots';
  if (typeof to === 'number') {
    const hit = all.find((s) => s.id === to);
    if (hit) return hit;
    const below = all.filter((s) => s.id < to).at(-1);
    const above = all.find((s) => s.id > to);
    const nearest = [below, above].filter((s): s is SnapshotInfo => Boolean(s)).map(show).join(', ');
    const why = all.length && to < all[0]!.id ? 'has expired (maintenance keeps snapshots for its retention)' : all.length && to > all.at(-1)!.id ? 'does not exist yet' : 'is unknown or has expired';
    throw new RollbackError(`snapshot ${to} ${why}; nearest available: ${nearest || 'none'}; ${range}`);
  }
  const hit = all.filter((s) => Date.parse(s.time) <= to.getTime()).at(-1);
  if (hit) return hit;
  throw new RollbackError(`no snapshot at or before ${to.toISOString()} (older ones have expired); ${range}`);
}

/** The table's columns at a snapshot; a clear error when it did not exist then. */
async function columnsAt(conn: DuckDBConnection, target: string, snapshot: number, name: string): Promise<string[]> {
  try {
    return (await rows(conn, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${target} AT (VERSION => ${snapshot}))`)).map((r) => String(r.column_name));
  } catch (err) {
    if (/does not exist/i.test((err as Error).message)) throw new RollbackError(`${name} did not exist at snapshot ${snapshot}: it was created later; roll back to a later snapshot`);
    throw err;
  }
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));
