import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { dataFiles, syncPages, tableRows, tempWarehouse } from './helpers';

/**
 * Memory stays bounded whatever the record width: DuckDB's write buffers are counted in rows, so wide
 * records (5 KB orders) once made a commit run out of memory. Here the engine gets only 128 MB for
 * 100 MB of wide records across 24 months.
 */
describe('bounded memory', () => {
  it('commits 20,000 records of 5 KB under a 128 MB engine limit', async () => {
    const before = process.env.SLUICE_DUCKDB_MEMORY;
    process.env.SLUICE_DUCKDB_MEMORY = '128MB';
    try {
      const wh = tempWarehouse();
      const pad = 'x'.repeat(2500);
      const pages = Array.from({ length: 40 }, (_, p) =>
        Array.from({ length: 500 }, (_, i) => {
          const k = p * 500 + i;
          return { id: `o${k}`, createdAt: `${2023 + Math.floor((k % 24) / 12)}-${String(1 + (k % 12)).padStart(2, '0')}-05T00:00:00Z`, updatedAt: '2025-01-01T00:00:00Z', lines: [{ note: pad }], blob: pad };
        }),
      );
      await syncPages(wh, { shape: { primaryKey: ['id'], partitionBy: 'createdAt' }, mode: 'incremental', cursorField: 'updatedAt', pages });
      expect(await tableRows(wh, 'SELECT count(*) AS n, count(DISTINCT id) AS d FROM src.orders')).toEqual([{ n: 20_000, d: 20_000 }]);
    } finally {
      if (before === undefined) delete process.env.SLUICE_DUCKDB_MEMORY;
      else process.env.SLUICE_DUCKDB_MEMORY = before;
    }
  }, 120_000);

  it('row groups are bounded in bytes (4 MiB), so a write that interleaves months keeps little open per month', async () => {
    const wh = tempWarehouse();
    const pad = 'y'.repeat(4000);
    // Every page touches all 24 months (a sliced read's pages interleave them): ~6 MB of 4 KB records a month.
    const pages = Array.from({ length: 72 }, (_, p) => Array.from({ length: 500 }, (_, i) => ({ id: `o${p * 500 + i}`, createdAt: `${2023 + (Math.floor(i / 12) % 2)}-${String(1 + (i % 12)).padStart(2, '0')}-05T00:00:00Z`, blob: pad })));
    await syncPages(wh, { shape: { primaryKey: ['id'], partitionBy: 'createdAt' }, mode: 'incremental', pages });
    const files = (await dataFiles(wh)).map((f) => `'${path.join(wh.root, 'data', 'src', 'orders', f)}'`);
    const [groups] = await tableRows(wh, `SELECT max(bytes) AS biggest, count(*) AS n FROM (SELECT file_name, row_group_id, sum(total_uncompressed_size) AS bytes FROM parquet_metadata([${files.join(', ')}]) GROUP BY ALL)`);
    expect(Number(groups!.biggest)).toBeLessThanOrEqual(4 * 1024 * 1024 * 1.25);
    expect(Number(groups!.n)).toBeGreaterThanOrEqual(48); // at least two row groups a month
    const [opt] = await tableRows(wh, `SELECT value FROM lake.options() WHERE option_name = 'parquet_row_group_size_bytes' AND scope = 'GLOBAL'`);
    expect(String(opt!.value)).toBe('4194304');
  });

  it('a full sync that read some keys twice keeps the newest of each, under the same limit (the losers are found on the keys alone)', async () => {
    const before = process.env.SLUICE_DUCKDB_MEMORY;
    process.env.SLUICE_DUCKDB_MEMORY = '128MB';
    try {
      const wh = tempWarehouse();
      const pad = 'x'.repeat(2500);
      const rec = (k: number, updatedAt: string) => ({ id: `o${k}`, createdAt: `${2023 + Math.floor((k % 24) / 12)}-${String(1 + (k % 12)).padStart(2, '0')}-05T00:00:00Z`, updatedAt, lines: [{ note: pad }], blob: pad });
      const pages = Array.from({ length: 60 }, (_, p) => Array.from({ length: 500 }, (_, i) => rec(p * 500 + i, '2025-01-01T00:00:00Z')));
      // Updated while the read ran: read again at the end (a sliced read's tail), newer.
      pages.push([3, 17_001, 29_999].map((k) => rec(k, '2025-01-02T00:00:00Z')));
      const r = await syncPages(wh, { shape: { primaryKey: ['id'], partitionBy: 'createdAt' }, mode: 'incremental', cursorField: 'updatedAt', pages });
      expect(r.duplicateKeys).toBe(3);
      expect(await tableRows(wh, 'SELECT count(*) AS n, count(DISTINCT id) AS d FROM src.orders')).toEqual([{ n: 30_000, d: 30_000 }]);
      expect(await tableRows(wh, "SELECT id FROM src.orders WHERE updatedAt > TIMESTAMPTZ '2025-01-01 12:00:00Z' ORDER BY id")).toEqual([{ id: 'o17001' }, { id: 'o29999' }, { id: 'o3' }]);
    } finally {
      if (before === undefined) delete process.env.SLUICE_DUCKDB_MEMORY;
      else process.env.SLUICE_DUCKDB_MEMORY = before;
    }
  }, 180_000);
});
