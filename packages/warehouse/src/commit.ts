import fs from 'node:fs';
import path from 'node:path';
import type { ColumnType, SyncMode } from '@sluice/core';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openEngine, rows, scalar } from './duck';
import { columnsKey, emptyManifest, readManifest, writeManifest, type DataFile, type Manifest, type SyncRecord } from './manifest';
import { evolve, quoteIdent as q, quoteLiteral as lit, type Column, type SchemaChange } from './schema';
import { SEQ_COLUMN, stagedFiles, type StagingState } from './staging';
import type { WarehousePaths } from './paths';

export interface TableShape {
  primaryKey: readonly string[];
  partitionBy?: string;
  declared?: Readonly<Record<string, ColumnType>>;
}

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
  /** Hook for crash tests: called at named points of the commit. */
  crashPoint?: (point: 'before-write' | 'after-write' | 'after-manifest') => void;
}

export interface CommitResult {
  rowsRead: number;
  rowsWritten: number;
  tableRows: number;
  cursorBefore?: string;
  cursorAfter?: string;
  schemaChanges: SchemaChange[];
  monthsTouched: number;
  /** Anomalies the operator should know about (stale versions ignored). */
  warnings: string[];
  superseded: string[];
  manifest: Manifest;
}

const SYSTEM_COLUMNS: Column[] = [
  { name: '_sluice_synced_at', type: 'TIMESTAMPTZ' },
  { name: '_sluice_sync_id', type: 'VARCHAR' },
];
const MONTH = '_sluice_month';

/**
 * Turns a staged sync into committed Parquet and swaps the manifest:
 * - replace (full refresh, or the first load of a table): the new files are the table;
 * - merge (incremental): only the months touched by the new records (or holding older versions of
 *   them) are rewritten, newest version per primary key winning;
 * - append (append-only): rows whose (primary key, cursor) is not stored yet are added in new files.
 * Data and cursor change together in the manifest rename; superseded files are returned for deletion
 * after the catalog has been updated.
 */
export async function commitStaged(input: CommitInput): Promise<CommitResult> {
  const { paths, source, table, shape } = input;
  const tableDir = paths.table(source, table);
  const manifestFile = paths.manifest(source, table);
  const previous = readManifest(manifestFile) ?? emptyManifest(source, table, shape.primaryKey, shape.partitionBy);
  const cursorBefore = previous.cursor;

  const stagedColumns: Column[] = Object.entries(input.staging.types)
    .filter(([name]) => name !== SEQ_COLUMN && !SYSTEM_COLUMNS.some((c) => c.name === name))
    .map(([name, type]) => ({ name, type: shape.declared?.[name] ?? type ?? 'VARCHAR' }));
  for (const k of shape.primaryKey) if (!stagedColumns.some((c) => c.name === k) && input.staging.rows > 0) throw new Error(`records of ${source}.${table} have no primary key field "${k}"`);

  const replace = input.fullRefresh || input.mode === 'full_refresh' || previous.files.length === 0;
  const base = replace ? [] : previous.schema;
  const { columns, changes } = evolve(base, stagedColumns);
  const typeChanged = changes.some((c) => c.kind !== 'added');

  const engine = await openEngine(path.join(paths.root, '.tmp', 'duckdb'));
  const conn = engine.conn;
  const outDir = path.join(tableDir, `.tmp-${input.syncId}`);
  fs.rmSync(outDir, { recursive: true, force: true });
  try {
    const syncedAt = new Date().toISOString();
    const stagedList = stagedFiles(input.stagingDir, input.staging.pages);
    const pk = shape.primaryKey.map(q);
    const pkTuple = pk.length === 1 ? pk[0]! : `(${pk.join(', ')})`;
    const cursor = input.cursorField && columns.some((c) => c.name === input.cursorField) ? q(input.cursorField) : undefined;
    const monthExpr = monthOf(shape.partitionBy, columns);

    // The staged records, typed to the table's (evolved) schema.
    if (input.staging.rows > 0) {
      const colSpec = [...columns.map((c) => `${lit(c.name)}: ${lit(c.type)}`), `${lit(SEQ_COLUMN)}: 'BIGINT'`].join(', ');
      await conn.run(`CREATE TEMP VIEW staged_raw AS SELECT * FROM read_json([${stagedList.map(lit).join(', ')}], format = 'newline_delimited', columns = {${colSpec}})`);
    } else {
      await conn.run(`CREATE TEMP VIEW staged_raw AS SELECT ${[...columns.map((c) => `CAST(NULL AS ${c.type}) AS ${q(c.name)}`), `CAST(NULL AS BIGINT) AS ${SEQ_COLUMN}`].join(', ')} WHERE false`);
    }
    // Several versions of one key in one sync (updated while we paged, or a lookback overlap): the
    // newest cursor wins, then the one fetched last. Append-only keeps one row per (key, cursor).
    const order = [cursor ? `${cursor} DESC NULLS LAST` : undefined, `${SEQ_COLUMN} DESC`].filter(Boolean).join(', ');
    const selectCols = columns.map((c) => q(c.name)).join(', ');
    const system = `TIMESTAMPTZ ${lit(syncedAt)} AS _sluice_synced_at, ${lit(input.syncId)} AS _sluice_sync_id`;
    const appendOnly = input.mode === 'append_only' && !input.fullRefresh;
    const versionKey = appendOnly ? [...pk, cursor ?? 'NULL'] : pk;
    const dedup = (needed: boolean) =>
      !needed
        ? `SELECT ${selectCols} FROM staged_raw`
        : appendOnly
          ? `SELECT ${selectCols} FROM staged_raw QUALIFY row_number() OVER (PARTITION BY ${versionKey.join(', ')} ORDER BY ${SEQ_COLUMN} DESC) = 1`
          : `SELECT ${selectCols} FROM staged_raw QUALIFY row_number() OVER (PARTITION BY ${pk.join(', ')} ORDER BY ${order}) = 1`;
    // A replace writes optimistically without deduplicating (one pass over the staged JSON) and checks
    // the written key column afterwards, which is cheap in Parquet; a merge deduplicates its (usually
    // small) new rows up front.
    const stagedDedup = replace ? dedup(false) : dedup(input.staging.rows > 0 && Number(await scalar(conn, `SELECT count(*) - count(DISTINCT ${pkTuple}) FROM staged_raw`)) > 0);

    let keep: DataFile[] = [];
    let staleIgnored = 0;
    let superseded: DataFile[] = [];
    let body: string;

    if (replace) {
      superseded = previous.files;
      body = `SELECT ${selectCols}, ${system}, ${monthExpr} AS ${MONTH} FROM (${stagedDedup})`;
    } else {
      const existing = previous.files.map((f) => lit(path.join(tableDir, f.path)));
      const oldCols = columns.map((c) => (previous.schema.some((p) => p.name === c.name) ? castOld(c, previous.schema) : `CAST(NULL AS ${c.type}) AS ${q(c.name)}`)).join(', ');
      const old = (list: string[]) =>
        `SELECT ${oldCols}, _sluice_synced_at, _sluice_sync_id, filename AS _file FROM read_parquet([${list.join(', ')}], union_by_name = true, filename = true)`;
      await conn.run(`CREATE TEMP TABLE new_rows AS ${stagedDedup}`);
      if (appendOnly) {
        // Never update; a (key, cursor) already stored is not appended again.
        const keyCols = [...pk, ...(cursor ? [cursor] : [])];
        body = `SELECT n.*, ${system}, ${monthExpr} AS ${MONTH} FROM new_rows n
                WHERE NOT EXISTS (SELECT 1 FROM (SELECT ${keyCols.join(', ')} FROM read_parquet([${existing.join(', ')}], union_by_name = true)) o
                                  WHERE ${keyCols.map((k) => `o.${k} IS NOT DISTINCT FROM n.${k}`).join(' AND ')})`;
        keep = previous.files;
      } else {
        // Months to rewrite: those the new rows fall in, plus those holding older versions of them
        // (a record whose creation month changed), or all of them when a column changed type.
        const newMonths = (await rows(conn, `SELECT DISTINCT ${monthExpr} AS m FROM new_rows`)).map((r) => String(r.m));
        let touchedFiles: Set<string>;
        if (typeChanged) touchedFiles = new Set(previous.files.map((f) => f.path));
        else {
          // One file per query: DuckDB keeps the footer of every file a query scans until it ends, and
          // footers grow with the table (all of them at once held ~65 MB for 1M orders).
          touchedFiles = new Set();
          for (const f of previous.files) {
            if (newMonths.includes(f.month)) touchedFiles.add(f.path);
            else if (Number(await scalar(conn, `SELECT count(*) FROM (SELECT 1 FROM read_parquet(${lit(path.join(tableDir, f.path))}) WHERE ${pkTuple} IN (SELECT ${pkTuple} FROM new_rows) LIMIT 1)`)) > 0)
              touchedFiles.add(f.path);
          }
        }
        superseded = previous.files.filter((f) => touchedFiles.has(f.path));
        keep = previous.files.filter((f) => !touchedFiles.has(f.path));
        // Newest version wins: the stored one only where its cursor is strictly newer than the fetched
        // one (a vendor answering a stale replica); on a tie the fresh fetch wins. New rows are few and
        // already one per key, so anti-joins do it without sorting the stored rows.
        const keyList = pk.join(', ');
        if (cursor && superseded.length) {
          const stored = superseded.map((f) => lit(path.join(tableDir, f.path))).join(', ');
          await conn.run(
            `CREATE TEMP TABLE stale AS SELECT ${pk.map((k) => `n.${k}`).join(', ')} FROM new_rows n
             JOIN (SELECT ${keyList}, ${cursor} AS _c FROM read_parquet([${stored}], union_by_name = true) SEMI JOIN new_rows USING (${keyList})) o USING (${keyList})
             WHERE o._c > n.${cursor} OR (n.${cursor} IS NULL AND o._c IS NOT NULL)`,
          );
        } else await conn.run(`CREATE TEMP TABLE stale AS SELECT ${keyList} FROM new_rows WHERE false`);
        // A view, not a second copy of the new rows (stale is usually empty).
        await conn.run(`CREATE TEMP VIEW winners AS SELECT * FROM new_rows ANTI JOIN stale USING (${keyList})`);
        staleIgnored = Number(await scalar(conn, 'SELECT count(*) FROM stale'));
        const oldPart = superseded.length
          ? `SELECT * EXCLUDE (_file) FROM (${old(superseded.map((f) => lit(path.join(tableDir, f.path))))}) ANTI JOIN winners USING (${keyList})`
          : undefined;
        const newPart = `SELECT *, ${system} FROM winners`;
        body = `SELECT *, ${monthExpr} AS ${MONTH} FROM (${oldPart ? `${oldPart} UNION ALL BY NAME ${newPart}` : newPart})`;
      }
    }

    input.crashPoint?.('before-write');
    fs.mkdirSync(outDir, { recursive: true });
    // DuckDB sizes write buffers in rows (512k rows per partitioned-write flush, 122,880 per row group)
    // and keeps one row group open per month being written: with 5 KB records that is gigabytes. Size
    // them from the records' width and the memory limit, for at most 32 months open at once.
    const rowsPerBuffer = bufferRows(stagedList, engine.memoryLimitBytes, MAX_OPEN_PARTITIONS);
    await conn.run(`SET partitioned_write_flush_threshold = ${rowsPerBuffer}; SET partitioned_write_max_open_files = ${MAX_OPEN_PARTITIONS}`);
    // RETURN_STATS gives each file's row count, so the written files need not be opened again.
    const copy = async (sql: string) => {
      const stats = await rows(conn, `COPY (${sql}) TO ${lit(outDir)} (FORMAT parquet, PARTITION_BY (${MONTH}), OVERWRITE_OR_IGNORE true, FILENAME_PATTERN 'part_{i}', ROW_GROUP_SIZE ${rowsPerBuffer}, RETURN_STATS)`);
      return moveOutputs(outDir, tableDir, input.syncId, columnsKey(columns), new Map(stats.map((r) => [path.resolve(String(r.filename)), Number(r.count)])));
    };
    let written = await copy(body);
    if (replace && written.length) {
      if (await repeatsKey(conn, written.map((w) => path.join(tableDir, w.path)), versionKey)) {
        for (const w of written) fs.rmSync(path.join(tableDir, w.path), { force: true });
        written = await copy(`SELECT ${selectCols}, ${system}, ${monthExpr} AS ${MONTH} FROM (${dedup(true)})`);
      }
    }
    const monthsTouched = new Set(written.map((f) => f.month));
    input.crashPoint?.('after-write');

    const rowsWritten = replace || appendOnly ? written.reduce((s, f) => s + f.rows, 0) : Number(await scalar(conn, `SELECT count(*) FROM winners`));
    const cursorAfter = latest(input.fullRefresh || input.mode === 'full_refresh' ? undefined : cursorBefore, capAtExtractStart(input.staging.maxCursor, input.staging.startedAt));
    const files = [...keep, ...written.filter((f) => f.rows > 0)];
    const record: SyncRecord = {
      syncId: input.syncId,
      mode: input.mode,
      fullRefresh: input.fullRefresh,
      startedAt: input.startedAt,
      finishedAt: new Date().toISOString(),
      outcome: 'succeeded',
      rowsRead: input.staging.rows,
      rowsWritten,
      pages: input.staging.pages,
      cursorField: input.cursorField,
      cursorBefore,
      cursorAfter,
      schemaChanges: changes,
      monthsTouched: monthsTouched.size,
      warnings: staleIgnored
        ? [`${staleIgnored} fetched record(s) had an older cursor than the version already stored (the vendor's cursor moved backwards); the newer stored version was kept — run a full refresh if the vendor rewrote history`]
        : undefined,
    };
    const manifest: Manifest = {
      ...previous,
      primaryKey: [...shape.primaryKey],
      partitionBy: shape.partitionBy,
      mode: input.mode,
      cursorField: input.cursorField,
      cursor: cursorAfter,
      schema: columns,
      files,
      rows: files.reduce((s, f) => s + f.rows, 0),
      syncs: [...previous.syncs, record],
      updatedAt: record.finishedAt,
    };
    // Empty output files (a month whose rows all moved elsewhere) are not part of the table.
    for (const f of written) if (f.rows === 0) fs.rmSync(path.join(tableDir, f.path), { force: true });
    writeManifest(manifestFile, manifest); // ← the commit point
    input.crashPoint?.('after-manifest');
    return {
      rowsRead: input.staging.rows,
      rowsWritten,
      tableRows: manifest.rows,
      cursorBefore,
      cursorAfter,
      schemaChanges: changes,
      monthsTouched: monthsTouched.size,
      warnings: record.warnings ?? [],
      superseded: superseded.map((f) => f.path),
      manifest,
    };
  } finally {
    engine.close();
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

/** Records a failed sync in the table's history without touching its data or cursor. */
export function recordFailure(paths: WarehousePaths, source: string, table: string, shape: TableShape, rec: Omit<SyncRecord, 'outcome' | 'schemaChanges'>): void {
  const file = paths.manifest(source, table);
  const previous = readManifest(file) ?? emptyManifest(source, table, shape.primaryKey, shape.partitionBy);
  writeManifest(file, { ...previous, syncs: [...previous.syncs, { ...rec, outcome: 'failed', schemaChanges: [], cursorAfter: previous.cursor }] });
}

/** Deletes every data file of the table that its manifest does not list (superseded or orphaned by a crash). */
export function collectGarbage(paths: WarehousePaths, source: string, table: string): number {
  const tableDir = paths.table(source, table);
  const manifest = readManifest(paths.manifest(source, table));
  const live = new Set(manifest?.files.map((f) => f.path) ?? []);
  let removed = 0;
  if (!fs.existsSync(tableDir)) return 0;
  for (const entry of fs.readdirSync(tableDir, { withFileTypes: true })) {
    const full = path.join(tableDir, entry.name);
    if (entry.isDirectory() && entry.name.startsWith('.tmp-')) {
      fs.rmSync(full, { recursive: true, force: true });
      removed++;
    } else if (entry.isDirectory() && entry.name.startsWith('month=')) {
      for (const f of fs.readdirSync(full)) {
        const rel = path.join(entry.name, f);
        if (!live.has(rel)) {
          fs.rmSync(path.join(full, f), { force: true });
          removed++;
        }
      }
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
    } else if (entry.isFile() && entry.name.startsWith('_manifest.json.tmp')) {
      fs.rmSync(full, { force: true });
    }
  }
  return removed;
}

const MAX_OPEN_PARTITIONS = 32;

/**
 * Rows per write buffer: 40% of the engine's memory shared by the partitions that may be open at once,
 * divided by the width of a record; between 256 rows and DuckDB's default row group (122,880).
 */
export function bufferRows(stagedFiles: string[], memoryLimitBytes: number, openPartitions: number): number {
  let bytes = 0;
  let lines = 0;
  // a sample of files is enough to know the width of a record
  for (const f of stagedFiles.slice(0, 20)) {
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
 * Whether a key occurs twice among the written files. One file per query (DuckDB keeps the footer of
 * every file a query scans until it ends), and keys reduced to their 64-bit hashes: 1M keys take 8 MB,
 * not the key strings. A hash collision only sends the commit down the deduplicating path, which is
 * correct for any input.
 */
async function repeatsKey(conn: DuckDBConnection, files: string[], key: string[]): Promise<boolean> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE _sluice_key_hashes (h UBIGINT)`);
  try {
    for (const f of files) await conn.run(`INSERT INTO _sluice_key_hashes SELECT hash(${key.join(', ')}) FROM read_parquet(${lit(f)})`);
    return Number(await scalar(conn, `SELECT count(*) - count(DISTINCT h) FROM _sluice_key_hashes`)) > 0;
  } finally {
    await conn.run(`DROP TABLE _sluice_key_hashes`);
  }
}

function monthOf(partitionBy: string | undefined, columns: Column[]): string {
  const col = partitionBy ? columns.find((c) => c.name === partitionBy) : undefined;
  if (!col) return `'unknown'`;
  const ts = col.type === 'TIMESTAMPTZ' || col.type === 'DATE' ? q(col.name) : `try_cast(${q(col.name)} AS TIMESTAMPTZ)`;
  return `coalesce(strftime(${ts}, '%Y-%m'), 'unknown')`;
}

/** Reads a stored column under the current schema: widened casts, or JSON text for incompatible ones. */
function castOld(c: Column, previous: Column[]): string {
  const before = previous.find((p) => p.name === c.name)!;
  if (before.type === c.type) return q(c.name);
  if (c.type === 'JSON') return `to_json(${q(c.name)}) AS ${q(c.name)}`;
  if (c.type === 'VARCHAR' && before.type === 'TIMESTAMPTZ') return `strftime(${q(c.name)}, '%Y-%m-%dT%H:%M:%S.%fZ') AS ${q(c.name)}`;
  return `CAST(${q(c.name)} AS ${c.type}) AS ${q(c.name)}`;
}

/** Moves the COPY's files into the table's month directories; `counts`: rows per written file. */
function moveOutputs(outDir: string, tableDir: string, syncId: string, key: string, counts: Map<string, number>): DataFile[] {
  const out: DataFile[] = [];
  if (!fs.existsSync(outDir)) return out;
  for (const part of fs.readdirSync(outDir)) {
    const m = new RegExp(`^${MONTH}=(.+)$`).exec(part);
    if (!m) continue;
    const month = decodeURIComponent(m[1]!);
    const target = path.join(tableDir, `month=${month}`);
    fs.mkdirSync(target, { recursive: true });
    fs.readdirSync(path.join(outDir, part)).forEach((f, i) => {
      const name = `part-${syncId}-${i}.parquet`;
      const rows = counts.get(path.resolve(outDir, part, f));
      if (rows === undefined) throw new Error(`DuckDB reported no row count for ${path.join(part, f)}`);
      fs.renameSync(path.join(outDir, part, f), path.join(target, name));
      out.push({ path: path.join(`month=${month}`, name), month, bytes: fs.statSync(path.join(target, name)).size, rows, columnsKey: key });
    });
  }
  return out;
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
