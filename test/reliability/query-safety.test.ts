import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, beforeAll } from 'vitest';
import { queryWarehouse } from '../../packages/warehouse/src/index';
import { syncPages, tempWarehouse } from '../../packages/warehouse/test/helpers';
import type { WarehousePaths } from '../../packages/warehouse/src/paths';
import { assertName } from '../../packages/warehouse/src/paths';
import { record } from './report';

/** `sluice query` with malicious or broken SQL cannot modify or delete warehouse data. */
describe('read-only queries', () => {
  let wh: WarehousePaths;
  let snapshot: Map<string, number>;
  const files = () => new Map(fs.readdirSync(wh.root, { recursive: true }).map(String).filter((f) => !f.startsWith('.')).map((f) => [f, fs.statSync(path.join(wh.root, f)).mtimeMs]));
  beforeAll(async () => {
    wh = tempWarehouse();
    await syncPages(wh, { shape: { primaryKey: ['id'], partitionBy: 'createdAt' }, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'a', createdAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z' }]] });
    snapshot = files();
  });

  const attacks = [
    'DROP VIEW src.orders',
    'CREATE TABLE src.evil AS SELECT 1',
    'INSERT INTO sluice.syncs SELECT * FROM sluice.syncs',
    'DELETE FROM sluice.syncs',
    'UPDATE sluice.syncs SET outcome = 1',
    "COPY (SELECT 1) TO 'x.parquet'",
    "copy src.orders to '/tmp/evil.csv'",
    "EXPORT DATABASE '/tmp/evil'",
    "ATTACH '/tmp/other.duckdb' AS other",
    'INSTALL httpfs',
    "SET enable_external_access = true",
    "PRAGMA database_size",
    'CREATE OR REPLACE VIEW src.orders AS SELECT 1 AS id',
    'SELECT 1; DROP VIEW src.orders',
    "SELECT * FROM read_parquet('x'); COPY (SELECT 1) TO 'y.csv'",
    'ALTER VIEW src.orders RENAME TO gone',
    'CHECKPOINT',
    'VACUUM',
  ];
  it.each(attacks)('refuses %s and changes nothing', async (sql) => {
    await expect(queryWarehouse(wh, sql)).rejects.toThrow();
    expect(files()).toEqual(snapshot);
    const r = await queryWarehouse(wh, 'SELECT count(*) FROM src.orders');
    expect(r.rows).toEqual([[1]]);
  });

  it('broken SQL is an error, not a crash', async () => {
    await expect(queryWarehouse(wh, 'SELEC * FROM')).rejects.toThrow(/Parser Error/);
    await expect(queryWarehouse(wh, 'SELECT * FROM nope.nothing')).rejects.toThrow(/Catalog Error/);
    record({ scenario: `malicious SQL in sluice query (${attacks.length} statements)`, outcome: 'exact', lost: 0, duplicated: 0, note: 'all refused, warehouse unchanged' });
  });

  it.each(['../etc', 'a/b', 'Shop', 'x"; drop', '', 'a'.repeat(80), 'select'])('source and table names that could escape the warehouse or inject SQL are refused: %s', (name) => {
    if (name === 'select') return expect(() => assertName('source', name)).not.toThrow(); // quoted everywhere
    expect(() => assertName('source', name)).toThrow(/invalid source name/);
    expect(() => wh.staging(name, 'orders', 'sync-1')).toThrow();
  });
});
