import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';

/** `sluice status` (table and --json) against a warehouse filled by real syncs: success, schema change, failure. */
interface Row {
  source: string;
  table: string;
  mode: string;
  cursorField: string | null;
  cursor: string | null;
  lastRun: string | null;
  lastSucceededAt: string | null;
  outcome: string;
  rows: number;
  durationMs: number | null;
  schemaChanges: string[];
  error: string | null;
  schedule: string | null;
  nextRun: string;
}

describe('sluice status', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  const status = async () => {
    const r = await env.run('status', '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Row[];
  };

  beforeAll(async () => {
    emu = await startDemo({ orders: 120, seed: 11 });
    env = await sluiceEnv({
      sources: [
        { name: 'st_shop', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 50 }, tables: { orders: { mode: 'incremental' } } },
        { name: 'st_idle', type: 'demo', config: { baseUrl: emu.url, token: emu.token }, tables: { orders: { mode: 'full_refresh' } } },
      ],
    });
  });
  afterAll(async () => {
    await env.close();
    await emu.close();
  });

  it('before any sync: every configured table, never synced', async () => {
    const rows = await status();
    expect(rows.map((r) => [r.source, r.table, r.mode, r.outcome, r.rows])).toEqual([
      ['st_shop', 'orders', 'incremental', 'never synced', 0],
      ['st_idle', 'orders', 'full_refresh', 'never synced', 0],
    ]);
  });

  it('after a sync, a schema change and a failure: outcome, rows, cursor, duration, changes, error', async () => {
    const first = await env.run('sync', 'st_shop');
    expect(first.code, first.stderr).toBe(0);
    const maxUpdated = [...emu.orders.values()].map((o) => o.updated_at).sort().at(-1)!;
    const initial = await status();
    let shop = initial[0];
    const idle = initial[1];
    expect(shop).toMatchObject({ outcome: 'succeeded', rows: 120, cursorField: 'updated_at', cursor: maxUpdated, error: null, schemaChanges: [], nextRun: 'not scheduled' });
    expect(Date.parse(shop!.lastRun!)).toBeGreaterThan(Date.now() - 120_000);
    expect(shop!.durationMs).toBeGreaterThan(0);
    expect(idle).toMatchObject({ outcome: 'never synced', rows: 0, cursor: null });

    // The vendor starts sending a new field: a new column, reported as a schema change.
    const changed = emu.update(7, new Date('2025-09-01T00:00:00Z'));
    (changed as unknown as Record<string, unknown>).gift_note = 'for grandma';
    const second = await env.run('sync', 'st_shop');
    expect(second.code, second.stderr).toBe(0);
    [shop] = await status();
    expect(shop).toMatchObject({ outcome: 'succeeded', rows: 120, cursor: '2025-09-01T00:00:00.000Z' });
    expect(shop!.schemaChanges).toHaveLength(1);
    expect(shop!.schemaChanges[0]).toMatch(/^added gift_note /);

    // A failing sync (the vendor rejects the token): outcome failed with the reason; data and cursor kept.
    emu.faults.push({ kind: { type: 'status', status: 401, body: { error: 'invalid_token', message: 'The access token is invalid' } } });
    const third = await env.run('sync', 'st_shop');
    emu.faults.length = 0;
    expect(third.code).toBe(1);
    const before = shop!;
    [shop] = await status();
    expect(shop).toMatchObject({ outcome: 'failed', rows: 120, cursor: '2025-09-01T00:00:00.000Z', lastSucceededAt: before.lastRun });
    expect(shop!.error).toContain('invalid_token');
    expect(Date.parse(shop!.lastRun!)).toBeGreaterThanOrEqual(Date.parse(before.lastRun!));

    // The table view: one table per source, with the same facts.
    const text = await env.run('status');
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('table'))!;
    for (const col of ['table', 'mode', 'cursor field', 'cursor', 'last run', 'outcome', 'rows', 'took', 'schema changes', 'next run']) expect(header).toContain(col);
    expect(lines).toContain('st_shop (demo)');
    expect(lines).toContain('st_idle (demo)');
    const shopLine = lines[lines.indexOf('st_shop (demo)') + 3]!;
    expect(shopLine).toMatch(/^orders\s+incremental\s+updated_at\s+2025-09-01T00:00:00\.000Z\s+\S+\s+failed: .*invalid_token/);
    expect(shopLine).toContain('120');
    const idleLine = lines[lines.indexOf('st_idle (demo)') + 3]!;
    expect(idleLine).toMatch(/^orders\s+full_refresh\s+updated_at\s+never synced\s+0\s+not scheduled$/);
  });
});
