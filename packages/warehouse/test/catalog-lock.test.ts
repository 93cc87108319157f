import { spawn } from 'node:child_process';
import { describe, it, expect } from 'vitest';
import { refreshCatalog, collectGarbage } from '../src/index';
import { syncPages, tableRows, tempWarehouse } from './helpers';

/**
 * A user holding warehouse.duckdb open in another program (a DuckDB shell, a BI tool) must not make
 * syncs fail, nor lose the data the views still point at; queries keep working.
 */
const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };
const rec = (id: string, v: number) => ({ id, createdAt: '2024-01-10T00:00:00Z', updatedAt: `2024-01-1${v}T00:00:00Z`, v });

describe('catalog held open by another process', () => {
  it('syncs still commit, old files stay until the views are refreshed, queries still answer', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('a', 1)]] });
    // Another process opens the catalog read-write and keeps it (DuckDB's file lock).
    const holder = spawn(process.execPath, ['-e', `
      const { DuckDBInstance } = require('@duckdb/node-api');
      DuckDBInstance.create(${JSON.stringify(wh.catalog)}).then(async (i) => { await i.connect(); process.stdout.write('locked\\n'); setInterval(() => {}, 1000); });
    `], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout!.on('data', (d) => String(d).includes('locked') && resolve()));
    try {
      expect(await refreshCatalog(wh, [], 300)).toBe(false); // locked: skipped, not thrown
      // A commit during the lock succeeds (the catalog refresh is skipped, garbage is kept)
      const { StagingWriter, commitStaged } = await import('../src/index');
      const dir = wh.staging('src', 'orders', 'locked-sync');
      const { writer } = StagingWriter.open({ dir, cursorField: 'updatedAt' });
      writer.writePage([rec('a', 2), rec('b', 2)], {});
      const r = await commitStaged({ paths: wh, source: 'src', table: 'orders', shape, mode: 'incremental', fullRefresh: false, cursorField: 'updatedAt', syncId: 'locked-sync', startedAt: new Date().toISOString(), stagingDir: dir, staging: writer.state });
      expect(r.rowsWritten).toBe(2);
      // Queries answer from the manifests while the file is locked
      expect(await tableRows(wh, 'SELECT id, v FROM src.orders ORDER BY id')).toEqual([{ id: 'a', v: 2 }, { id: 'b', v: 2 }]);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    // Once released, the next refresh brings the catalog up to date and garbage can go
    expect(await refreshCatalog(wh)).toBe(true);
    collectGarbage(wh, 'src', 'orders');
    expect(await tableRows(wh, 'SELECT id, v FROM src.orders ORDER BY id')).toEqual([{ id: 'a', v: 2 }, { id: 'b', v: 2 }]);
  });
});
