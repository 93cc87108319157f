import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { DataRecord, SyncMode } from '@sluice/core';
import { keyLines } from '@sluice/core/policies/deletes';
import { StagingWriter, applyReconciliation, commitStaged, DeletionThresholdError, tableState, type WarehousePaths } from '../src/index';
import { tableRows, tempWarehouse } from './helpers';

/** The lake side of `deletes: reconcile`: rows whose key the vendor no longer lists are marked or removed. */
const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };
const rec = (id: number, updatedAt = '2024-01-05T10:00:00Z') => ({ id, createdAt: '2024-01-05T10:00:00Z', updatedAt, total: id * 10 });

let n = 0;
async function sync(wh: WarehousePaths, mode: SyncMode, records: DataRecord[]): Promise<string> {
  const syncId = `r${Date.now()}-${n++}`;
  const dir = wh.staging('src', 'orders', syncId);
  const { writer } = StagingWriter.open({ dir, cursorField: 'updatedAt' });
  writer.writePage(records, { page: 1 });
  await commitStaged({ paths: wh, source: 'src', table: 'orders', shape, mode, fullRefresh: false, cursorField: 'updatedAt', syncId, startedAt: new Date().toISOString(), stagingDir: dir, staging: writer.state });
  return syncId;
}

function keysFile(wh: WarehousePaths, ids: number[]): string {
  const file = path.join(wh.root, `keys-${n++}.ndjson`);
  fs.writeFileSync(file, keyLines(ids.map((id) => ({ id })), ['id']).text);
  return file;
}

const reconcile = (wh: WarehousePaths, syncId: string, live: number[], opts: { handle?: 'soft' | 'hard'; maxFraction?: number; confirmed?: boolean } = {}) =>
  applyReconciliation({ paths: wh, source: 'src', table: 'orders', primaryKey: ['id'], handle: opts.handle ?? 'soft', maxFraction: opts.maxFraction ?? 0.5, confirmed: opts.confirmed ?? false, syncId, keysFiles: [keysFile(wh, live)] });

const ids = (xs: Record<string, unknown>[]) => xs.map((r) => Number(r.id));

describe('reconcile', () => {
  it('soft: marks the rows whose key is gone, records the count in sluice.syncs; a key listed again is unmarked, and a merge of the record unmarks it', async () => {
    const wh = tempWarehouse();
    const s1 = await sync(wh, 'incremental', [1, 2, 3, 4, 5].map((i) => rec(i)));
    const r = await reconcile(wh, s1, [1, 3, 5]);
    expect(r).toMatchObject({ rowsDeleted: 2, liveRows: 5, liveKeys: 3, alreadyDone: false });
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders WHERE _sluice_deleted_at IS NOT NULL ORDER BY id'))).toEqual([2, 4]);
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders WHERE _sluice_deleted_at IS NULL ORDER BY id'))).toEqual([1, 3, 5]);
    const state = await tableState(wh, 'src', 'orders');
    expect(state.lastSucceeded).toMatchObject({ syncId: s1, rowsDeleted: 2 });
    expect(state.lastSucceeded?.reconciledAt).toBeTruthy();

    // A retried activity whose first attempt committed changes nothing.
    expect(await reconcile(wh, s1, [1])).toMatchObject({ rowsDeleted: 2, alreadyDone: true });

    // Record 2 comes back changed: the merge unmarks it. Record 4 is listed again: the reconciliation unmarks it.
    const s2 = await sync(wh, 'incremental', [rec(2, '2024-02-01T00:00:00Z')]);
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders WHERE _sluice_deleted_at IS NOT NULL ORDER BY id'))).toEqual([4]);
    const r2 = await reconcile(wh, s2, [1, 2, 3, 4, 5]);
    expect(r2).toMatchObject({ rowsDeleted: 0, rowsRestored: 1 });
    expect(await tableRows(wh, 'SELECT count(*)::INT AS n FROM src.orders WHERE _sluice_deleted_at IS NOT NULL')).toEqual([{ n: 0 }]);
  });

  it('hard: removes the rows; no _sluice_deleted_at column', async () => {
    const wh = tempWarehouse();
    const s1 = await sync(wh, 'incremental', [1, 2, 3, 4].map((i) => rec(i)));
    expect(await reconcile(wh, s1, [1, 2, 4], { handle: 'hard' })).toMatchObject({ rowsDeleted: 1 });
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders ORDER BY id'))).toEqual([1, 2, 4]);
    const cols = await tableRows(wh, `SELECT column_name FROM (DESCRIBE src.orders)`);
    expect(cols.map((c) => c.column_name)).not.toContain('_sluice_deleted_at');
  });

  it('above maxFraction: refuses with the --confirm-deletes command and changes nothing; confirmed, deletes', async () => {
    const wh = tempWarehouse();
    const s1 = await sync(wh, 'incremental', [1, 2, 3, 4].map((i) => rec(i)));
    const err = await reconcile(wh, s1, [1], { handle: 'hard' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeletionThresholdError);
    expect((err as Error).message).toContain('would delete 3 of 4 row(s) (75%');
    expect((err as Error).message).toContain('sluice sync src --table orders --confirm-deletes');
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders ORDER BY id'))).toEqual([1, 2, 3, 4]);
    expect((await tableState(wh, 'src', 'orders')).lastSucceeded?.reconciledAt).toBeUndefined();
    // An empty key list (a vendor answering nothing) is refused the same way.
    await expect(reconcile(wh, s1, [])).rejects.toThrow(/would delete 4 of 4 row\(s\)/);
    expect(await reconcile(wh, s1, [1], { handle: 'hard', confirmed: true })).toMatchObject({ rowsDeleted: 3 });
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders ORDER BY id'))).toEqual([1]);
  });

  it('append_only soft: every stored version of a gone key is marked', async () => {
    const wh = tempWarehouse();
    await sync(wh, 'append_only', [rec(1), rec(2), rec(3)]);
    const s2 = await sync(wh, 'append_only', [rec(2, '2024-03-01T00:00:00Z')]);
    expect(await reconcile(wh, s2, [1, 3])).toMatchObject({ rowsDeleted: 2, liveRows: 4 });
    expect(await tableRows(wh, 'SELECT id::INT AS id, count(*)::INT AS n FROM src.orders WHERE _sluice_deleted_at IS NOT NULL GROUP BY id')).toEqual([{ id: 2, n: 2 }]);
  });
});
