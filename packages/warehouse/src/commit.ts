import fs from 'node:fs';
import type { ColumnType, SchemaContract, SyncMode } from '@sluice/core';
import type { DuckDBConnection } from '@duckdb/node-api';
import { rows, scalar } from './duck';
import { openLake } from './lake';
import { LAKE, type WarehousePaths } from './paths';
import { withLakeRetry } from './retry';
import { evolve, quoteIdent as q, quoteLiteral as lit, unify, type Column, type SchemaChange } from './schema';
import { SEQ_COLUMN, stagedFiles, type StagingState } from './staging';
import { findSync, insertSyncSql, lakeTables, readTableState, type SyncRecord } from './state';
import { syncViews, type ExtraView } from './catalog';
import { enforceContract } from './contract';
import { compactIfFragmented, type CompactionResult } from './maintenance';
import { SOFT_DELETE_COLUMN } from '@sluice/core/policies/deletes';

export interface TableShape {
  primaryKey: readonly string[];
  partitionBy?: string;
  declared?: Readonly<Record<string, ColumnType>>;
}

export type CrashPoint = 'before-write' | 'after-write' | 'after-commit';

export interface CommitInput {
  paths: WarehousePaths;
  source: string;
  table: string;
  shape: TableShape;
  mode: SyncMode;
  /** --full-refresh: replace whatever the mode. */
  fullRefresh: boolean;
  cursorField: string | undefined;
  syncId: string;
  startedAt: string;
  stagingDir: string;
  staging: StagingState;
  /** A window re-sync (`--since`/`--until`): named in the snapshot's commit message; the cursor still only moves forward. */
  window?: { since: string; until?: string };
  /** `schema:` of the table: evolve (default), freeze or discard_new_columns (./contract.ts). */
  schemaContract?: SchemaContract;
  /** Anomalies the extract found (they go into the sync record with the commit's own). */
  warnings?: string[];
  /** Told when the table was compacted after the commit (or why that failed: the commit stands either way). */
  onCompaction?: (c: CompactionResult | { error: string }) => void;
  /** Hook for crash tests: called at named points of the commit. */
  crashPoint?: (point: CrashPoint) => void;
  /** Called when a commit attempt met catalog contention and is retried. */
  onRetry?: (attempt: number, err: Error) => void;
  /**
   * Connector views to keep in the lake, given the tables it holds (source → tables): created or
   * replaced after the commit, in the same session. A view that does not bind yet is skipped.
   */
  views?: (present: Map<string, Set<string>>) => ExtraView[];
}

export interface CommitResult {
  rowsRead: number;
  rowsWritten: number;
  tableRows: number;
  cursorBefore?: string;
  cursorAfter?: string;
  schemaChanges: SchemaChange[];
  monthsTouched: number;
  duplicateKeys: number;
  /** Anomalies the operator should know about (stale versions ignored, keys read twice). */
  warnings: string[];
  /** The sync had already been committed by an earlier attempt: nothing was written again. */
  alreadyCommitted: boolean;
  /** schema: discard_new_columns — the new fields not written, and how many non-null values each had. */
  discardedColumns?: { column: string; values: number }[];
}

const SYSTEM_COLUMNS: Column[] = [
  { name: '_sluice_synced_at', type: 'TIMESTAMPTZ' },
  { name: '_sluice_sync_id', type: 'VARCHAR' },
];
// `_sluice_deleted_at` (deletes: soft) is added by a reconciliation (reconcile.ts), not by the records.
const isSystem = (name: string) => name === SEQ_COLUMN || name === SOFT_DELETE_COLUMN || SYSTEM_COLUMNS.some((c) => c.name === name);

/**
 * Commits a staged sync into its DuckLake table, data and sync record in one transaction:
 * - replace (full refresh, or the first load): the table's rows are deleted and the staged ones inserted;
 * - merge (incremental): MERGE by primary key, the newest cursor winning; a fetched version older than
 *   the stored one never overwrites it;
 * - append (append-only): rows whose (primary key, cursor) is not stored yet are inserted.
 * The cursor is the sync record's `cursor_after`, inserted in the same transaction. Catalog contention
 * (another process committing) rolls the attempt back and retries it; a retried commit of a sync that
 * already committed changes nothing.
 */
export async function commitStaged(input: CommitInput): Promise<CommitResult> {
  const session = await openLake(input.paths, { collectGarbage: true });
  let out: CommitResult;
  try {
    let dedupReplace = false;
    for (;;) {
      const r = await withLakeRetry(() => attempt(session.conn, session.memoryLimitBytes, input, dedupReplace), { onRetry: input.onRetry });
      if (r !== 'repeat-with-dedup') {
        if (input.views) await refreshViews(session.conn, input.views, input.onRetry);
        out = r;
        break;
      }
      dedupReplace = true;
    }
  } finally {
    session.close();
  }
  if (!out.alreadyCommitted) {
    // Best effort, after the commit: a failed compaction leaves the table as committed; maintenance catches up.
    try {
      const c = await compactIfFragmented(input.paths, input.source, input.table, { onRetry: input.onRetry });
      if (c) input.onCompaction?.(c);
    } catch (err) {
      input.onCompaction?.({ error: (err as Error).message.split('\n')[0]! });
    }
  }
  return out;
}

async function attempt(conn: DuckDBConnection, memoryLimitBytes: number, input: CommitInput, dedupReplace: boolean): Promise<CommitResult | 'repeat-with-dedup'> {
  const { source, table, shape } = input;
  const done = await findSync(conn, source, table, input.syncId);
  if (done) return fromRecord(done);

  const state = await readTableState(conn, source, table);
  const target = `${q(source)}.${q(table)}`;
  const existing = state.exists ? await tableColumns(conn, source, table) : [];
  const existingRows = state.exists ? Number(await scalar(conn, `SELECT count(*) FROM ${target}`)) : 0;
  const sameField = state.cursorField === input.cursorField;
  const cursorBefore = sameField ? state.cursor : undefined;

  const stagedColumns: Column[] = Object.entries(input.staging.types)
    .filter(([name]) => !isSystem(name))
    .map(([name, type]) => ({ name, type: shape.declared?.[name] ?? type ?? 'VARCHAR' }));
  for (const k of shape.primaryKey) if (!stagedColumns.some((c) => c.name === k) && input.staging.rows > 0) throw new Error(`records of ${source}.${table} have no primary key field "${k}"`);
  // A table created by an empty first sync has guessed column types: its first real records decide.
  const userExisting = existingRows === 0 ? [] : existing.filter((c) => !isSystem(c.name));
  for (const k of shape.primaryKey) if (!stagedColumns.some((c) => c.name === k) && !userExisting.some((c) => c.name === k)) stagedColumns.push({ name: k, type: 'VARCHAR' });

  // What this sync does: a forced full refresh replaces whatever the table's mode.
  const effectiveMode: SyncMode = input.fullRefresh ? 'full_refresh' : input.mode;
  const replace = effectiveMode === 'full_refresh' || !state.exists || existingRows === 0;
  const appendOnly = effectiveMode === 'append_only';
  // The schema contract, decided before anything is written: freeze throws here with the diff.
  const contract = enforceContract(input.schemaContract, `${source}.${table}`, userExisting, stagedColumns);
  stagedColumns.splice(0, stagedColumns.length, ...contract.staged);
  const { columns, changes } = evolve(userExisting, stagedColumns);

  const syncedAt = new Date().toISOString();
  const pk = shape.primaryKey.map(q);
  const cursor = input.cursorField && columns.some((c) => c.name === input.cursorField) ? q(input.cursorField) : undefined;
  const selectCols = columns.map((c) => q(c.name)).join(', ');
  const system = `TIMESTAMPTZ ${lit(syncedAt)} AS _sluice_synced_at, ${lit(input.syncId)} AS _sluice_sync_id`;
  const partition = partitionColumn(shape.partitionBy, columns);
  const monthOf = partition ? `date_trunc('month', ${q(partition)})` : 'NULL';

  // The staged records, typed to the table's (evolved) schema.
  await conn.run(`DROP VIEW IF EXISTS temp.staged_raw; DROP TABLE IF EXISTS temp.new_rows; DROP TABLE IF EXISTS temp.stale; DROP TABLE IF EXISTS temp.losers`);
  if (input.staging.rows > 0) {
    const files = stagedFiles(input.stagingDir, input.staging.pages);
    const colSpec = [...columns.map((c) => `${lit(c.name)}: ${lit(c.type)}`), `${lit(SEQ_COLUMN)}: 'BIGINT'`].join(', ');
    await conn.run(`CREATE TEMP VIEW staged_raw AS SELECT * FROM read_json([${files.map(lit).join(', ')}], format = 'newline_delimited', columns = {${colSpec}})`);
    // DuckDB sizes partitioned-write buffers in rows (512k by default) and keeps one per open month:
    // with 5 KB records that is gigabytes. Size them from the records' width and the memory limit.
    await conn.run(`SET partitioned_write_flush_threshold = ${bufferRows(files, memoryLimitBytes, MAX_OPEN_PARTITIONS)}; SET partitioned_write_max_open_files = ${MAX_OPEN_PARTITIONS}`);
  } else {
    await conn.run(`CREATE TEMP VIEW staged_raw AS SELECT ${[...columns.map((c) => `CAST(NULL AS ${c.type}) AS ${q(c.name)}`), `CAST(NULL AS BIGINT) AS ${SEQ_COLUMN}`].join(', ')} WHERE false`);
  }
  // Several versions of one key in one sync (updated while we paged, or a lookback overlap): the
  // newest cursor wins, then the one fetched last. Append-only keeps one row per (key, cursor).
  const orderOf = (alias = '') => [cursor ? `${alias}${cursor} DESC NULLS LAST` : undefined, `${alias}${SEQ_COLUMN} DESC`].filter(Boolean).join(', ');
  const versionKey = appendOnly ? [...pk, cursor ?? 'NULL'] : pk;
  // The losing versions are found on the keys alone (key, cursor, sequence: a few dozen bytes a record,
  // read from the staged files without the rest), and only among keys seen more than once: a window over
  // whole records of a million-row sync needs gigabytes, more than the memory limit.
  const versionCols = appendOnly && cursor ? [...pk, cursor] : pk;
  const findLosers = async (): Promise<number> => {
    if (input.staging.rows === 0) {
      await conn.run(`CREATE OR REPLACE TEMP TABLE losers AS SELECT CAST(NULL AS BIGINT) AS ${SEQ_COLUMN} WHERE false`);
      return 0;
    }
    const keyNames = [...new Set([...shape.primaryKey, ...(cursor ? [input.cursorField!] : [])])];
    const keySpec = [...keyNames.map((n) => `${lit(n)}: ${lit(columns.find((c) => c.name === n)?.type ?? 'VARCHAR')}`), `${lit(SEQ_COLUMN)}: 'BIGINT'`].join(', ');
    const on = versionCols.map((c) => `k.${c} IS NOT DISTINCT FROM d.${c}`).join(' AND ');
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE losers AS
       WITH k AS (SELECT * FROM read_json([${stagedFiles(input.stagingDir, input.staging.pages).map(lit).join(', ')}], format = 'newline_delimited', columns = {${keySpec}})),
            d AS (SELECT ${versionCols.join(', ')} FROM k GROUP BY ALL HAVING count(*) > 1)
       SELECT ${SEQ_COLUMN} FROM (SELECT k.${SEQ_COLUMN}, row_number() OVER (PARTITION BY ${versionCols.map((c) => `k.${c}`).join(', ')} ORDER BY ${appendOnly ? `k.${SEQ_COLUMN} DESC` : orderOf('k.')}) AS rn FROM k JOIN d ON ${on})
       WHERE rn > 1`,
    );
    return Number(await scalar(conn, 'SELECT count(*) FROM losers'));
  };
  const dedup = `SELECT ${selectCols} FROM staged_raw ANTI JOIN temp.losers USING (${SEQ_COLUMN})`;

  let duplicateKeys = 0;
  let staleIgnored = 0;
  let rowsWritten: number;
  let monthsTouched = 0;
  const warnings = [...(input.warnings ?? [])];
  let reportedChanges = changes;
  const discardedColumns = contract.discarded.length && input.staging.rows > 0 ? await countValues(conn, stagedFiles(input.stagingDir, input.staging.pages), contract.discarded) : [];
  if (discardedColumns.length)
    warnings.push(`schema: discard_new_columns — ${discardedColumns.length} new column(s) not written (${discardedColumns.map((d) => `${d.column}: ${d.values} value(s)`).join(', ')})`);

  if (!replace) {
    // A merge's new rows are few: deduplicate them up front.
    duplicateKeys = await findLosers();
    await conn.run(`CREATE TEMP TABLE new_rows AS ${dedup}`);
  }

  input.crashPoint?.('before-write');
  await conn.run('BEGIN TRANSACTION');
  try {
    if (replace) {
      // Keep the table (its history, time travel, rollback) when its columns can take the new records;
      // otherwise create it anew in the same transaction.
      const keep = state.exists && existingRows > 0 && changes.every((c) => c.kind === 'added') ? true : state.exists && existingRows > 0 ? await tryAlter(conn, target, changes) : false;
      if (keep) {
        await addColumns(conn, target, changes, columns);
        await conn.run(`DELETE FROM ${target}`);
      } else {
        const fresh = existingRows > 0 ? evolve([], stagedColumns).columns : columns;
        reportedChanges = existingRows > 0 ? diffColumns(userExisting, fresh) : [];
        await createTable(conn, source, table, fresh, partitionColumn(shape.partitionBy, fresh), state.exists);
        columns.splice(0, columns.length, ...fresh);
      }
      if (dedupReplace) duplicateKeys = await findLosers();
      const body = dedupReplace ? dedup : `SELECT ${selectCols} FROM staged_raw`;
      rowsWritten = Number(await scalar(conn, `INSERT INTO ${target} BY NAME SELECT *, ${system} FROM (${body})`));
      // Written optimistically in one pass over the staged JSON; the key check reads the new Parquet
      // (cheap), and a repeated key sends the commit down the deduplicating path.
      const [check] = await rows(conn, `SELECT count(*) - count(DISTINCT hash(${versionKey.join(', ')})) AS dups, count(DISTINCT ${monthOf}) AS months FROM ${target}`);
      if (!dedupReplace && Number(check!.dups) > 0) {
        await conn.run('ROLLBACK');
        return 'repeat-with-dedup';
      }
      monthsTouched = Number(check!.months);
    } else {
      if (changes.some((c) => c.kind !== 'added') && !(await tryAlter(conn, target, changes))) await rewriteTable(conn, source, table, userExisting, columns, shape.partitionBy, existing);
      else await addColumns(conn, target, changes, columns);
      monthsTouched = Number(await scalar(conn, `SELECT count(DISTINCT ${monthOf}) FROM new_rows`));
      if (appendOnly) {
        // Never update; a (key, cursor) already stored is not appended again.
        const keyCols = [...pk, ...(cursor ? [cursor] : [])];
        rowsWritten = Number(
          await scalar(
            conn,
            `INSERT INTO ${target} BY NAME SELECT n.*, ${system} FROM new_rows n
             WHERE NOT EXISTS (SELECT 1 FROM ${target} o WHERE ${keyCols.map((k) => `o.${k} IS NOT DISTINCT FROM n.${k}`).join(' AND ')})`,
          ),
        );
      } else {
        // Newest version wins: the stored one only where its cursor is strictly newer than the fetched
        // one (a vendor answering from a stale replica); on a tie the fresh fetch wins.
        const keyList = pk.join(', ');
        if (cursor) {
          await conn.run(
            `CREATE TEMP TABLE stale AS SELECT ${pk.map((k) => `n.${k}`).join(', ')} FROM new_rows n JOIN (SELECT ${keyList}, ${cursor} AS _c FROM ${target} SEMI JOIN new_rows USING (${keyList})) o USING (${keyList})
             WHERE o._c > n.${cursor} OR (n.${cursor} IS NULL AND o._c IS NOT NULL)`,
          );
          staleIgnored = Number(await scalar(conn, 'SELECT count(*) FROM stale'));
        }
        const winners = staleIgnored ? `(SELECT * FROM new_rows ANTI JOIN stale USING (${keyList}))` : 'new_rows';
        const all = [...columns.map((c) => c.name), ...SYSTEM_COLUMNS.map((c) => c.name)].map(q);
        const src = `(SELECT *, ${system} FROM ${winners})`;
        // A record the vendor sends again is live: a row a reconciliation had marked deleted is unmarked.
        const unmark = existing.some((c) => c.name === SOFT_DELETE_COLUMN) ? `, ${q(SOFT_DELETE_COLUMN)} = NULL` : '';
        rowsWritten = Number(
          await scalar(
            conn,
            `MERGE INTO ${target} AS o USING ${src} AS n ON (${pk.map((k) => `o.${k} = n.${k}`).join(' AND ')})
             WHEN MATCHED THEN UPDATE SET ${all.map((c) => `${c} = n.${c}`).join(', ')}${unmark}
             WHEN NOT MATCHED THEN INSERT (${all.join(', ')}) VALUES (${all.map((c) => `n.${c}`).join(', ')})`,
          ),
        );
      }
    }
    if (staleIgnored)
      warnings.push(`${staleIgnored} fetched record(s) had an older cursor than the version already stored (the vendor's cursor moved backwards); the newer stored version was kept — run a full refresh if the vendor rewrote history`);
    if (duplicateKeys > 0) warnings.push(`${duplicateKeys} record(s) repeated a primary key already read in this sync; the newest version of each was kept`);

    const tableRows = Number(await scalar(conn, `SELECT count(*) FROM ${target}`));
    const cursorAfter = latest(effectiveMode === 'full_refresh' ? undefined : cursorBefore, capAtExtractStart(input.staging.maxCursor, input.staging.startedAt));
    const record: SyncRecord = {
      source,
      table,
      syncId: input.syncId,
      mode: input.mode,
      fullRefresh: input.fullRefresh,
      startedAt: input.startedAt,
      finishedAt: new Date().toISOString(),
      outcome: 'succeeded',
      rowsRead: input.staging.rows,
      rowsWritten,
      tableRows,
      pages: input.staging.pages,
      cursorField: input.cursorField,
      cursorBefore,
      cursorAfter,
      schemaChanges: reportedChanges,
      monthsTouched,
      duplicateKeys,
      warnings,
    };
    await conn.run(insertSyncSql(record));
    const windowNote = input.window ? `, window ${input.window.since} … ${input.window.until ?? 'now'}` : '';
    await setCommitMessage(conn, `sync ${source}.${table} (${input.fullRefresh ? 'full refresh' : input.mode}${windowNote}): ${rowsWritten} row(s) written`, { source, table, sync_id: input.syncId, mode: input.mode, cursor: cursorAfter ?? null, ...(input.window ? { window: input.window } : {}) });
    input.crashPoint?.('after-write');
    await conn.run('COMMIT');
    input.crashPoint?.('after-commit');
    return { ...fromRecord(record), alreadyCommitted: false, ...(discardedColumns.length ? { discardedColumns } : {}) };
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Non-null values per column in the staged pages (the fields schema: discard_new_columns leaves out). */
async function countValues(conn: DuckDBConnection, files: string[], names: string[]): Promise<{ column: string; values: number }[]> {
  const spec = names.map((n) => `${lit(n)}: 'JSON'`).join(', ');
  const [r] = await rows(conn, `SELECT ${names.map((n, i) => `count(${q(n)}) AS c${i}`).join(', ')} FROM read_json([${files.map(lit).join(', ')}], format = 'newline_delimited', columns = {${spec}})`);
  return names.map((column, i) => ({ column, values: Number(r?.[`c${i}`] ?? 0) }));
}

/** The connector views after a commit: best effort, a view that fails never fails the sync it follows. */
async function refreshViews(conn: DuckDBConnection, views: NonNullable<CommitInput['views']>, onRetry: CommitInput['onRetry']): Promise<void> {
  const present = new Map<string, Set<string>>();
  for (const t of await lakeTables(conn)) present.set(t.source, (present.get(t.source) ?? new Set()).add(t.table));
  await withLakeRetry(() => syncViews(conn, views(present)), { onRetry }).catch(() => undefined);
}

export async function setCommitMessage(conn: DuckDBConnection, message: string, extra: Record<string, unknown>): Promise<void> {
  await conn.run(`CALL ${LAKE}.set_commit_message('sluice', ${lit(message)}, extra_info => ${lit(JSON.stringify(extra))})`);
}

function fromRecord(r: SyncRecord): CommitResult {
  return {
    rowsRead: r.rowsRead,
    rowsWritten: r.rowsWritten,
    tableRows: r.tableRows ?? 0,
    cursorBefore: r.cursorBefore,
    cursorAfter: r.cursorAfter,
    schemaChanges: r.schemaChanges,
    monthsTouched: r.monthsTouched ?? 0,
    duplicateKeys: r.duplicateKeys ?? 0,
    warnings: r.warnings ?? [],
    alreadyCommitted: true,
  };
}

/** DuckDB's spelling of a column type → ours. */
export function columnTypeOf(dataType: string): ColumnType {
  if (dataType === 'TIMESTAMP WITH TIME ZONE') return 'TIMESTAMPTZ';
  return dataType as ColumnType;
}

export async function tableColumns(conn: DuckDBConnection, source: string, table: string): Promise<Column[]> {
  const r = await rows(conn, `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ${lit(source)} AND table_name = ${lit(table)} ORDER BY column_index`);
  return r.map((c) => ({ name: String(c.column_name), type: columnTypeOf(String(c.data_type)) }));
}

/** The partition field, when it is a column DuckLake can partition by month. */
function partitionColumn(partitionBy: string | undefined, columns: Column[]): string | undefined {
  const col = partitionBy ? columns.find((c) => c.name === partitionBy) : undefined;
  return col && (col.type === 'TIMESTAMPTZ' || col.type === 'DATE') ? col.name : undefined;
}

async function createTable(conn: DuckDBConnection, source: string, table: string, columns: Column[], partition: string | undefined, replaceExisting: boolean): Promise<void> {
  const target = `${q(source)}.${q(table)}`;
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(source)}`);
  const defs = [...columns, ...SYSTEM_COLUMNS].map((c) => `${q(c.name)} ${c.type}`).join(', ');
  if (replaceExisting) await conn.run(`DROP TABLE ${target}`);
  await conn.run(`CREATE TABLE ${target} (${defs})`);
  // By the UTC month of the creation timestamp (sessions run in UTC: DuckLake follows the session's zone).
  if (partition) await conn.run(`ALTER TABLE ${target} SET PARTITIONED BY (year(${q(partition)}), month(${q(partition)}))`);
}

async function addColumns(conn: DuckDBConnection, target: string, changes: SchemaChange[], columns: Column[]): Promise<void> {
  for (const c of changes) if (c.kind === 'added') await conn.run(`ALTER TABLE ${target} ADD COLUMN ${q(c.column)} ${columns.find((x) => x.name === c.column)!.type}`);
}

/**
 * Applies type changes DuckLake can make in place (its widening promotions: BIGINT → DOUBLE, a wider
 * DECIMAL). Returns false, with nothing changed, when one of them is not such a promotion: an error
 * inside the transaction would abort it, so this is decided before asking.
 */
async function tryAlter(conn: DuckDBConnection, target: string, changes: SchemaChange[]): Promise<boolean> {
  const typed = changes.filter((c) => c.kind !== 'added');
  if (!typed.every((c) => c.kind === 'widened' && c.from !== null && promotesInPlace(c.from, c.to))) return false;
  for (const c of typed) await conn.run(`ALTER TABLE ${target} ALTER COLUMN ${q(c.column)} SET DATA TYPE ${c.to}`);
  return true;
}

function promotesInPlace(from: ColumnType, to: ColumnType): boolean {
  if (from === 'BIGINT' && to === 'DOUBLE') return true;
  const dec = (t: string) => /^DECIMAL\((\d+),(\d+)\)$/.exec(t.replace(/\s/g, ''));
  const a = dec(from);
  const b = dec(to);
  return Boolean(a && b && a[2] === b[2] && Number(b[1]) >= Number(a[1]));
}

/**
 * A change DuckLake cannot make in place (a number that became text, a timestamp that became a
 * string): the table is written anew with every stored value cast to the new type, in the same
 * transaction as the sync. Earlier snapshots still read the old table by name.
 */
async function rewriteTable(conn: DuckDBConnection, source: string, table: string, before: Column[], after: Column[], partitionBy: string | undefined, stored: Column[]): Promise<void> {
  const target = `${q(source)}.${q(table)}`;
  const old = `${q(source)}.${q(`_sluice_rewrite_${table}`.slice(0, 63))}`;
  await conn.run(`ALTER TABLE ${target} RENAME TO ${q(`_sluice_rewrite_${table}`.slice(0, 63))}`);
  await createTable(conn, source, table, after, partitionColumn(partitionBy, after), false);
  // Rows marked deleted stay marked through a rewrite.
  const marked = stored.some((c) => c.name === SOFT_DELETE_COLUMN);
  if (marked) await conn.run(`ALTER TABLE ${target} ADD COLUMN ${q(SOFT_DELETE_COLUMN)} TIMESTAMPTZ`);
  const select = [
    ...after.map((c) => (before.some((b) => b.name === c.name) ? castOld(c, before) : `CAST(NULL AS ${c.type}) AS ${q(c.name)}`)),
    ...SYSTEM_COLUMNS.filter((s) => stored.some((c) => c.name === s.name)).map((s) => q(s.name)),
    ...(marked ? [q(SOFT_DELETE_COLUMN)] : []),
  ];
  await conn.run(`INSERT INTO ${target} BY NAME SELECT ${select.join(', ')} FROM ${old}`);
  await conn.run(`DROP TABLE ${old}`);
}

/** Reads a stored column under the new schema: widened casts, or JSON text for incompatible ones. */
function castOld(c: Column, previous: Column[]): string {
  const before = previous.find((p) => p.name === c.name)!;
  if (before.type === c.type) return q(c.name);
  if (c.type === 'JSON') return `to_json(${q(c.name)}) AS ${q(c.name)}`;
  if (c.type === 'VARCHAR' && before.type === 'TIMESTAMPTZ') return `strftime(${q(c.name)}, '%Y-%m-%dT%H:%M:%S.%fZ') AS ${q(c.name)}`;
  return `CAST(${q(c.name)} AS ${c.type}) AS ${q(c.name)}`;
}

/** Schema changes between a table and the one replacing it. */
function diffColumns(before: Column[], after: Column[]): SchemaChange[] {
  const out: SchemaChange[] = [];
  for (const a of after) {
    const b = before.find((x) => x.name === a.name);
    if (!b) out.push({ column: a.name, from: null, to: a.type, kind: 'added' });
    else if (b.type !== a.type) out.push({ column: a.name, from: b.type, to: a.type, kind: unify(b.type, a.type).compatible && unify(b.type, a.type).type === a.type ? 'widened' : 'incompatible' });
  }
  return out;
}

const MAX_OPEN_PARTITIONS = 32;

/**
 * Rows per write buffer: 40% of the engine's memory shared by the partitions that may be open at once,
 * divided by the width of a record; between 256 rows and DuckDB's default row group (122,880).
 */
export function bufferRows(files: string[], memoryLimitBytes: number, openPartitions: number): number {
  let bytes = 0;
  let lines = 0;
  for (const f of files.slice(0, 20)) {
    try {
      const text = fs.readFileSync(f, 'utf8');
      bytes += Buffer.byteLength(text);
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
    } catch {
      // a missing page: ignore
    }
  }
  const width = lines ? bytes / lines : 1024;
  return Math.max(256, Math.min(122_880, Math.floor((memoryLimitBytes * 0.4) / openPartitions / width)));
}

/**
 * A record changed while the extract ran may have been read in its old version (or, with page-number
 * paging, another record may have shifted past the scan): the saved cursor never passes the moment
 * the extract began, minus a margin for clock skew between us and the vendor, so the next sync reads
 * everything changed since then again. Merge removes the overlap.
 */
export const CURSOR_SKEW_MARGIN_MS = 60_000;
function capAtExtractStart(maxCursor: string | undefined, startedAt: string | undefined): string | undefined {
  if (!maxCursor || !startedAt) return maxCursor;
  const cap = Date.parse(startedAt) - CURSOR_SKEW_MARGIN_MS;
  const value = Date.parse(maxCursor);
  if (!Number.isFinite(value) || value <= cap) return maxCursor;
  return new Date(cap).toISOString();
}

function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) > Date.parse(a) || (Date.parse(b) === Date.parse(a) && b > a) ? b : a;
}

export type { DuckDBConnection };
