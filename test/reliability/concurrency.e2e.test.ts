import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';
import { diffIds, record } from './report';

/** Two `sluice sync` of the same source at once: the second follows the first, they never interleave. */
describe('concurrent syncs of one source', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  beforeAll(async () => {
    emu = await startDemo({ orders: 600, seed: 9 });
    emu.latencyMs = 20;
    env = await sluiceEnv({ sources: [{ name: 'conc_shop', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 20 }, tables: { orders: { mode: 'incremental' } } }] });
  });
  afterAll(async () => {
    await env.close();
    await emu.close();
  });

  it('the second sync follows the running one instead of starting another', async () => {
    const [a, b] = await Promise.all([env.run('sync', 'conc_shop', '--json'), new Promise((r) => setTimeout(r, 300)).then(() => env.run('sync', 'conc_shop', '--json'))]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain('already running; following it');
    // one run of the table workflow, one commit, every row once
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
    const syncs = await env.query<{ n: number }>('SELECT count(*) n FROM sluice.syncs');
    expect(syncs).toEqual([{ n: 1 }]);
    const rows = await env.query<{ id: number }>('SELECT id FROM conc_shop.orders');
    const d = diffIds(emu.orders.keys(), rows.map((r) => r.id));
    record({ scenario: 'two syncs of one source at once', outcome: d.lost || d.duplicated ? 'wrong' : 'exact', lost: d.lost, duplicated: d.duplicated, note: 'second one followed the first' });
    expect(d).toEqual({ lost: 0, duplicated: 0, extra: 0 });
  }, 180_000);

  it('a table already syncing is skipped by a second source run, not interleaved', async () => {
    // Start a single-table run directly as a child id owner, then a source run that wants the same table.
    emu.latencyMs = 60;
    const first = env.run('sync', 'conc_shop', '--full-refresh', '--json');
    // wait until the table's workflow is running
    for (let i = 0; i < 600; i++) {
      const d = await env.client.workflow.getHandle('sluice:conc_shop:orders').describe().catch(() => undefined);
      if (d?.status.name === 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // A schedule-like start of the same source under another workflow id (as Temporal Schedules do)
    const h = await env.client.workflow.start('syncSource', { workflowId: `sluice:conc_shop-scheduled-${Date.now()}`, taskQueue: env.taskQueue, args: [{ source: 'conc_shop', trigger: 'schedule' }] });
    const second = (await h.result()) as { tables: { outcome: string; error?: string }[] };
    const r = await first;
    emu.latencyMs = 0;
    expect(r.code, r.stderr).toBe(0);
    expect(second.tables[0]!.outcome).toBe('skipped');
    expect(second.tables[0]!.error).toContain('already running');
  }, 180_000);
});
