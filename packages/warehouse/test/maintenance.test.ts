import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { AUTO_COMPACT, insertSyncSql, maintainLake, setCommitMessage, withLake, type CompactionResult, type MaintenanceProgress, type WarehousePaths } from '../src/index';
import { dataFiles, stateOf, syncPages, tableRows, tempWarehouse } from './helpers';

const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };
const iso = (ms: number) => new Date(ms).toISOString();
const BASE = Date.UTC(2024, 0, 1);

/**
 * `n` tiny incremental syncs of src.orders, each its own DuckLake transaction the way commitStaged
 * writes one (a MERGE by primary key, the sync record with the cursor, a commit message), in one session
 * so that 200 of them take seconds: each inserts one order and updates an earlier one (a delete file).
 */
async function tinySyncs(wh: WarehousePaths, from: number, n: number, afterEach?: (i: number) => Promise<void>): Promise<void> {
  await withLake(wh, {}, async ({ conn }) => {
    for (let i = from; i < from + n; i++) {
      const t = iso(BASE + i * 60_000);
      const old = `o${Math.floor(i / 2)}`;
      const cols = ['id', 'createdAt', 'updatedAt', 'total', 'status', '_sluice_synced_at', '_sluice_sync_id'];
      const src = `SELECT * FROM (VALUES ('o${i}', TIMESTAMPTZ '${iso(BASE + (i % 90) * 86_400_000)}', TIMESTAMPTZ '${t}', ${i}, 'open', now(), 'tiny-${i}'),
                                      ('${old}', TIMESTAMPTZ '${iso(BASE + (Math.floor(i / 2) % 90) * 86_400_000)}', TIMESTAMPTZ '${t}', ${i * 10}, 'paid', now(), 'tiny-${i}')) v(${cols.map((c) => `"${c}"`).join(', ')})`;
      await conn.run('BEGIN TRANSACTION');
      await conn.run(
        `MERGE INTO src.orders AS o USING (${src}) AS n ON (o.id = n.id)
         WHEN MATCHED THEN UPDATE SET ${cols.map((c) => `"${c}" = n."${c}"`).join(', ')}
         WHEN NOT MATCHED THEN INSERT (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((c) => `n."${c}"`).join(', ')})`,
      );
      await conn.run(
        insertSyncSql({ source: 'src', table: 'orders', syncId: `tiny-${i}`, mode: 'incremental', fullRefresh: false, startedAt: t, finishedAt: iso(Date.now()), outcome: 'succeeded', rowsRead: 2, rowsWritten: 2, pages: 1, cursorField: 'updatedAt', cursorAfter: t, schemaChanges: [] }),
      );
      await setCommitMessage(conn, `sync src.orders (incremental): 2 row(s) written`, { source: 'src', table: 'orders', sync_id: `tiny-${i}` });
      await conn.run('COMMIT');
      await afterEach?.(i);
    }
  });
}

const snapshotNow = (wh: WarehousePaths) => tableRows(wh, 'SELECT max(snapshot_id) AS id FROM lake.snapshots()').then((r) => Number(r[0]!.id));
const content = (wh: WarehousePaths, at = '') => tableRows(wh, `SELECT id, total, status, updatedAt FROM src.orders${at} ORDER BY id`);
const parquetOnDisk = (wh: WarehousePaths) => (fs.readdirSync(path.join(wh.root, 'data'), { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).length;

describe('auto-compaction after a commit', () => {
  const filesOf = (wh: WarehousePaths) =>
    tableRows(wh, `SELECT count(*) + count(delete_file) AS n FROM ducklake_list_files('lake', 'orders', schema => 'src')`).then((r) => Number(r[0]!.n));
  const next = (i: number) => [{ id: `o${i}`, createdAt: iso(BASE), updatedAt: iso(BASE + i * 60_000), total: i, status: 'open' }];

  it('a table fragmented by many small syncs is compacted by the next commit: same rows, a few files', { timeout: 300_000 }, async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [next(0)] });
    await tinySyncs(wh, 1, 100);
    const fragmented = await filesOf(wh);
    expect(fragmented).toBeGreaterThan(AUTO_COMPACT.minFiles);
    const before = await content(wh);
    const seen: (CompactionResult | { error: string })[] = [];
    const r = await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [next(1000)], onCompaction: (c) => seen.push(c) });
    expect(r.rowsWritten).toBe(1);
    expect(seen).toHaveLength(1);
    const c = seen[0] as CompactionResult;
    expect(c.filesBefore).toBeGreaterThan(AUTO_COMPACT.minFiles);
    expect(c.filesMerged).toBeGreaterThan(0);
    const after = await filesOf(wh);
    expect(after).toBeLessThan(fragmented / 4);
    const rowsNow = await content(wh);
    expect(rowsNow.filter((x) => x.id !== 'o1000')).toEqual(before);
    expect(rowsNow.some((x) => x.id === 'o1000')).toBe(true);
    // Compact now: the next commit leaves it alone.
    seen.length = 0;
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [next(1001)], onCompaction: (x) => seen.push(x) });
    expect(seen).toEqual([]);
  });

  it('SLUICE_AUTO_COMPACT=off leaves compaction to maintenance', { timeout: 300_000 }, async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [next(0)] });
    await tinySyncs(wh, 1, 100);
    const fragmented = await filesOf(wh);
    process.env.SLUICE_AUTO_COMPACT = 'off';
    try {
      const seen: unknown[] = [];
      await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [next(1000)], onCompaction: (c) => seen.push(c) });
      expect(seen).toEqual([]);
      expect(await filesOf(wh)).toBeGreaterThanOrEqual(fragmented);
    } finally {
      delete process.env.SLUICE_AUTO_COMPACT;
    }
  });
});

describe('maintenance', () => {
  it('after 200 tiny syncs: far fewer files, same rows and cursor, unexpired snapshots still readable, orphans by age only', async () => {
    const wh = tempWarehouse();
    // The first sync creates the table through the real commit path.
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'o0', createdAt: iso(BASE), updatedAt: iso(BASE), total: 0, status: 'open' }]] });
    let mid = { time: 0, snapshot: 0 };
    await tinySyncs(wh, 1, 200, async (i) => {
      if (i !== 100) return;
      await new Promise((r) => setTimeout(r, 100));
      mid = { time: Date.now(), snapshot: 0 };
      await new Promise((r) => setTimeout(r, 100));
    });
    const last = await snapshotNow(wh);
    mid.snapshot = Number((await tableRows(wh, `SELECT min(snapshot_id) AS id FROM lake.snapshots() WHERE snapshot_time > TIMESTAMPTZ '${iso(mid.time)}'`))[0]!.id);
    const keptSnapshot = mid.snapshot + 40;

    const filesBefore = (await dataFiles(wh)).length;
    expect(filesBefore).toBeGreaterThan(150);
    const rowsBefore = await content(wh);
    const stateBefore = await stateOf(wh);
    expect(stateBefore.cursor).toBe(iso(BASE + 200 * 60_000));
    const travelBefore = await content(wh, ` AT (VERSION => ${keptSnapshot})`);
    expect(travelBefore.length).toBeGreaterThan(100);

    // An orphan a killed commit left long ago, and one a commit in progress is writing right now.
    const dir = path.join(wh.root, 'data', 'src', 'orders');
    const sample = path.join(dir, (await dataFiles(wh))[0]!);
    const oldOrphan = path.join(path.dirname(sample), 'ducklake-killed-commit.parquet');
    const freshOrphan = path.join(path.dirname(sample), 'ducklake-commit-in-progress.parquet');
    fs.copyFileSync(sample, oldOrphan);
    fs.copyFileSync(sample, freshOrphan);
    const longAgo = new Date(Date.now() - 7 * 3600_000);
    fs.utimesSync(oldOrphan, longAgo, longAgo);

    const progress: MaintenanceProgress[] = [];
    const r = await maintainLake(wh, { expireBefore: new Date(mid.time), onProgress: (p) => progress.push(p) });

    // Far fewer files: the merge makes one per month partition touched.
    const filesAfter = (await dataFiles(wh)).length;
    expect(filesAfter).toBeLessThan(filesBefore / 10);
    expect(r.filesBefore).toBeGreaterThan(r.filesAfter * 10);
    expect(r.filesMerged).toBeGreaterThan(150);
    expect(r.rowsFlushed).toBeGreaterThan(100); // the sync log left the catalog for Parquet
    // Snapshots before the retention cutoff expired, the later ones kept.
    expect(r.snapshotsExpired).toBeGreaterThanOrEqual(mid.snapshot - 1);
    expect(r.oldestSnapshot!.id).toBe(mid.snapshot);
    expect(r.snapshotsKept).toBe(Number((await tableRows(wh, 'SELECT count(*) AS n FROM lake.snapshots()'))[0]!.n));
    expect(r.snapshotsKept).toBeGreaterThan(last - mid.snapshot);
    // Only the old orphan went; the fresh one (a commit still writing it) is untouched.
    expect(r.orphansDeleted).toBe(1);
    expect(fs.existsSync(oldOrphan)).toBe(false);
    expect(fs.existsSync(freshOrphan)).toBe(true);
    expect(r.bytesFreed).toBeGreaterThan(0);
    expect(progress.map((p) => p.step)).toEqual(expect.arrayContaining(['inventory', 'flush', 'expire', 'cleanup', 'merge', 'orphans', 'done']));

    // Same rows, same cursor; time travel to an unexpired snapshot still reads what it did; an expired one is gone.
    expect(await content(wh)).toEqual(rowsBefore);
    const stateAfter = await stateOf(wh);
    expect(stateAfter.cursor).toBe(stateBefore.cursor);
    expect(stateAfter.cursorField).toBe('updatedAt');
    expect(await content(wh, ` AT (VERSION => ${keptSnapshot})`)).toEqual(travelBefore);
    await expect(content(wh, ` AT (VERSION => ${mid.snapshot - 5})`)).rejects.toThrow(/No snapshot found/);

    // The files this run merged away wait for the next run (a query may still be reading them); then they go.
    expect(r.filesAwaitingDeletion).toBeGreaterThan(150);
    const onDiskBefore = parquetOnDisk(wh);
    expect(onDiskBefore).toBeGreaterThan(filesBefore);
    const again = await maintainLake(wh, { expireBefore: new Date(mid.time) });
    expect(again.filesDeleted).toBeGreaterThanOrEqual(r.filesAwaitingDeletion);
    expect(again.bytesFreed).toBeGreaterThan(0);
    expect(again.filesMerged).toBe(0);
    expect(parquetOnDisk(wh)).toBe(onDiskBefore - again.filesDeleted);
    // Left on disk: only files some unexpired snapshot needs, and the fresh orphan.
    expect(await tableRows(wh, `SELECT count(*) AS n FROM ducklake_cleanup_old_files('lake', cleanup_all => true, dry_run => true)`)).toEqual([{ n: 0 }]);
    const orphansLeft = await withLake(wh, {}, async ({ conn }) => (await conn.runAndReadAll(`SELECT path FROM ducklake_delete_orphaned_files('lake', cleanup_all => true, dry_run => true)`)).getRows().map((x) => String(x[0])));
    expect(orphansLeft).toEqual([freshOrphan]);

    // The next real sync merges on top and moves the cursor on.
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'o1', createdAt: iso(BASE), updatedAt: iso(BASE + 300 * 60_000), total: -1, status: 'refunded' }]] });
    expect((await stateOf(wh)).cursor).toBe(iso(BASE + 300 * 60_000));
    expect(await tableRows(wh, `SELECT total, status FROM src.orders WHERE id = 'o1'`)).toEqual([{ total: -1, status: 'refunded' }]);
    expect(Number((await tableRows(wh, 'SELECT count(*) AS n FROM src.orders'))[0]!.n)).toBe(rowsBefore.length);
  }, 360_000); // 200 transactions and a maintenance run: about a minute alone, several on a loaded machine

  it('compacts tables whose files predate later schema changes (a connector view, another table), with the sync log flushed first', async () => {
    const wh = tempWarehouse();
    const rec = (i: number, u: string) => ({ id: `r${i}`, createdAt: iso(BASE + (i % 3) * 40 * 86_400_000), updatedAt: u, total: i, status: 'open' });
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [Array.from({ length: 30 }, (_, i) => rec(i, iso(BASE)))] });
    for (let k = 1; k <= 4; k++) await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec(k, iso(BASE + k * 60_000)), rec(100 + k, iso(BASE + k * 60_000))]] });
    // What commits do after syncs: a connector view in the lake; and another source's first table.
    await withLake(wh, {}, async ({ conn }) => conn.run(`CREATE VIEW src.daily AS SELECT date_trunc('day', createdAt) AS day, count(*) AS n FROM src.orders GROUP BY ALL`));
    await syncPages(wh, { source: 'other', table: 'refunds', shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec(1, iso(BASE))]] });
    const rowsBefore = await content(wh);
    const r = await maintainLake(wh, {});
    expect(r.rowsFlushed).toBeGreaterThan(0);
    expect(r.filesMerged).toBeGreaterThan(4);
    expect(r.filesAfter).toBeLessThan(r.filesBefore);
    expect(await content(wh)).toEqual(rowsBefore);
    expect(await tableRows(wh, 'SELECT sum(n) AS n FROM src.daily')).toEqual([{ n: 34 }]);
  });
});
