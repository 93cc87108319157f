import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { snapshot } from '../../packages/cli/src/progress';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';

/**
 * Deletions (issue 18, `deletes: { detect: reconcile }`), end to end: `sluice sync` through Temporal,
 * the demo emulator (records deleted there between syncs) and the DuckLake warehouse.
 */

type TableResultJson = { outcome: string; rowsWritten: number; rowsDeleted?: number; reconcileSkipped?: { lastReconciledAt: string }; error?: string };
const tableResult = (stdout: string): TableResultJson => JSON.parse(stdout)[0].tables[0];

async function sync(env: SluiceEnv, ...args: string[]): Promise<{ code: number; result: TableResultJson; stderr: string }> {
  const r = await env.run('sync', ...args, '--json');
  return { code: r.code, result: tableResult(r.stdout), stderr: r.stderr };
}

const idsOf = (rows: { id: number }[]) => rows.map((r) => Number(r.id));
/** A key-scan page: the full read has no updated_since; the incremental extract always has one after the first sync. */
const keyScanPage = (from: number) => (req: { path: string; query: URLSearchParams }) => req.path === '/v1/orders' && !req.query.get('updated_since') && Number(req.query.get('page') ?? 1) >= from;

describe('deletes: reconcile, soft', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  const source = (deletes: Record<string, unknown>): SourceYaml[] => [{ name: 'del_soft', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 5 }, tables: { orders: { mode: 'incremental', deletes } as never } }];

  beforeAll(async () => {
    emu = await startDemo({ orders: 20, seed: 31 });
    env = await sluiceEnv({ sources: source({ detect: 'reconcile' }) });
  });
  afterAll(async () => {
    await env?.close();
    await emu?.close();
  });

  it('marks the rows deleted at the vendor with _sluice_deleted_at (the others NULL) and counts them in the result and sluice.syncs', async () => {
    const first = await sync(env, 'del_soft');
    expect(first.code, first.stderr).toBe(0);
    expect(first.result).toMatchObject({ outcome: 'succeeded', rowsWritten: 20, rowsDeleted: 0 });

    const gone = [3, 7];
    for (const id of gone) emu.remove(id);
    const second = await sync(env, 'del_soft');
    expect(second.code, second.stderr).toBe(0);
    expect(second.result).toMatchObject({ outcome: 'succeeded', rowsDeleted: gone.length });

    const marked = await env.query<{ id: number }>(`SELECT id FROM del_soft.orders WHERE _sluice_deleted_at IS NOT NULL ORDER BY id`);
    expect(idsOf(marked)).toEqual(gone);
    const live = await env.query<{ id: number }>(`SELECT id FROM del_soft.orders WHERE _sluice_deleted_at IS NULL ORDER BY id`);
    expect(idsOf(live)).toEqual([...emu.orders.keys()].sort((a, b) => a - b));
    const [log] = await env.query<{ rows_deleted: number; reconciled_at: string | null }>(`SELECT rows_deleted, reconciled_at FROM sluice.syncs WHERE source = 'del_soft' AND outcome = 'succeeded' ORDER BY finished DESC LIMIT 1`);
    expect(Number(log!.rows_deleted)).toBe(gone.length);
    expect(log!.reconciled_at).toBeTruthy();
  });

  it('a key scan that fails half-way deletes nothing; the next complete one does', async () => {
    emu.remove(11);
    const before = await env.query(`SELECT id, _sluice_deleted_at FROM del_soft.orders ORDER BY id`);
    // Every key-scan request from page 3 on fails, through the HTTP retries and the activity's attempts;
    // pages 1 and 2 are read (the scan is cut half-way, not refused at its start).
    const scanned = new Set<number>();
    emu.faults.push({
      match: (req) => {
        if (keyScanPage(1)(req)) scanned.add(Number(req.query.get('page') ?? 1));
        return keyScanPage(3)(req);
      },
      kind: { type: 'status', status: 500 },
    });
    const failed = await sync(env, 'del_soft');
    emu.faults.length = 0;
    expect([...scanned].sort()).toEqual([1, 2, 3]);
    expect(failed.code).toBe(1);
    expect(failed.result.outcome).toBe('failed');
    expect(failed.result.error).toMatch(/500/);
    expect(await env.query(`SELECT id, _sluice_deleted_at FROM del_soft.orders ORDER BY id`)).toEqual(before);
    const notReconciled = await env.query<{ n: number }>(`SELECT count(*)::INT AS n FROM sluice.syncs WHERE source = 'del_soft' AND reconciled_at IS NOT NULL`);
    expect(notReconciled).toEqual([{ n: 2 }]); // the two earlier syncs only

    const next = await sync(env, 'del_soft');
    expect(next.code, next.stderr).toBe(0);
    expect(next.result.rowsDeleted).toBe(1);
    expect(idsOf(await env.query<{ id: number }>(`SELECT id FROM del_soft.orders WHERE _sluice_deleted_at IS NOT NULL ORDER BY id`))).toEqual([3, 7, 11]);
  }, 180_000);

  it("the reconciliation shows its progress (phase, pages, keys) in sluice sync's live display, from its heartbeats", async () => {
    emu.remove(13);
    // Slow key-scan pages, so the phase can be watched while the scan runs.
    emu.faults.push({ match: keyScanPage(1), kind: { type: 'delay', ms: 700 } });
    const seen: { phase: string; pages: number; rows: number }[] = [];
    let running = true;
    const watcher = (async () => {
      while (running) {
        for (const l of await snapshot(env.client, ['del_soft']).catch(() => [])) if (l.phase === 'reconciling') seen.push({ phase: l.phase, pages: l.pages, rows: l.rows });
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const r = await sync(env, 'del_soft');
    running = false;
    await watcher;
    emu.faults.length = 0;
    expect(r.code, r.stderr).toBe(0);
    expect(r.result.rowsDeleted).toBe(1);
    expect(seen.length, 'the display showed the reconciling phase').toBeGreaterThan(0);
    // Pages and keys grow as the scan goes (4 pages of 5 keys at most: 16 live orders).
    expect(Math.max(...seen.map((x) => x.pages))).toBeGreaterThanOrEqual(2);
    expect(Math.max(...seen.map((x) => x.rows))).toBeLessThanOrEqual(emu.orders.size);
    expect(Math.max(...seen.map((x) => x.rows))).toBeGreaterThan(0);
  });

  it('every: 1d — a sync within a day of the last reconciliation does not reconcile', async () => {
    await env.writeConfig(source({ detect: 'reconcile', every: '1d' }));
    emu.remove(12);
    const r = await sync(env, 'del_soft');
    expect(r.code, r.stderr).toBe(0);
    expect(r.result.rowsDeleted).toBeUndefined();
    expect(r.result.reconcileSkipped?.lastReconciledAt).toBeTruthy();
    expect(await env.query(`SELECT _sluice_deleted_at FROM del_soft.orders WHERE id = 12`)).toEqual([{ _sluice_deleted_at: null }]);
  });
});

describe('deletes: reconcile, hard, and the safety threshold', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;

  beforeAll(async () => {
    emu = await startDemo({ orders: 10, seed: 37 });
    env = await sluiceEnv({ sources: [{ name: 'del_hard', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 4 }, tables: { orders: { mode: 'incremental', deletes: { detect: 'reconcile', handle: 'hard' } } as never } }] });
  });
  afterAll(async () => {
    await env?.close();
    await emu?.close();
  });

  const stored = async () => idsOf(await env.query<{ id: number }>(`SELECT id FROM del_hard.orders ORDER BY id`));
  const atVendor = () => [...emu.orders.keys()].sort((a, b) => a - b);

  it('hard: rows deleted at the vendor are gone from the table', async () => {
    expect((await sync(env, 'del_hard')).result).toMatchObject({ outcome: 'succeeded', rowsWritten: 10 });
    emu.remove(2);
    emu.remove(9);
    const r = await sync(env, 'del_hard');
    expect(r.code, r.stderr).toBe(0);
    expect(r.result.rowsDeleted).toBe(2);
    expect(await stored()).toEqual(atVendor());
    const cols = await env.query<{ column_name: string }>(`SELECT column_name FROM (DESCRIBE del_hard.orders)`);
    expect(cols.map((c) => c.column_name)).not.toContain('_sluice_deleted_at');
  });

  it('more than 50% of the table: stops with the --confirm-deletes command and deletes nothing; with --confirm-deletes it deletes', async () => {
    const before = await stored();
    const victims = before.slice(0, 5); // 5 of 8
    for (const id of victims) emu.remove(id);
    const refused = await sync(env, 'del_hard');
    expect(refused.code).toBe(1);
    expect(refused.result.outcome).toBe('failed');
    expect(refused.result.error).toContain(`would delete ${victims.length} of ${before.length} row(s)`);
    expect(refused.result.error).toContain('sluice sync del_hard --table orders --confirm-deletes');
    expect(await stored()).toEqual(before);

    const confirmed = await sync(env, 'del_hard', '--table', 'orders', '--confirm-deletes');
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.result.rowsDeleted).toBe(victims.length);
    expect(await stored()).toEqual(atVendor());
  });
});

describe('deletes: reconcile over page numbers, with a deletion during the key scan', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;

  beforeAll(async () => {
    emu = await startDemo({ orders: 12, seed: 41 });
    env = await sluiceEnv({ sources: [{ name: 'del_shift', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 4 }, tables: { orders: { mode: 'incremental', deletes: { detect: 'reconcile', handle: 'hard' } } as never } }] });
  });
  afterAll(async () => {
    await env?.close();
    await emu?.close();
  });

  it('a record deleted on an already-read page shifts the next page: the live record pushed past the boundary is not deleted', async () => {
    expect((await sync(env, 'del_shift')).result).toMatchObject({ outcome: 'succeeded', rowsWritten: 12 });
    const ids = [...emu.orders.keys()].sort((a, b) => a - b);
    const [first, , , , , , seventh] = ids;
    emu.remove(seventh!);
    // While the key scan asks for page 2 (orders by id, 4 a page), the vendor deletes the first order:
    // page 2 now starts at the sixth, and the fifth (live) is on no page of this scan.
    let shifted = false;
    emu.faults.push({
      match: (req) => {
        if (!shifted && keyScanPage(2)(req)) {
          shifted = true;
          emu.remove(first!);
        }
        return false;
      },
      kind: { type: 'status', status: 500 },
    });
    const r = await sync(env, 'del_shift');
    emu.faults.length = 0;
    expect(shifted, 'the deletion happened during the scan').toBe(true);
    expect(r.code, r.stderr).toBe(0);
    const shiftStored = async () => idsOf(await env.query<{ id: number }>(`SELECT id FROM del_shift.orders ORDER BY id`));
    const atVendor = () => [...emu.orders.keys()].sort((a, b) => a - b);
    // The seventh is gone; the fifth, on no page of the first scan, was confirmed live by a second scan; the
    // first was read on page 1 before its deletion, so this scan saw it live: the next reconciliation takes it.
    expect(r.result.rowsDeleted).toBe(1);
    expect(await shiftStored()).toEqual([...atVendor(), first!].sort((a, b) => a - b));
    const next = await sync(env, 'del_shift');
    expect(next.code, next.stderr).toBe(0);
    expect(next.result.rowsDeleted).toBe(1);
    expect(await shiftStored()).toEqual(atVendor());
  });
});
