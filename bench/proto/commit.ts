/* eslint-disable prefer-const -- a verbatim copy of the engine file, kept diffable */
// PROTOTYPE (benchmark only, not used by Sluice): a copy of packages/warehouse/src/commit.ts with the
// change proposed in bench/README.md marked "PROPOSED", to measure its effect before the engine adopts it.
import fs from 'node:fs';
import path from 'node:path';
import type { ColumnType, SyncMode } from '@sluice/core';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openEngine, rows, scalar } from '../../packages/warehouse/src/duck';
import { emptyManifest, readManifest, writeManifest, type DataFile, type Manifest, type SyncRecord } from '../../packages/warehouse/src/manifest';
import { evolve, quoteIdent as q, quoteLiteral as lit, type Column, type SchemaChange } from '../../packages/warehouse/src/schema';
import { SEQ_COLUMN, stagedFiles, type StagingState } from '../../packages/warehouse/src/staging';
import type { WarehousePaths } from '../../packages/warehouse/src/paths';

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
  // PROPOSED: a partitioned COPY buffers up to partitioned_write_flush_threshold rows (default 524,288)
  // per thread in memory before it flushes, whatever memory_limit says: with 2-4 KB rows that is >1 GB.
  // Flushing every 10k rows keeps the commit inside the engine's memory limit at any table size.
  if (process.env.BENCH_PROTO_FLUSH) {
    // 'auto': an eighth of the memory limit's worth of staged rows (average staged row size).
    const limitBytes = parseBytes(String(await scalar(conn, `SELECT current_setting('memory_limit')`)));
    const stagedBytes = stagedFiles(input.stagingDir, input.staging.pages).reduce((s, f) => s + fs.statSync(f).size, 0);
    const rowBytes = Math.max(256, stagedBytes / Math.max(1, input.staging.rows));
    const rows = process.env.BENCH_PROTO_FLUSH === 'auto' ? Math.max(2048, Math.min(524_288, Math.floor(limitBytes / 8 / rowBytes))) : Number(process.env.BENCH_PROTO_FLUSH);
    if (process.env.BENCH_PROTO_TRACE) process.stderr.write(`partitioned_write_flush_threshold = ${rows} (row ${Math.round(rowBytes)} B, limit ${limitBytes} B)\n`);
    await conn.run(`SET partitioned_write_flush_threshold = ${rows}`);
  }
  for (const set of (process.env.BENCH_PROTO_SET ?? '').split(';').filter(Boolean)) await conn.run(`SET ${set}`);
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
    const tDupes = performance.now();
    const dupes = input.staging.rows > 0 ? Number(await scalar(conn, `SELECT count(*) - count(DISTINCT ${pkTuple}) FROM staged_raw`)) : 0;
    if (process.env.BENCH_PROTO_TRACE) process.stderr.write(`dupes check ${Math.round(performance.now() - tDupes)} ms\n`);
    // Several versions of one key in one sync (updated while we paged, or a lookback overlap): the
    // newest cursor wins, then the one fetched last.
    const order = [cursor ? `${cursor} DESC NULLS LAST` : undefined, `${SEQ_COLUMN} DESC`].filter(Boolean).join(', ');
    const selectCols = columns.map((c) => q(c.name)).join(', ');
    const system = `TIMESTAMPTZ ${lit(syncedAt)} AS _sluice_synced_at, ${lit(input.syncId)} AS _sluice_sync_id`;
    const appendOnly = input.mode === 'append_only' && !input.fullRefresh;
    const stagedDedup =
      dupes === 0
        ? `SELECT ${selectCols} FROM staged_raw`
        : appendOnly
          ? `SELECT ${selectCols} FROM staged_raw QUALIFY row_number() OVER (PARTITION BY ${[...pk, cursor ?? 'NULL'].join(', ')} ORDER BY ${SEQ_COLUMN} DESC) = 1`
          : `SELECT ${selectCols} FROM staged_raw QUALIFY row_number() OVER (PARTITION BY ${pk.join(', ')} ORDER BY ${order}) = 1`;

    let keep: DataFile[] = [];
    let superseded: DataFile[] = [];
    let body: string;
    let monthsTouched: Set<string>;

    if (replace) {
      superseded = previous.files;
      body = `SELECT ${selectCols}, ${system}, ${monthExpr} AS ${MONTH} FROM (${stagedDedup})`;
    } else {
      const existing = previous.files.map((f) => lit(path.join(tableDir, f.path)));
      const oldCols = columns.map((c) => (previous.schema.some((p) => p.name === c.name) ? castOld(c, previous.schema) : `CAST(NULL AS ${c.type}) AS ${q(c.name)}`)).join(', ');
      const old = (list: string[]) =>
        `SELECT ${oldCols}, _sluice_synced_at, _sluice_sync_id, filename AS _file FROM read_parquet([${list.join(', ')}], union_by_name = true, filename = true)`;
      trace('before new_rows');
      await conn.run(`CREATE TEMP TABLE new_rows AS ${stagedDedup}`);
      trace('new_rows');
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
        trace(`new months ${newMonths.length}`);
        let touchedFiles: Set<string>;
        if (typeChanged) touchedFiles = new Set(previous.files.map((f) => f.path));
        else {
          const holding = await rows(
            conn,
            `SELECT DISTINCT filename AS f FROM read_parquet([${existing.join(', ')}], union_by_name = true, filename = true) WHERE ${pkTuple} IN (SELECT ${pkTuple} FROM new_rows)`,
          );
          const holdingFiles = new Set(holding.map((r) => path.relative(tableDir, String(r.f))));
          touchedFiles = new Set(previous.files.filter((f) => newMonths.includes(f.month) || holdingFiles.has(f.path)).map((f) => f.path));
        }
        superseded = previous.files.filter((f) => touchedFiles.has(f.path));
        keep = previous.files.filter((f) => !touchedFiles.has(f.path));
        const oldPart = superseded.length
          ? `SELECT * EXCLUDE (_file), 1 AS _old FROM (${old(superseded.map((f) => lit(path.join(tableDir, f.path))))})`
          : undefined;
        const newPart = `SELECT *, ${system}, 0 AS _old FROM new_rows`;
        const union = oldPart ? `${oldPart} UNION ALL BY NAME ${newPart}` : newPart;
        // Newest version wins: higher cursor, then the freshly fetched one.
        const rank = [cursor ? `${cursor} DESC NULLS LAST` : undefined, '_old ASC'].filter(Boolean).join(', ');
        body = `SELECT * EXCLUDE (_old, _rn), ${monthExpr} AS ${MONTH} FROM (
                  SELECT *, row_number() OVER (PARTITION BY ${pk.join(', ')} ORDER BY ${rank}) AS _rn FROM (${union})
                ) WHERE _rn = 1`;
        if (process.env.BENCH_PROTO_MERGE !== 'window' && oldPart) {
          // PROPOSED: the rewritten months' rows minus those a new version replaces, plus the new rows an
          // old version does not beat. Two anti-joins keyed on (primary key, cursor) stream the old rows
          // instead of sorting every row of every touched month in a window (which holds them in memory:
          // OOM at 1M rows when a 1% change touches all months). Same winner: higher cursor, NULLs last,
          // a tie goes to the new row.
          const on = pk.map((k) => `o.${k} = n.${k}`).join(' AND ');
          const newWins = cursor ? `(o.${cursor} IS NULL OR (n.${cursor} IS NOT NULL AND n.${cursor} >= o.${cursor}))` : 'true';
          const oldRows = `SELECT * EXCLUDE (_file) FROM (${old(superseded.map((f) => lit(path.join(tableDir, f.path))))})`;
          body = `SELECT o.*, ${monthExpr} AS ${MONTH} FROM (${oldRows}) o
                    WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE ${on} AND ${newWins})
                  UNION ALL BY NAME
                  SELECT n.*, ${system}, ${monthExpr} AS ${MONTH} FROM new_rows n
                    WHERE NOT EXISTS (SELECT 1 FROM (SELECT ${[...pk, ...(cursor ? [cursor] : [])].join(', ')} FROM (${oldRows})) o WHERE ${on} AND NOT ${newWins})`;
        }
      }
    }

    input.crashPoint?.('before-write');
    fs.mkdirSync(outDir, { recursive: true });
    trace(`before COPY (${superseded.length} files rewritten)`);
    await conn.run(`COPY (${body}) TO ${lit(outDir)} (FORMAT parquet, PARTITION_BY (${MONTH}), OVERWRITE_OR_IGNORE true, FILENAME_PATTERN 'part_{i}'${process.env.BENCH_PROTO_COPY ? `, ${process.env.BENCH_PROTO_COPY}` : ''})`); // PROPOSED: BENCH_PROTO_COPY
    trace('COPY');
    const written = moveOutputs(outDir, tableDir, input.syncId);
    const meta = written.length
      ? await rows(conn, `SELECT file_name AS f, sum(num_rows)::BIGINT AS n FROM parquet_file_metadata([${written.map((w) => lit(path.join(tableDir, w.path))).join(', ')}]) GROUP BY 1`)
      : [];
    const counts = new Map(meta.map((m) => [path.relative(tableDir, String(m.f)), Number(m.n)]));
    const newFiles = written.map((w) => ({ ...w, rows: counts.get(w.path) ?? 0 }));
    monthsTouched = new Set(newFiles.map((f) => f.month));
    input.crashPoint?.('after-write');

    const rowsWritten = replace || appendOnly ? newFiles.reduce((s, f) => s + f.rows, 0) : Number(await scalar(conn, `SELECT count(*) FROM new_rows`));
    const cursorAfter = latest(input.fullRefresh || input.mode === 'full_refresh' ? undefined : cursorBefore, capAtExtractStart(input.staging.maxCursor, input.staging.startedAt));
    const files = [...keep, ...newFiles.filter((f) => f.rows > 0)];
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
    for (const f of newFiles) if (f.rows === 0) fs.rmSync(path.join(tableDir, f.path), { force: true });
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

function moveOutputs(outDir: string, tableDir: string, syncId: string): Omit<DataFile, 'rows'>[] {
  const out: Omit<DataFile, 'rows'>[] = [];
  if (!fs.existsSync(outDir)) return out;
  for (const part of fs.readdirSync(outDir)) {
    const m = new RegExp(`^${MONTH}=(.+)$`).exec(part);
    if (!m) continue;
    const month = decodeURIComponent(m[1]!);
    const target = path.join(tableDir, `month=${month}`);
    fs.mkdirSync(target, { recursive: true });
    fs.readdirSync(path.join(outDir, part)).forEach((f, i) => {
      const name = `part-${syncId}-${i}.parquet`;
      fs.renameSync(path.join(outDir, part, f), path.join(target, name));
      out.push({ path: path.join(`month=${month}`, name), month, bytes: fs.statSync(path.join(target, name)).size });
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

/** '366.2 MiB' → bytes. */
function parseBytes(text: string): number {
  const m = /^([\d.]+)\s*([KMGT]?i?B)$/i.exec(text.trim());
  if (!m) return 384 * 2 ** 20;
  const unit = m[2]!.toUpperCase();
  const pow = { B: 0, KB: 1, KIB: 1, MB: 2, MIB: 2, GB: 3, GIB: 3, TB: 4, TIB: 4 }[unit] ?? 0;
  return Number(m[1]) * (unit.includes('I') || unit === 'B' ? 1024 : 1000) ** pow;
}

let traceT = performance.now();
/** BENCH_PROTO_TRACE=1: elapsed time per step of the commit, on stderr. */
function trace(what: string): void {
  if (!process.env.BENCH_PROTO_TRACE) return;
  const now = performance.now();
  process.stderr.write(`  [commit] ${what}: +${Math.round(now - traceT)} ms\n`);
  traceT = now;
}
