import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataRecord, SyncMode } from '@sluice/core';
import { StagingWriter, WarehousePaths, commitStaged, refreshCatalog, collectGarbage, queryWarehouse, type TableShape } from '../src/index';

export function tempWarehouse(): WarehousePaths {
  return new WarehousePaths(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-wh-')));
}

let n = 0;
/** Stages pages and commits them as one sync, the way the extract + commit activities do. */
export async function syncPages(
  paths: WarehousePaths,
  opts: { source?: string; table?: string; shape: TableShape; mode: SyncMode; cursorField?: string; fullRefresh?: boolean; pages: DataRecord[][]; since?: string },
) {
  const source = opts.source ?? 'src';
  const table = opts.table ?? 'orders';
  const syncId = `s${Date.now()}-${n++}`;
  const dir = paths.staging(source, table, syncId);
  const { writer } = StagingWriter.open({ dir, cursorField: opts.cursorField, declared: opts.shape.declared });
  opts.pages.forEach((p, i) => writer.writePage(p, { page: i + 1 }, opts.since));
  const result = await commitStaged({
    paths, source, table, shape: opts.shape, mode: opts.mode, fullRefresh: opts.fullRefresh ?? false, cursorField: opts.cursorField,
    syncId, startedAt: new Date().toISOString(), stagingDir: dir, staging: writer.state,
  });
  await refreshCatalog(paths);
  collectGarbage(paths, source, table);
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

export async function tableRows(paths: WarehousePaths, sql: string): Promise<Record<string, unknown>[]> {
  const r = await queryWarehouse(paths, sql);
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
}
