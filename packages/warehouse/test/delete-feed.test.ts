import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { DataRecord, SyncMode } from '@sluice/core';
import { keyLines } from '@sluice/core/policies/deletes';
import { StagingWriter, applyFeedDeletions, applyReconciliation, commitStaged, lastFeedCursor, tableState, withLake, type WarehousePaths } from '../src/index';
import { tableRows, tempWarehouse } from './helpers';

/** The lake side of `deletes: { detect: vendor }`: the rows whose key the vendor's feed lists are marked or removed. */
const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };
const rec = (id: number, updatedAt = '2024-01-05T10:00:00Z') => ({ id, createdAt: '2024-01-05T10:00:00Z', updatedAt, total: id * 10 });

let n = 0;
async function sync(wh: WarehousePaths, mode: SyncMode, records: DataRecord[]): Promise<string> {
  const syncId = `f${Date.now()}-${n++}`;
  const dir = wh.staging('src', 'orders', syncId);
  const { writer } = StagingWriter.open({ dir, cursorField: 'updatedAt' });
  writer.writePage(records, { page: 1 });
  await commitStaged({ paths: wh, source: 'src', table: 'orders', shape, mode, fullRefresh: false, cursorField: 'updatedAt', syncId, startedAt: new Date().toISOString(), stagingDir: dir, staging: writer.state });
  return syncId;
}

function idsFile(wh: WarehousePaths, ids: number[]): string {
  const file = path.join(wh.root, `ids-${n++}.ndjson`);
  fs.writeFileSync(file, keyLines(ids.map((id) => ({ id })), ['id']).text);
  return file;
}

const feed = (wh: WarehousePaths, syncId: string, gone: number[], feedCursor: string, handle: 'soft' | 'hard' = 'soft') =>
  applyFeedDeletions({ paths: wh, source: 'src', table: 'orders', primaryKey: ['id'], handle, syncId, idsFile: idsFile(wh, gone), feedCursor });
const cursorOf = (wh: WarehousePaths) => withLake(wh, {}, ({ conn }) => lastFeedCursor(conn, 'src', 'orders'));
const ids = (xs: Record<string, unknown>[]) => xs.map((r) => Number(r.id));

describe('vendor delete feed (lake side)', () => {
  it('soft: marks exactly the listed rows (ids not stored change nothing), saves the feed cursor with the count in one commit; a retry does nothing again', async () => {
    const wh = tempWarehouse();
    const s1 = await sync(wh, 'incremental', [1, 2, 3, 4, 5].map((i) => rec(i)));
    expect(await cursorOf(wh)).toBeUndefined();
    const r = await feed(wh, s1, [2, 4, 99], '2024-06-01T00:00:00.000Z');
    expect(r).toEqual({ rowsDeleted: 2, listed: 3, alreadyDone: false });
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders WHERE _sluice_deleted_at IS NOT NULL ORDER BY id'))).toEqual([2, 4]);
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders WHERE _sluice_deleted_at IS NULL ORDER BY id'))).toEqual([1, 3, 5]);
    expect(await cursorOf(wh)).toBe('2024-06-01T00:00:00.000Z');
    const state = await tableState(wh, 'src', 'orders');
    expect(state.lastSucceeded).toMatchObject({ syncId: s1, rowsDeleted: 2, deleteFeedCursor: '2024-06-01T00:00:00.000Z' });
    expect(await feed(wh, s1, [1], '2024-07-01T00:00:00.000Z')).toMatchObject({ rowsDeleted: 2, alreadyDone: true });
    expect(await cursorOf(wh)).toBe('2024-06-01T00:00:00.000Z');

    // The next sync: an id listed again (the feed re-read from its cursor) is not counted twice.
    const s2 = await sync(wh, 'incremental', [rec(6)]);
    expect(await feed(wh, s2, [4, 5], '2024-06-02T00:00:00.000Z')).toMatchObject({ rowsDeleted: 1, listed: 2 });
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders WHERE _sluice_deleted_at IS NOT NULL ORDER BY id'))).toEqual([2, 4, 5]);
    expect(await cursorOf(wh)).toBe('2024-06-02T00:00:00.000Z');
  });

  it('hard: removes the listed rows; an empty feed still saves its cursor', async () => {
    const wh = tempWarehouse();
    const s1 = await sync(wh, 'incremental', [1, 2, 3].map((i) => rec(i)));
    expect(await feed(wh, s1, [], '2024-06-01T00:00:00.000Z', 'hard')).toMatchObject({ rowsDeleted: 0, listed: 0 });
    expect(await cursorOf(wh)).toBe('2024-06-01T00:00:00.000Z');
    const s2 = await sync(wh, 'incremental', [rec(4)]);
    expect(await feed(wh, s2, [1, 3], '2024-06-03T00:00:00.000Z', 'hard')).toMatchObject({ rowsDeleted: 2 });
    expect(ids(await tableRows(wh, 'SELECT id FROM src.orders ORDER BY id'))).toEqual([2, 4]);
    const cols = await tableRows(wh, `SELECT column_name FROM (DESCRIBE src.orders)`);
    expect(cols.map((c) => c.column_name)).not.toContain('_sluice_deleted_at');
  });

  it('a reconciliation of a table with a feed moves the feed cursor too (the way back after the feed expired)', async () => {
    const wh = tempWarehouse();
    const s1 = await sync(wh, 'incremental', [1, 2].map((i) => rec(i)));
    await feed(wh, s1, [], '2024-01-01T00:00:00.000Z');
    const s2 = await sync(wh, 'incremental', [rec(3)]);
    const file = path.join(wh.root, `keys-${n++}.ndjson`);
    fs.writeFileSync(file, keyLines([1, 3].map((id) => ({ id })), ['id']).text);
    await applyReconciliation({ paths: wh, source: 'src', table: 'orders', primaryKey: ['id'], handle: 'soft', maxFraction: 0.5, confirmed: false, syncId: s2, keysFiles: [file], feedCursor: '2024-08-01T00:00:00.000Z' });
    expect(await cursorOf(wh)).toBe('2024-08-01T00:00:00.000Z');
  });
});
