import fs from 'node:fs';
import path from 'node:path';
import type { SyncMode } from '@sluice/core';
import type { DuckDBConnection } from '@duckdb/node-api';
import { rows, scalar } from './duck';
import { attachHint, openLake } from './lake';
import { LAKE, NAME_PATTERN, type WarehousePaths } from './paths';
import { withLakeRetry } from './retry';
import { quoteIdent as q, quoteLiteral as lit, type Column, type SchemaChange } from './schema';
import { insertSyncSql, readTableState, STATE_SCHEMA, tableExists, type SyncRecord } from './state';

/**
 * The one-time upgrade of a warehouse written before DuckLake. That format kept, per table,
 * `<root>/<source>/<table>/_manifest.json` (schema, cursor, the data files, the sync history) and
 * Parquet files under `month=YYYY-MM/` (or `month=unknown/`), plus `<root>/warehouse.duckdb`, a
 * catalog of views. Each table moves into the lake in ONE DuckLake transaction:
 * - the table is created with the manifest's schema and the system columns;
 * - its Parquet files are registered where they are (`ducklake_add_data_files`: nothing is copied, and
 *   from then on DuckLake owns them: compaction may rewrite and later delete them), as long as every
 *   column of the file has the table's exact type; a file that cannot be registered (a JSON column
 *   written as VARCHAR, a column of another type) is copied with INSERT … SELECT instead, cast the way
 *   the old views cast it, and the upgrade says so. With the data on object storage every file is copied
 *   (other machines could not read a local path);
 * - the table is partitioned like new tables, by year/month of its partition field. The partition
 *   values of a registered file would have to come from a `year=…/month=…` path, which the old
 *   `month=YYYY-MM/` layout is not, so the files are registered before the partitioning is set: they
 *   stay one unpartitioned part of the table (their column statistics still prune scans), and
 *   everything written later, copies included, lands in `year=/month=` partitions;
 * - the sync history goes into `sluice.syncs`, so the cursor continues where it was;
 * - the row count of the new table is checked against the manifest before the commit.
 * Only after the commit are the manifest, the copied files and the garbage of the old format removed
 * (registered files stay: they are the table's data now). A crash before the commit leaves nothing in
 * the lake, after it the manifest is still there and a rerun recognises the committed upgrade (its
 * history or its snapshot) and finishes the cleanup. Running it again when nothing is left does nothing.
 */

export type UpgradeCrashPoint = 'before-commit' | 'after-commit' | 'after-cleanup-files';

export interface UpgradeOptions {
  /** One line per step worth telling the operator. */
  say?: (line: string) => void;
  /** Copy every file into the lake's data path instead of registering it in place. */
  copy?: boolean;
  /** Crash tests: called at named points of a table's upgrade. */
  crashPoint?: (point: UpgradeCrashPoint, table: string) => void;
}

export interface UpgradedTable {
  source: string;
  table: string;
  /**
   * upgraded: moved into the lake now; finished: committed by an earlier run, whose cleanup this run
   * completed; conflict: the lake already holds a table of that name that did not come from this
   * manifest (nothing changed); failed: the upgrade could not be done (nothing changed).
   */
  outcome: 'upgraded' | 'finished' | 'conflict' | 'failed';
  rows: number;
  registered: number;
  copied: number;
  syncs: number;
  message?: string;
}

export interface UpgradeResult {
  tables: UpgradedTable[];
  /** Whether the old catalog of views (warehouse.duckdb) was removed. */
  legacyCatalogRemoved: boolean;
}

/** One data file of an old table (paths relative to the table directory). */
interface LegacyFile {
  path: string;
  month: string;
  rows: number;
  bytes?: number;
}

interface LegacySync {
  syncId: string;
  mode?: SyncMode;
  fullRefresh?: boolean;
  startedAt: string;
  finishedAt: string;
  outcome: 'succeeded' | 'failed';
  rowsRead?: number;
  rowsWritten?: number;
  pages?: number;
  cursorField?: string;
  cursorBefore?: string;
  cursorAfter?: string;
  error?: string;
  schemaChanges?: SchemaChange[];
  monthsTouched?: number;
  warnings?: string[];
}

/** `_manifest.json`, formatVersion 1: the fields the upgrade reads. */
interface LegacyManifest {
  formatVersion: number;
  primaryKey?: string[];
  partitionBy?: string;
  mode?: SyncMode;
  cursorField?: string;
  cursor?: string;
  schema: Column[];
  files: LegacyFile[];
  rows: number;
  /** Oldest first. */
  syncs: LegacySync[];
  updatedAt?: string;
}

export interface LegacyTable {
  source: string;
  table: string;
  manifest: string;
}

const MANIFEST = '_manifest.json';
const SYSTEM_COLUMNS: Column[] = [
  { name: '_sluice_synced_at', type: 'TIMESTAMPTZ' },
  { name: '_sluice_sync_id', type: 'VARCHAR' },
];
/** Marks the snapshot of an upgrade in its commit's extra info. */
const UPGRADE_MARK = 'manifest';

/** Every table of the format before DuckLake that is still under the warehouse directory. */
export function findLegacyTables(paths: WarehousePaths): LegacyTable[] {
  const out: LegacyTable[] = [];
  for (const source of readDir(paths.root)) {
    if (!NAME_PATTERN.test(source) || !isDir(path.join(paths.root, source))) continue;
    for (const table of readDir(path.join(paths.root, source))) {
      if (!NAME_PATTERN.test(table)) continue;
      const manifest = paths.legacyManifest(source, table);
      if (fs.existsSync(manifest)) out.push({ source, table, manifest });
    }
  }
  return out.sort((a, b) => `${a.source}.${a.table}`.localeCompare(`${b.source}.${b.table}`));
}

/** Whether the warehouse directory still holds anything of the format before DuckLake (cheap: a directory scan). */
export function needsUpgrade(paths: WarehousePaths): boolean {
  return fs.existsSync(paths.legacyCatalog) || findLegacyTables(paths).length > 0;
}

/** Moves every old table into the lake (see above). Tables that cannot be upgraded are reported, the others done. */
export async function upgradeWarehouse(paths: WarehousePaths, opts: UpgradeOptions = {}): Promise<UpgradeResult> {
  const say = opts.say ?? (() => undefined);
  const legacy = findLegacyTables(paths);
  const tables: UpgradedTable[] = [];
  if (legacy.length) {
    const copyAll = opts.copy || paths.lake.data.kind !== 'local';
    say(
      `upgrading the warehouse at ${paths.root} to DuckLake: ${legacy.length} table(s) in the format before DuckLake (${MANIFEST}) go into ${paths.describe()}` +
        (copyAll
          ? `; their files are copied into the lake${opts.copy ? '' : ' (its data is on object storage: files registered on this disk could not be read from other machines)'}`
          : '; their Parquet files are registered where they are, not copied'),
    );
    const session = await withLakeRetry(() => openLake(paths, { collectGarbage: true }));
    try {
      for (const t of legacy) {
        let r: UpgradedTable | undefined;
        try {
          r = await upgradeTable(session.conn, session.memoryLimitBytes, t, { ...opts, copy: copyAll }, say);
        } catch (err) {
          if (err instanceof CrashForTest) throw err;
          // Another process (a `sluice dev` started with this `sluice query`) finished this table while
          // we were at it, removing the manifest and files we were reading: nothing is left to do.
          if (!fs.existsSync(t.manifest)) r = { source: t.source, table: t.table, outcome: 'finished', rows: 0, registered: 0, copied: 0, syncs: 0, message: 'upgraded by another process meanwhile' };
          else r = { source: t.source, table: t.table, outcome: 'failed', rows: 0, registered: 0, copied: 0, syncs: 0, message: (err as Error).message };
        }
        if (!r) continue;
        tables.push(r);
        if (r.outcome === 'failed') say(`${t.source}.${t.table}: NOT upgraded: ${r.message} (its files and ${MANIFEST} are left as they were)`);
        else if (r.outcome === 'conflict') say(`${t.source}.${t.table}: NOT upgraded: ${r.message}`);
      }
    } finally {
      session.close();
      fs.rmSync(paths.tmp, { recursive: true, force: true });
    }
  }
  let legacyCatalogRemoved = false;
  if (fs.existsSync(paths.legacyCatalog) && findLegacyTables(paths).length === 0) {
    for (const f of [paths.legacyCatalog, `${paths.legacyCatalog}.wal`]) fs.rmSync(f, { force: true });
    legacyCatalogRemoved = true;
    say(`removed ${paths.legacyCatalog} (the old catalog of views): read the lake with \`sluice query\`, or from any DuckDB client with: ${attachHint(paths)}`);
  }
  return { tables, legacyCatalogRemoved };
}

class CrashForTest extends Error {}
/** For crash tests: the error to throw from `crashPoint` that the upgrade must not catch. */
export function simulatedCrash(point: string): Error {
  return new CrashForTest(`simulated crash at ${point}`);
}

async function upgradeTable(conn: DuckDBConnection, memoryLimitBytes: number, t: LegacyTable, opts: UpgradeOptions & { copy: boolean }, say: (l: string) => void): Promise<UpgradedTable | undefined> {
  const { source, table } = t;
  const name = `${source}.${table}`;
  const m = readLegacyManifest(t.manifest);
  if (!m) return undefined; // another process finished it meanwhile
  const dir = path.dirname(t.manifest);
  const base = { source, table, rows: m.rows, syncs: m.syncs.length };
  if (source === STATE_SCHEMA) return { ...base, outcome: 'failed', registered: 0, copied: 0, message: `a source named "${STATE_SCHEMA}" collides with the lake's schema of sync state: rename the source (and its directory) first` };

  let fresh = false;
  let plan: FilePlan[] = [];
  // Catalog reads meet contention too ("database is locked" while another process commits): every step
  // on the lake is retried, the whole attempt from its status check.
  const status = await withLakeRetry(async () => {
    const before = await upgradeStatus(conn, source, table, m);
    if (before !== 'todo') return before;
    try {
      plan = await planFiles(conn, dir, m, opts.copy);
      await commitUpgrade(conn, memoryLimitBytes, source, table, m, userColumns(m), plan, opts.crashPoint);
      fresh = true;
      return 'done';
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      if (err instanceof CrashForTest) throw err;
      // Another process (a `sluice dev` next to this `sluice query`) may have upgraded it meanwhile,
      // and removed the files it copied.
      const after = await upgradeStatus(conn, source, table, m);
      if (after === 'todo') throw err;
      return after;
    }
  });
  if (fresh) opts.crashPoint?.('after-commit', name);
  if (status === 'conflict')
    return { ...base, outcome: 'conflict', registered: 0, copied: 0, message: `the lake already has a table ${name} that was not upgraded from ${t.manifest} (synced since?); the old data is left in ${dir}: move that directory away to keep the lake's table, or drop the lake's table and run \`sluice warehouse upgrade\` again to bring the old one in` };

  // Committed (now or by an earlier run): check the lake's table as of the upgrade, then clean up.
  const hasTable = userColumns(m).length > 0;
  const { snapshot, owned } = await withLakeRetry(async () => {
    const snapshot = await upgradeSnapshot(conn, source, table);
    if (snapshot === undefined) return { snapshot, owned: undefined };
    if (!hasTable) return { snapshot, owned: new Set<string>() };
    const n = Number(await scalar(conn, `SELECT count(*) FROM ${q(source)}.${q(table)} AT (VERSION => ${snapshot})`));
    if (n !== m.rows) throw new Error(`${name} holds ${n} row(s) in the lake as upgraded (snapshot ${snapshot}) but its manifest lists ${m.rows}: the manifest and the old files are left in place`);
    // Files the lake references are its own now; the others (copies, the old format's garbage) go.
    return { snapshot, owned: await lakeFiles(conn, source, table, snapshot) };
  });
  const removed = cleanupTable(dir, m, owned);
  opts.crashPoint?.('after-cleanup-files', name);
  fs.rmSync(t.manifest, { force: true });
  removeEmptyDirs(dir);
  const registered = owned ? m.files.filter((f) => owned.has(path.resolve(dir, f.path))).length : m.files.length;
  const copied = m.files.length - registered;
  if (fresh) {
    for (const p of plan) if (p.copyBecause && !opts.copy) say(`${name}: ${p.file.path} was copied into the lake, not registered: ${p.copyBecause}`);
    const cursor = m.cursor !== undefined ? `; cursor ${m.cursorField ?? ''} = ${m.cursor}` : '';
    say(`${name}: ${m.rows} row(s) in the lake (verified against the manifest): ${registered} file(s) registered in place, ${copied} copied; ${m.syncs.length} sync record(s) carried over${cursor}`);
  } else {
    say(`${name}: had been upgraded already (snapshot ${snapshot ?? 'expired'}); finished removing its old manifest${removed ? ` and ${removed} old file(s)` : ''}`);
  }
  if (!owned && m.files.length) say(`${name}: the snapshot of its upgrade has expired, so which old files the lake still uses is unknown: they are left in ${dir}`);
  return { ...base, outcome: fresh ? 'upgraded' : 'finished', registered, copied };
}

function readLegacyManifest(file: string): LegacyManifest | undefined {
  let m: LegacyManifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as LegacyManifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file} is not a readable manifest (${(err as Error).message})`);
  }
  if (m.formatVersion !== 1) throw new Error(`${file} has formatVersion ${String(m.formatVersion)}; this Sluice upgrades formatVersion 1`);
  return { ...m, schema: m.schema ?? [], files: m.files ?? [], syncs: m.syncs ?? [], rows: m.rows ?? (m.files ?? []).reduce((s, f) => s + f.rows, 0) };
}

const userColumns = (m: LegacyManifest) => m.schema.filter((c) => !SYSTEM_COLUMNS.some((s) => s.name === c.name));

/**
 * todo: not in the lake yet; done: the upgrade committed (its history or its snapshot is in the lake);
 * conflict: the lake has a table of that name that did not come from the manifest.
 */
async function upgradeStatus(conn: DuckDBConnection, source: string, table: string, m: LegacyManifest): Promise<'todo' | 'done' | 'conflict'> {
  // The table first: each query sees the newest snapshot when it starts, and the upgrade's marks commit
  // with the table. Checked the other way round, another process's upgrade committing in between
  // looked like a table that was not upgraded ('conflict').
  // (A manifest without columns makes no table: its marks are all there is.)
  const exists = await tableExists(conn, source, table);
  if (!exists && userColumns(m).length > 0) return 'todo';
  if ((await upgradeSnapshot(conn, source, table)) !== undefined) return 'done';
  const last = m.syncs[m.syncs.length - 1];
  if (last) {
    const n = await scalar(conn, `SELECT count(*) FROM ${STATE_SCHEMA}.syncs WHERE source = ${lit(source)} AND "table" = ${lit(table)} AND sync_id = ${lit(last.syncId)}`);
    if (Number(n) > 0) return 'done';
  }
  return exists ? 'conflict' : 'todo';
}

async function upgradeSnapshot(conn: DuckDBConnection, source: string, table: string): Promise<number | undefined> {
  const v = await scalar(
    conn,
    `SELECT max(snapshot_id) FROM ${LAKE}.snapshots() WHERE commit_extra_info IS NOT NULL AND json_valid(commit_extra_info)
       AND json_extract_string(commit_extra_info, '$.upgraded_from') = ${lit(UPGRADE_MARK)}
       AND json_extract_string(commit_extra_info, '$.source') = ${lit(source)} AND json_extract_string(commit_extra_info, '$.table') = ${lit(table)}`,
  );
  return v === null || v === undefined ? undefined : Number(v);
}

async function lakeFiles(conn: DuckDBConnection, source: string, table: string, snapshot: number): Promise<Set<string>> {
  const r = await rows(conn, `SELECT data_file FROM ducklake_list_files(${lit(LAKE)}, ${lit(table)}, schema => ${lit(source)}, snapshot_version => ${snapshot})`);
  return new Set(r.map((x) => path.resolve(String(x.data_file))));
}

interface FilePlan {
  file: LegacyFile;
  abs: string;
  /** Columns of the file (DuckDB's type names). */
  columns: Map<string, string>;
  /** Why it is copied rather than registered; undefined = registered. */
  copyBecause?: string;
  /** Table columns the file lacks (read as NULL). */
  missing: string[];
  bytes: number;
}

/**
 * Looks at every file before anything is written: it must exist and hold the rows the manifest says.
 * A file is registered when each of its columns is a column of the table with exactly the table's type
 * (DuckLake refuses other types, and a refusal inside the transaction would abort it); columns the file
 * lacks (added by a later sync) read as NULL.
 */
async function planFiles(conn: DuckDBConnection, dir: string, m: LegacyManifest, copyAll: boolean): Promise<FilePlan[]> {
  const tableTypes = await duckTypeNames(conn, [...userColumns(m), ...SYSTEM_COLUMNS]);
  const listed = m.files.reduce((s, f) => s + f.rows, 0);
  if (listed !== m.rows) throw new Error(`its manifest says ${m.rows} row(s) but lists files of ${listed}`);
  const out: FilePlan[] = [];
  for (const file of m.files) {
    const abs = path.resolve(dir, file.path);
    if (path.relative(dir, abs).startsWith('..')) throw new Error(`its manifest lists a file outside the table's directory: ${file.path}`);
    if (!fs.existsSync(abs)) throw new Error(`its manifest lists ${file.path}, which is missing`);
    const n = Number(await scalar(conn, `SELECT num_rows FROM parquet_file_metadata(${lit(abs)})`));
    if (n !== file.rows) throw new Error(`${file.path} holds ${n} row(s) but the manifest says ${file.rows}`);
    const described = await rows(conn, `DESCRIBE SELECT * FROM read_parquet(${lit(abs)}, hive_partitioning = false)`);
    const columns = new Map(described.map((c) => [String(c.column_name), String(c.column_type)]));
    const missing = [...tableTypes.keys()].filter((c) => !columns.has(c));
    let copyBecause: string | undefined = copyAll ? 'copy' : undefined;
    for (const [col, type] of columns) {
      if (copyBecause) break;
      const want = tableTypes.get(col);
      if (want === undefined) copyBecause = `column "${col}" of the file is not in the table's schema (not carried over, as the old views did not show it)`;
      else if (want !== type) copyBecause = `column "${col}" is ${type} in the file but ${want} in the table`;
    }
    out.push({ file, abs, columns, copyBecause, missing, bytes: fs.statSync(abs).size });
  }
  return out;
}

/** DuckDB's spelling of our column types (TIMESTAMPTZ → TIMESTAMP WITH TIME ZONE), by column name. */
async function duckTypeNames(conn: DuckDBConnection, columns: Column[]): Promise<Map<string, string>> {
  if (!columns.length) return new Map();
  const r = await rows(conn, `SELECT ${columns.map((c, i) => `typeof(CAST(NULL AS ${c.type})) AS c${i}`).join(', ')}`);
  return new Map(columns.map((c, i) => [c.name, String(r[0]![`c${i}`])]));
}

async function commitUpgrade(
  conn: DuckDBConnection,
  memoryLimitBytes: number,
  source: string,
  table: string,
  m: LegacyManifest,
  columns: Column[],
  plan: FilePlan[],
  crashPoint: UpgradeOptions['crashPoint'],
): Promise<void> {
  const target = `${q(source)}.${q(table)}`;
  const name = `${source}.${table}`;
  const partition = partitionColumn(m.partitionBy, columns);
  await conn.run('BEGIN TRANSACTION');
  if (columns.length) {
    // (a manifest without columns had only failed syncs: like a failed first sync now, it has no table)
    await conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(source)}`);
    await conn.run(`CREATE TABLE ${target} (${[...columns, ...SYSTEM_COLUMNS].map((c) => `${q(c.name)} ${c.type}`).join(', ')})`);
    // Registered before the table is partitioned: see the top of this file.
    for (const p of plan.filter((x) => !x.copyBecause)) {
      await conn.run(
        `CALL ducklake_add_data_files(${lit(LAKE)}, ${lit(table)}, ${lit(p.abs)}, schema => ${lit(source)}, hive_partitioning => false${p.missing.length ? ', allow_missing => true' : ''})`,
      );
    }
    if (partition) await conn.run(`ALTER TABLE ${target} SET PARTITIONED BY (year(${q(partition)}), month(${q(partition)}))`);
    for (const p of plan.filter((x) => x.copyBecause)) {
      // Cast the way the old views did (CAST to the manifest's type), so every value reads as it did.
      const select = [...columns, ...SYSTEM_COLUMNS].filter((c) => p.columns.has(c.name)).map((c) => `CAST(${q(c.name)} AS ${c.type}) AS ${q(c.name)}`);
      const width = Math.max(64, (4 * p.bytes) / Math.max(1, p.file.rows));
      await conn.run(`SET partitioned_write_flush_threshold = ${Math.max(256, Math.min(122_880, Math.floor((memoryLimitBytes * 0.4) / 32 / width)))}`);
      await conn.run(`INSERT INTO ${target} BY NAME SELECT ${select.join(', ')} FROM read_parquet(${lit(p.abs)}, hive_partitioning = false)`);
    }
    const n = Number(await scalar(conn, `SELECT count(*) FROM ${target}`));
    if (n !== m.rows) throw new Error(`the lake's table would hold ${n} row(s) but the manifest lists ${m.rows}; nothing was changed`);
  } else if (m.rows > 0 || plan.length) {
    throw new Error('its manifest lists data files but no columns');
  }
  // The history, oldest first; the newest succeeded sync carries the table's rows and the cursor.
  const lastOk = [...m.syncs].reverse().find((s) => s.outcome === 'succeeded');
  for (const s of m.syncs) await conn.run(insertSyncSql(syncRecord(source, table, m, s, s === lastOk)));
  const carried = (s: { cursor?: string; cursorField?: string }) => s.cursor === m.cursor && (m.cursor === undefined || s.cursorField === m.cursorField);
  if (!carried(await readTableState(conn, source, table))) {
    // The history does not end on the manifest's cursor (trimmed to its newest 200, or edited): one
    // record, dated no earlier than any other, carries the cursor over.
    const at = [m.updatedAt, ...m.syncs.map((s) => s.finishedAt)].filter((x): x is string => Boolean(x) && Number.isFinite(Date.parse(x!))).sort((a, b) => Date.parse(b) - Date.parse(a))[0] ?? new Date().toISOString();
    await conn.run(
      insertSyncSql({
        source, table, syncId: `upgrade-${source}-${table}`, mode: m.mode ?? lastOk?.mode ?? 'incremental', fullRefresh: false, startedAt: at, finishedAt: at,
        outcome: 'succeeded', rowsRead: 0, rowsWritten: 0, tableRows: m.rows, pages: 0, cursorField: m.cursorField, cursorBefore: m.cursor, cursorAfter: m.cursor, schemaChanges: [],
        warnings: ['cursor carried over from the warehouse format before DuckLake (its manifest), whose sync history did not end on it'],
      }),
    );
    if (!carried(await readTableState(conn, source, table))) throw new Error(`the cursor ${m.cursor ?? '(none)'} of its manifest could not be carried over`);
  }
  const registered = plan.filter((p) => !p.copyBecause).length;
  const message = `upgrade ${name} from the warehouse format before DuckLake: ${m.rows} row(s), ${registered} file(s) registered in place, ${plan.length - registered} copied, ${m.syncs.length} sync record(s)`;
  await conn.run(
    `CALL ${LAKE}.set_commit_message('sluice', ${lit(message)}, extra_info => ${lit(JSON.stringify({ source, table, sync_id: lastOk?.syncId ?? null, upgraded_from: UPGRADE_MARK, cursor: m.cursor ?? null }))})`,
  );
  crashPoint?.('before-commit', name);
  await conn.run('COMMIT');
}

function syncRecord(source: string, table: string, m: LegacyManifest, s: LegacySync, newestSucceeded: boolean): SyncRecord {
  return {
    source,
    table,
    syncId: s.syncId,
    mode: s.mode ?? m.mode ?? 'incremental',
    fullRefresh: Boolean(s.fullRefresh),
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    outcome: s.outcome === 'failed' ? 'failed' : 'succeeded',
    rowsRead: s.rowsRead ?? 0,
    rowsWritten: s.rowsWritten ?? 0,
    tableRows: newestSucceeded ? m.rows : undefined,
    pages: s.pages ?? 0,
    cursorField: s.cursorField,
    cursorBefore: s.cursorBefore,
    cursorAfter: s.cursorAfter,
    error: s.error,
    schemaChanges: s.schemaChanges ?? [],
    monthsTouched: s.monthsTouched,
    warnings: s.warnings ?? [],
  };
}

/** The partition field, when it is a column DuckLake can partition by month (as commit.ts decides). */
function partitionColumn(partitionBy: string | undefined, columns: Column[]): string | undefined {
  const col = partitionBy ? columns.find((c) => c.name === partitionBy) : undefined;
  return col && (col.type === 'TIMESTAMPTZ' || col.type === 'DATE') ? col.name : undefined;
}

/**
 * After the commit: removes the table's old files the lake does not reference (`owned`: the lake's files
 * as of the upgrade; undefined = unknown, then no data file is touched) — copies, and the old format's
 * garbage (files no manifest listed, `.tmp-*` directories of interrupted commits). Returns how many.
 */
function cleanupTable(dir: string, m: LegacyManifest, owned: Set<string> | undefined): number {
  let removed = 0;
  const rm = (p: string) => {
    fs.rmSync(p, { recursive: true, force: true });
    removed++;
  };
  if (owned) for (const f of m.files) if (!owned.has(path.resolve(dir, f.path)) && fs.existsSync(path.resolve(dir, f.path))) rm(path.resolve(dir, f.path));
  const listed = new Set(m.files.map((f) => path.resolve(dir, f.path)));
  for (const e of readDirents(dir)) {
    const full = path.join(dir, e.name);
    if (e.isDirectory() && e.name.startsWith('.tmp-')) rm(full);
    else if (e.isFile() && e.name.startsWith(`${MANIFEST}.tmp`)) rm(full);
    else if (e.isDirectory() && e.name.startsWith('month=') && owned) {
      for (const f of readDirents(full)) if (f.isFile() && f.name.endsWith('.parquet') && !listed.has(path.join(full, f.name)) && !owned.has(path.join(full, f.name))) rm(path.join(full, f.name));
    }
  }
  return removed;
}

/** Removes the table's empty month directories, then the table's and the source's directories if empty. */
function removeEmptyDirs(dir: string): void {
  for (const e of readDirents(dir)) if (e.isDirectory() && e.name.startsWith('month=')) rmdirIfEmpty(path.join(dir, e.name));
  if (rmdirIfEmpty(dir)) rmdirIfEmpty(path.dirname(dir));
}

function rmdirIfEmpty(dir: string): boolean {
  try {
    if (fs.readdirSync(dir).length) return false;
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

function readDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function readDirents(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
