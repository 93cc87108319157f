import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { plainDuckDB } from '../../warehouse/test/helpers';

/**
 * A warehouse written before DuckLake is upgraded by the first command that uses the lake (here
 * `sluice status`), with a message; `sluice warehouse upgrade` then has nothing left to do. Through
 * the real `sluice` executable, as an operator runs it.
 */
const BIN = path.resolve(import.meta.dirname, '../bin/sluice.js');

function sluice(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function legacyWarehouse(root: string): Promise<void> {
  const dir = path.join(root, 'shop', 'orders');
  fs.mkdirSync(path.join(dir, 'month=2024-05'), { recursive: true });
  const engine = await plainDuckDB(path.join(root, '.tmp', 'legacy'));
  try {
    await engine.conn.run(
      `COPY (SELECT 'o' || i AS id, TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_hours(i::INT) AS created_at, TIMESTAMPTZ '2024-05-02 00:00:00+00' AS updated_at, TIMESTAMPTZ '2024-05-03 00:00:00+00' AS _sluice_synced_at, 's1' AS _sluice_sync_id FROM range(3) t(i))
       TO '${path.join(dir, 'month=2024-05', 'part-s1-0.parquet')}' (FORMAT parquet)`,
    );
    await engine.conn.run(`ATTACH '${path.join(root, 'warehouse.duckdb')}' AS old; CREATE VIEW old.v AS SELECT 1; DETACH old`);
  } finally {
    engine.close();
    fs.rmSync(path.join(root, '.tmp'), { recursive: true, force: true });
  }
  const at = '2024-05-03T00:00:00.000Z';
  fs.writeFileSync(
    path.join(dir, '_manifest.json'),
    JSON.stringify({
      formatVersion: 1, source: 'shop', table: 'orders', primaryKey: ['id'], partitionBy: 'created_at', mode: 'incremental', cursorField: 'updated_at', cursor: '2024-05-02T00:00:00.000Z',
      schema: [{ name: 'id', type: 'VARCHAR' }, { name: 'created_at', type: 'TIMESTAMPTZ' }, { name: 'updated_at', type: 'TIMESTAMPTZ' }],
      files: [{ path: 'month=2024-05/part-s1-0.parquet', month: '2024-05', rows: 3, bytes: 1 }], rows: 3, updatedAt: at,
      syncs: [{ syncId: 's1', mode: 'incremental', fullRefresh: false, startedAt: at, finishedAt: at, outcome: 'succeeded', rowsRead: 3, rowsWritten: 3, pages: 1, cursorField: 'updated_at', cursorAfter: '2024-05-02T00:00:00.000Z', schemaChanges: [] }],
    }),
  );
}

describe('sluice warehouse upgrade', () => {
  it('the first command that uses the lake upgrades an old warehouse, with a message; the command then has nothing to do', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-upgrade-'));
    try {
      fs.writeFileSync(path.join(cwd, 'sluice.yaml'), `warehouse:\n  path: ./wh\nsources:\n  - name: shop\n    type: demo\n    config:\n      token: abc123\n    tables:\n      orders: {}\n`);
      await legacyWarehouse(path.join(cwd, 'wh'));

      const status = await sluice(cwd, ['status', '--json']);
      expect(status.stderr).toMatch(/upgrading the warehouse at \S+ to DuckLake: 1 table\(s\) in the format before DuckLake/);
      expect(status.stderr).toMatch(/warehouse upgraded to DuckLake \(once, automatically/);
      expect(status.stderr).toMatch(/shop\.orders: 3 row\(s\) in the lake \(verified against the manifest\): 1 file\(s\) registered in place, 0 copied; 1 sync record\(s\) carried over; cursor updated_at = 2024-05-02T00:00:00.000Z/);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toEqual([expect.objectContaining({ source: 'shop', table: 'orders', rows: 3, cursor: '2024-05-02T00:00:00.000Z', outcome: 'succeeded' })]);
      expect(fs.existsSync(path.join(cwd, 'wh', 'shop', 'orders', '_manifest.json'))).toBe(false);
      expect(fs.existsSync(path.join(cwd, 'wh', 'warehouse.duckdb'))).toBe(false);

      const again = await sluice(cwd, ['warehouse', 'upgrade']);
      expect(again).toMatchObject({ code: 0, stderr: '' });
      expect(again.stdout).toMatch(/nothing to upgrade/);
      const query = await sluice(cwd, ['query', 'SELECT count(*) AS n FROM shop.orders', '--format', 'json']);
      expect(query).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(query.stdout)).toEqual([{ n: 3 }]);
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});
