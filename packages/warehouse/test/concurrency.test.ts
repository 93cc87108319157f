import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { syncPages, tableRows, tempWarehouse } from './helpers';
import { record } from '../../../test/reliability/report';

/**
 * The embedded lake's catalog is a SQLite file, so several processes of one host use it at once: a
 * user's DuckDB reads while syncs commit, and several workers commit together. SQLite answers "database
 * is locked" to some of those commits; they must be retried, never lost.
 */
const CHILD = path.join(import.meta.dirname, 'concurrency-child.ts');
const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };

function child(args: string[]) {
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => p.on('exit', (code) => resolve({ code, out, err })));
  return { p, done, lines: () => out.split('\n').filter(Boolean) };
}

describe('one lake, several processes', () => {
  it('a separate DuckDB process reads whole snapshots while syncs commit', async () => {
    const wh = tempWarehouse();
    const batch = (k: number) => Array.from({ length: 1000 }, (_, i) => ({ id: `${k}-${i}`, createdAt: `2024-0${1 + (i % 9)}-01T00:00:00Z`, updatedAt: `2024-10-0${k}T00:00:00Z` }));
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [batch(1)] });
    const reader = child(['read', wh.root, '10']);
    while (reader.lines().length < 3) await new Promise((r) => setTimeout(r, 50));
    for (let k = 2; k <= 5; k++) await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [batch(k), batch(k + 4)] });
    await new Promise((r) => setTimeout(r, 300));
    reader.p.stdin!.end();
    const { code, err } = await reader.done;
    expect(code, err).toBe(0);
    const counts = reader.lines().map(Number);
    // Every count is one of the committed states (1000 + 2000 per sync), never a partial commit.
    const states = new Set([1000, 3000, 5000, 7000, 9000]);
    expect(counts.filter((c) => !states.has(c))).toEqual([]);
    expect(counts.at(-1)).toBe(9000);
    expect(new Set(counts).size, 'the reader saw the syncs happen').toBeGreaterThan(1);
    record({ scenario: 'a DuckDB reader during 4 commits', outcome: 'exact', lost: 0, duplicated: 0, note: `${counts.length} reads, each a whole snapshot` });
  }, 120_000);

  it('four processes committing at once (two per table) all land: conflicts are retried, nothing lost or doubled', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'seed', createdAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z' }]] });
    await syncPages(wh, { table: 'refunds', shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[{ id: 'seed', createdAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z' }]] });
    const runs = [
      child(['commit', wh.root, 'orders', '3000', 'w1']),
      child(['commit', wh.root, 'orders', '3000', 'w2']),
      child(['commit', wh.root, 'refunds', '3000', 'w3']),
      child(['commit', wh.root, 'refunds', '3000', 'w4']),
    ];
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) expect(r.code, r.err).toBe(0);
    expect(await tableRows(wh, 'SELECT count(*) AS n, count(DISTINCT id) AS d FROM src.orders')).toEqual([{ n: 6001, d: 6001 }]);
    expect(await tableRows(wh, 'SELECT count(*) AS n, count(DISTINCT id) AS d FROM src.refunds')).toEqual([{ n: 6001, d: 6001 }]);
    const syncs = await tableRows(wh, `SELECT sync_id FROM sluice.syncs WHERE outcome = 'succeeded' AND sync_id LIKE 'w%' ORDER BY 1`);
    expect(syncs.map((s) => s.sync_id)).toEqual(['w1', 'w2', 'w3', 'w4']);
    const retries = results.map((r) => JSON.parse(r.out.trim().split('\n').at(-1)!).retries as number);
    record({ scenario: 'catalog busy: 4 processes commit to one SQLite catalog at once (2 tables)', outcome: 'exact', lost: 0, duplicated: 0, note: `commit retries ${retries.join('/')}` });
  }, 180_000);
});
