import { describe, it, expect } from 'vitest';
import { maintainLake, parseSnapshotRef, rollbackTable, syncHistory, listTables, type WarehousePaths } from '../src/index';
import { stateOf, syncPages, tableRows, tempWarehouse } from './helpers';

const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };
const rec = (id: string, updatedAt: string, extra: Record<string, unknown> = {}) => ({ id, createdAt: '2024-01-05T10:00:00Z', updatedAt, total: 100, ...extra });
const content = (wh: WarehousePaths, at = '') => tableRows(wh, `SELECT * EXCLUDE (_sluice_synced_at, _sluice_sync_id) FROM src.orders${at} ORDER BY id`);
const snapshotOf = async (wh: WarehousePaths) => (await listTables(wh)).find((t) => t.table === 'orders')!.snapshot!;

describe('rollback', () => {
  it('restores a table and its cursor to a snapshot as a new snapshot; the next sync re-reads from there', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('a', '2024-02-01T00:00:00Z'), rec('b', '2024-02-02T00:00:00Z')]] });
    const first = await snapshotOf(wh);
    const firstRows = await content(wh);
    const firstMs = Number((await tableRows(wh, `SELECT epoch_ms(snapshot_time) AS ms FROM lake.snapshots() WHERE snapshot_id = ${first}`))[0]!.ms);
    // A later sync updates a, adds c and a column.
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('a', '2024-03-01T00:00:00Z', { total: 7, note: 'x' }), rec('c', '2024-03-02T00:00:00Z', { note: 'y' })]] });
    const second = await snapshotOf(wh);
    const secondRows = await content(wh);
    expect((await stateOf(wh)).cursor).toBe('2024-03-02T00:00:00Z');

    const r = await rollbackTable(wh, 'src', 'orders', first);
    expect(r).toMatchObject({ restoredSnapshot: first, rowsBefore: 3, rowsAfter: 2, cursorField: 'updatedAt', cursorBefore: '2024-03-02T00:00:00Z', cursorAfter: '2024-02-02T00:00:00Z', columnsNulled: ['note'], columnsDropped: [] });
    expect(r.snapshot).toBeGreaterThan(second);
    // Data as at the first snapshot (the column added since is NULL), cursor as then.
    expect(await content(wh)).toEqual(firstRows.map((x) => ({ ...x, note: null })));
    const state = await stateOf(wh);
    expect(state).toMatchObject({ cursor: '2024-02-02T00:00:00Z', cursorField: 'updatedAt' });
    expect(state.lastSucceeded).toMatchObject({ outcome: 'rolled_back', restoredSnapshot: first, cursorAfter: '2024-02-02T00:00:00Z' });
    expect((await syncHistory(wh, 'src', 'orders'))[0]).toMatchObject({ outcome: 'rolled_back', rowsWritten: 2, tableRows: 2 });
    // The rollback is a snapshot like any other: its commit message says so, and time travel still reads what came before it.
    expect(await tableRows(wh, `SELECT commit_message, json_extract_string(commit_extra_info, '$.restored_snapshot') AS restored FROM lake.snapshots() WHERE snapshot_id = ${r.snapshot}`)).toEqual([
      { commit_message: expect.stringMatching(new RegExp(`^rollback src\\.orders to snapshot ${first} `)), restored: String(first) },
    ]);
    expect(await content(wh, ` AT (VERSION => ${second})`)).toEqual(secondRows);
    expect(await snapshotOf(wh)).toBe(r.snapshot); // `sluice status` shows the table's new snapshot

    // The next sync starts from the restored cursor: the vendor sends everything changed since, merged back.
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', since: state.cursor, pages: [[rec('a', '2024-03-01T00:00:00Z', { total: 7, note: 'x' }), rec('c', '2024-03-02T00:00:00Z', { note: 'y' })]] });
    expect(await content(wh)).toEqual(secondRows);
    expect((await stateOf(wh)).cursor).toBe('2024-03-02T00:00:00Z');

    // A time picks the latest snapshot at or before it.
    const byTime = await rollbackTable(wh, 'src', 'orders', parseSnapshotRef(new Date(firstMs + 1).toISOString()));
    expect(byTime.restoredSnapshot).toBe(first);
    expect((await stateOf(wh)).cursor).toBe('2024-02-02T00:00:00Z');
  });

  it('says clearly when the table did not exist then, or the snapshot is unknown or expired', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('a', '2024-02-01T00:00:00Z')]] });
    const created = await snapshotOf(wh);
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('b', '2024-02-02T00:00:00Z')]] });
    await expect(rollbackTable(wh, 'src', 'orders', created - 1)).rejects.toThrow(/src\.orders did not exist at snapshot \d+/);
    await expect(rollbackTable(wh, 'src', 'orders', 999)).rejects.toThrow(/snapshot 999 does not exist yet; nearest available: \d+ \(/);
    await expect(rollbackTable(wh, 'src', 'refunds', created)).rejects.toThrow(/src\.refunds is not in the warehouse/);
    await expect(rollbackTable(wh, 'src', 'orders', new Date('2001-01-01T00:00:00Z'))).rejects.toThrow(/no snapshot at or before 2001-01-01T00:00:00.000Z/);
    expect(() => parseSnapshotRef('yesterday')).toThrow(/snapshot id \(e\.g\. 12\) or an ISO timestamp/);

    await maintainLake(wh, { expireBefore: new Date() });
    const err = await rollbackTable(wh, 'src', 'orders', created).catch((e: Error) => e.message);
    expect(err).toMatch(new RegExp(`snapshot ${created} has expired .*; nearest available: \\d+ \\(`));
    expect((await stateOf(wh)).cursor).toBe('2024-02-02T00:00:00Z'); // nothing changed
  });
});
