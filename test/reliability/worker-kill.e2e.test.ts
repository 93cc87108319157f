import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, afterEach } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';
import { diffIds, record } from './report';

/**
 * A real `sluice worker` process is SIGKILLed during extract, between extract and commit, and during
 * commit; a new worker takes over. The table must end equal to the vendor's data: nothing lost,
 * nothing duplicated, cursor exactly right, and a killed extract resumes from its checkpoint.
 */
const PAGES = 120;
const PAGE_SIZE = 10;

async function setup(orders: Record<string, unknown> = { mode: 'incremental' }): Promise<{ emu: DemoEmulator; env: SluiceEnv }> {
  const emu = await startDemo({ orders: PAGES * PAGE_SIZE, seed: 11 });
  emu.latencyMs = 60;
  const env = await sluiceEnv({ worker: false, sources: [{ name: 'kill_shop', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: PAGE_SIZE }, tables: { orders: orders as never } }] });
  return { emu, env };
}

async function until(cond: () => boolean, timeoutMs = 180_000) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stagedPages = (env: SluiceEnv) => {
  const root = path.join(env.warehouse, '.staging/kill_shop/orders');
  if (!fs.existsSync(root)) return 0;
  return fs.readdirSync(root).reduce((n, d) => n + fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith('.ndjson')).length, 0);
};

async function verify(env: SluiceEnv, emu: DemoEmulator, scenario: string, note: string) {
  const rows = await env.query<{ id: number; status: string; updated_at: string }>('SELECT id, status, updated_at FROM kill_shop.orders');
  const d = diffIds(emu.orders.keys(), rows.map((r) => r.id));
  const wrongStatus = rows.filter((r) => emu.orders.get(r.id)?.status !== r.status).length;
  record({ scenario, outcome: d.lost || d.duplicated || d.extra || wrongStatus ? 'wrong' : 'exact', lost: d.lost, duplicated: d.duplicated, note });
  expect(d).toEqual({ lost: 0, duplicated: 0, extra: 0 });
  expect(wrongStatus).toBe(0);
  // The cursor is the newest change seen, but never past the last extract's start (minus 60 s).
  const maxUpdated = [...emu.orders.values()].map((o) => o.updated_at).sort().at(-1)!;
  const status = JSON.parse((await env.run('status', '--json')).stdout) as { cursor: string }[];
  const cursor = status[0]!.cursor;
  expect(cursor <= maxUpdated).toBe(true);
  if (maxUpdated < new Date(Date.now() - 5 * 60_000).toISOString()) expect(cursor).toBe(maxUpdated);
  // and a further sync changes nothing
  await env.run('sync', 'kill_shop');
  expect(await env.query('SELECT id, status FROM kill_shop.orders ORDER BY id')).toEqual(rows.map((r) => ({ id: r.id, status: r.status })).sort((a, b) => a.id - b.id));
}

describe('worker killed (SIGKILL) and replaced', () => {
  let ctx: { emu: DemoEmulator; env: SluiceEnv } | undefined;
  afterEach(async () => {
    await ctx?.env.close();
    await ctx?.emu.close();
  });

  it('during extract: the new worker resumes from the heartbeated checkpoint', async () => {
    ctx = await setup();
    const { emu, env } = ctx;
    const w1 = await env.workerProcess();
    const sync = env.run('sync', 'kill_shop', '--json');
    await until(() => stagedPages(env) >= 40);
    await new Promise((r) => setTimeout(r, 2500)); // let the checkpoint heartbeat go out
    w1.kill('SIGKILL');
    const staged = stagedPages(env);
    emu.update(3); // a change while no worker runs: read by this sync or the next, never lost
    await env.workerProcess();
    const r = await sync;
    expect(r.code, r.stderr).toBe(0);
    const pageRequests = emu.requests.filter((q) => q.path === '/v1/orders' && q.status === 200).length;
    const reRead = pageRequests - PAGES;
    // The staging state is written beside the pages: only the page in flight at the kill is read again.
    expect(reRead, `pages read again after the kill (${staged} were staged)`).toBeLessThanOrEqual(3);
    expect(reRead).toBeLessThan(staged); // resumed, not restarted
    await env.run('sync', 'kill_shop');
    await verify(env, emu, 'worker killed during extract', `${reRead} pages re-read of ${staged} staged`);
  }, 400_000);

  it("during a reconciliation's key scan: nothing is deleted; the next worker scans again in full and deletes exactly what the vendor deleted", async () => {
    ctx = await setup({ mode: 'incremental', deletes: { detect: 'reconcile', handle: 'hard' } });
    const { emu, env } = ctx;
    const w1 = await env.workerProcess();
    expect((await env.run('sync', 'kill_shop')).code).toBe(0);
    const gone = [5, 250, 777, 1111];
    for (const id of gone) emu.remove(id);
    // The key scan is the full read (no updated_since); the incremental extract always has one.
    const keyPages = () => emu.requests.filter((q) => q.path === '/v1/orders' && q.status === 200 && !new URLSearchParams(q.query).has('updated_since')).length;
    const before = keyPages();
    const sync = env.run('sync', 'kill_shop', '--json');
    await until(() => keyPages() - before >= 40);
    w1.kill('SIGKILL');
    const scanned = keyPages() - before;
    const stored = await env.query<{ n: number }>('SELECT count(*)::INT AS n FROM kill_shop.orders');
    expect(stored, 'the killed scan deleted nothing').toEqual([{ n: PAGES * PAGE_SIZE }]);
    await env.workerProcess();
    const r = await sync;
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { tables: { rowsDeleted?: number }[] }[])[0]!.tables[0]!.rowsDeleted).toBe(gone.length);
    // A scan is never resumed from a list it cannot prove complete: the new worker read every page again.
    expect(keyPages() - before - scanned).toBeGreaterThanOrEqual(PAGES - gone.length / PAGE_SIZE);
    const rows = await env.query<{ id: number }>('SELECT id FROM kill_shop.orders');
    const d = diffIds(emu.orders.keys(), rows.map((x) => x.id));
    record({ scenario: 'worker killed during a reconciliation key scan', outcome: d.lost || d.duplicated || d.extra ? 'wrong' : 'exact', lost: d.lost, duplicated: d.duplicated, note: `${scanned} key pages read before the kill; ${gone.length} deletions applied once` });
    expect(d).toEqual({ lost: 0, duplicated: 0, extra: 0 });
  }, 400_000);

  it.each(['before-write', 'after-write', 'after-commit'])('during commit (%s): committed exactly once', async (point) => {
    ctx = await setup();
    const { emu, env } = ctx;
    emu.latencyMs = 0;
    const w1 = await env.workerProcess({ SLUICE_CRASH_AT: point });
    const sync = env.run('sync', 'kill_shop', '--json');
    await new Promise<void>((resolve) => w1.once('exit', () => resolve()));
    expect(w1.signalCode).toBe('SIGKILL');
    await env.workerProcess();
    const r = await sync;
    expect(r.code, r.stderr).toBe(0);
    const syncs = await env.query<{ outcome: string; rows_written: number }>(`SELECT outcome, rows_written FROM sluice.syncs`);
    expect(syncs).toEqual([{ outcome: 'succeeded', rows_written: PAGES * PAGE_SIZE }]);
    await verify(env, emu, `worker killed at commit point ${point}`, 'commit retried on a new worker');
  }, 400_000);
});
