import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { stateOf, syncPages, tableRows, tempWarehouse } from './helpers';
import { record } from '../../../test/reliability/report';

/**
 * The process is killed (SIGKILL) between staging and commit, before the transaction writes, after it
 * wrote every Parquet file and the sync record but before COMMIT, and right after COMMIT. Each time the
 * table is exactly the old one or exactly the new one, the cursor matches the data, and the next sync
 * succeeds. (Files a killed transaction wrote are orphans no snapshot lists: maintenance deletes them.)
 */
const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };
const rec = (id: string, month: number, updatedAt: string, v: number) => ({ id, createdAt: `2024-${String(month).padStart(2, '0')}-10T00:00:00Z`, updatedAt, v });
const CHILD = path.join(import.meta.dirname, 'crash-child.ts');

describe('crash safety of the commit', () => {
  it.each(['after-staging', 'before-write', 'after-write', 'after-commit'])('killed at %s: table is before or after, never between', async (point) => {
    const wh = tempWarehouse();
    const old = [rec('a', 1, '2024-01-10T00:00:00Z', 1), rec('b', 2, '2024-02-10T00:00:00Z', 1), rec('c', 3, '2024-03-10T00:00:00Z', 1)];
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [old] });
    const before = await tableRows(wh, 'SELECT id, v FROM src.orders ORDER BY id');
    const stateBefore = await stateOf(wh);

    const next = [rec('b', 2, '2024-04-01T00:00:00Z', 2), rec('d', 4, '2024-04-02T00:00:00Z', 1)];
    const pagesFile = path.join(wh.root, 'pages.json');
    fs.writeFileSync(pagesFile, JSON.stringify([next]));
    const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, wh.root, point, pagesFile, `crash-${point}`], { encoding: 'utf8' });
    expect(r.signal, r.stderr).toBe('SIGKILL');

    const committed = point === 'after-commit';
    const state = await stateOf(wh);
    const rows = await tableRows(wh, 'SELECT id, v FROM src.orders ORDER BY id');
    if (committed) {
      expect(rows).toEqual([{ id: 'a', v: 1 }, { id: 'b', v: 2 }, { id: 'c', v: 1 }, { id: 'd', v: 1 }]);
      expect(state.cursor).toBe('2024-04-02T00:00:00Z');
    } else {
      expect(rows).toEqual(before);
      expect(state.cursor).toBe(stateBefore.cursor);
      expect(state.last?.syncId).toBe(stateBefore.last?.syncId);
    }
    record({ scenario: `kill -9 during a DuckLake commit (${point})`, outcome: 'exact', lost: 0, duplicated: 0, note: committed ? 'committed whole' : 'table and cursor as before' });
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [next], since: state.cursor });
    expect(await tableRows(wh, 'SELECT id, v FROM src.orders ORDER BY id')).toEqual([{ id: 'a', v: 1 }, { id: 'b', v: 2 }, { id: 'c', v: 1 }, { id: 'd', v: 1 }]);
  }, 60_000);

  it('a full disk during a sync (staging or commit) fails clearly and leaves the previous table intact', async (ctx) => {
    // A 3 MB tmpfs as the warehouse (needs root; skipped elsewhere).
    const mnt = fs.mkdtempSync('/tmp/sluice-full-');
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
    if (m.status !== 0) return ctx.skip();
    try {
      const { WarehousePaths } = await import('../src/index');
      const wh = new WarehousePaths(mnt);
      await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('a', 1, '2024-01-10T00:00:00Z', 1)]] });
      const before = await tableRows(wh, 'SELECT id, v FROM src.orders');
      const stateBefore = await stateOf(wh);
      // ~6 MB of incompressible text cannot fit
      const big = Array.from({ length: 3000 }, (_, i) => ({ ...rec(`n${i}`, 1 + (i % 12), '2024-05-01T00:00:00Z', 1), blob: Array.from({ length: 2000 }, () => Math.random().toString(36)[2]).join('') }));
      const err = await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [big] }).then(() => undefined, (e: Error) => e);
      expect(err, 'the sync must fail').toBeInstanceOf(Error);
      expect(String(err?.message)).toMatch(/ENOSPC|No space left|disk|space/i);
      expect((await stateOf(wh)).cursor).toBe(stateBefore.cursor);
      expect(await tableRows(wh, 'SELECT id, v FROM src.orders')).toEqual(before);
    } finally {
      spawnSync('umount', ['-l', mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });
});
