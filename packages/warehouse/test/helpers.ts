import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataRecord, SyncMode } from '@sluice/core';
import { StagingWriter, WarehousePaths, commitStaged, queryWarehouse, tableState, withLake, type CommitInput, type TableShape } from '../src/index';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'; // after ../src/index, which configures DuckDB's allocator before it loads

export function tempWarehouse(): WarehousePaths {
  return new WarehousePaths(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-wh-')));
}

let n = 0;
/** Stages pages and commits them as one sync, the way the extract + commit activities do. */
export async function syncPages(
  paths: WarehousePaths,
  opts: { source?: string; table?: string; shape: TableShape; mode: SyncMode; cursorField?: string; fullRefresh?: boolean; pages: DataRecord[][]; since?: string; onCompaction?: CommitInput['onCompaction'] },
) {
  const source = opts.source ?? 'src';
  const table = opts.table ?? 'orders';
  const syncId = `s${Date.now()}-${n++}`;
  const dir = paths.staging(source, table, syncId);
  const { writer } = StagingWriter.open({ dir, cursorField: opts.cursorField, declared: opts.shape.declared });
  opts.pages.forEach((p, i) => writer.writePage(p, { page: i + 1 }, opts.since));
  const result = await commitStaged({
    paths, source, table, shape: opts.shape, mode: opts.mode, fullRefresh: opts.fullRefresh ?? false, cursorField: opts.cursorField,
    syncId, startedAt: new Date().toISOString(), stagingDir: dir, staging: writer.state, onCompaction: opts.onCompaction,
  });
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

export async function tableRows(paths: WarehousePaths, sql: string): Promise<Record<string, unknown>[]> {
  const r = await queryWarehouse(paths, sql);
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
}

/** Data files of a table as DuckLake lists them, relative to the table's directory under data/. */
export async function dataFiles(wh: WarehousePaths, source = 'src', table = 'orders'): Promise<string[]> {
  return withLake(wh, { readOnly: true }, async ({ conn }) => {
    const r = await conn.runAndReadAll(`SELECT data_file FROM ducklake_list_files('lake', '${table}', schema => '${source}')`);
    return r.getRows().map((x) => path.relative(path.join(wh.root, 'data', source, table), String(x[0]))).sort();
  });
}

/** The table's committed state (cursor, last sync) as the next sync would read it. */
export function stateOf(wh: WarehousePaths, source = 'src', table = 'orders') {
  return tableState(wh, source, table);
}

/** Rows stored in a file whose year=/month= partition is not their createdAt's UTC month (one query over every file). */
export async function misplacedRows(wh: WarehousePaths, source = 'src', table = 'orders', column = 'createdAt'): Promise<number> {
  const files = (await dataFiles(wh, source, table)).filter((f) => /^year=\d+\/month=\d+\//.test(f)).map((f) => `'${path.join(wh.root, 'data', source, table, f).replace(/'/g, "''")}'`);
  if (!files.length) return 0;
  const r = await tableRows(
    wh,
    `SELECT count(*) AS n FROM read_parquet([${files.join(', ')}], filename = true, union_by_name = true)
     WHERE year("${column}" AT TIME ZONE 'UTC') <> CAST(regexp_extract(filename, 'year=(\\d+)', 1) AS INT)
        OR month("${column}" AT TIME ZONE 'UTC') <> CAST(regexp_extract(filename, 'month=(\\d+)', 1) AS INT)`,
  );
  return Number(r[0]!.n);
}

/** A plain in-memory DuckDB (no lake), in UTC: writes Parquet the way the engine before DuckLake did. */
export async function plainDuckDB(tempDir: string): Promise<{ conn: DuckDBConnection; close(): void }> {
  fs.mkdirSync(tempDir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '256MB', threads: '2', temp_directory: tempDir, preserve_insertion_order: 'false' });
  const conn = await instance.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  return {
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}
