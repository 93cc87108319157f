import { describe, it, expect } from 'vitest';
import { syncPages, tableRows, tempWarehouse } from './helpers';

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
});
