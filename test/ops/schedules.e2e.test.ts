import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';

/**
 * `sluice schedules apply` reconciles Temporal Schedules with sluice.yaml: create, change (every → cron,
 * jitter, paused), remove; per-table schedules sync only their table; `sluice status` shows next runs.
 */
const tag = Math.random().toString(36).slice(2, 8);
const A = `sch_a_${tag}`;
const B = `sch_b_${tag}`;
const id = (s: string, t?: string) => `sluice-schedule:${s}${t ? `:${t}` : ''}`;

type Status = { source: string; table: string; nextRun: string; schedule: string | null }[];

describe('schedules: Temporal matches sluice.yaml exactly', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  const src = (name: string, extra: Partial<SourceYaml> & { tableSchedule?: unknown }): SourceYaml => {
    const { tableSchedule, ...rest } = extra;
    return {
      name,
      type: 'demo',
      config: { baseUrl: emu.url, token: emu.token },
      tables: { orders: tableSchedule ? ({ mode: 'incremental', schedule: tableSchedule } as never) : { mode: 'incremental' } },
      ...rest,
    };
  };
  const status = async (): Promise<Status> => {
    const r = await env.run('status', '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Status;
  };
  const apply = async () => {
    const r = await env.run('schedules', 'apply');
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    emu = await startDemo({ orders: 40, seed: 3 });
    env = await sluiceEnv({ sources: [src(A, { schedule: { every: '1h', jitter: '5m' } as never }), src(B, { tableSchedule: { cron: '0 3 * * *' } })], worker: false });
  });
  afterAll(async () => {
    for (const s of [id(A), id(B, 'orders'), id(A, 'orders'), id(B), id('sluice', `maintenance:${env.taskQueue}`)]) await env.client.schedule.getHandle(s).delete().catch(() => undefined);
    await env.close();
    await emu.close();
  });

  it('creates one schedule per source and one per table with its own schedule; status shows the next runs', async () => {
    const out = await apply();
    expect(out).toMatch(new RegExp(`${A}\\s+every 1h, jitter 5m\\s+created`));
    expect(out).toMatch(new RegExp(`${B}\\.orders\\s+cron 0 3 \\* \\* \\*\\s+created`));

    const a = await env.client.schedule.getHandle(id(A)).describe();
    expect(a.spec.intervals?.[0]?.every).toBe(3_600_000);
    expect(a.spec.jitter).toBe(300_000);
    expect(a.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(a.state.paused).toBe(false);
    expect(a.action).toMatchObject({ workflowType: 'syncSource', taskQueue: env.taskQueue, args: [{ source: A, trigger: 'schedule' }] });

    const b = await env.client.schedule.getHandle(id(B, 'orders')).describe();
    expect(b.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 3, end: 3, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }] });
    expect(b.action).toMatchObject({ args: [{ source: B, tables: ['orders'], trigger: 'schedule' }] });
    // The source B has no schedule of its own: only its table's exists.
    await expect(env.client.schedule.getHandle(id(B)).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);

    const st = await status();
    const sa = st.find((r) => r.source === A)!;
    const sb = st.find((r) => r.source === B)!;
    expect(sa.schedule).toBe('every 1h, jitter 5m');
    const inA = Date.parse(sa.nextRun) - Date.now();
    expect(inA).toBeGreaterThan(0);
    expect(inA).toBeLessThanOrEqual(3_600_000 + 300_000 + 60_000);
    expect(new Date(sb.nextRun).getUTCHours()).toBe(3);
    const text = await env.run('status');
    expect(text.stdout).toContain(sb.nextRun);

    // Applying again changes nothing.
    const again = await apply();
    expect(again).not.toMatch(/created|updated|deleted/);
    expect(again.match(/unchanged/g)).toHaveLength(3); // A, B.orders and the warehouse maintenance (daily by default)
  });

  it('a per-table schedule, triggered, syncs that table through the worker', async () => {
    await env.restartWorker();
    await env.client.schedule.getHandle(id(B, 'orders')).trigger();
    let rows: { n: number }[] = [];
    for (let i = 0; i < 150 && !rows[0]?.n; i++) {
      await new Promise((r) => setTimeout(r, 200));
      rows = await env.query<{ n: number }>(`SELECT count(*) AS n FROM ${B}.orders`).catch(() => []);
    }
    expect(rows).toEqual([{ n: 40 }]);
    const desc = await env.client.schedule.getHandle(id(B, 'orders')).describe();
    expect(desc.info.recentActions[0]?.action.workflow.workflowId).toMatch(new RegExp(`^sluice:${B}:orders:scheduled-`));
  });

  it('updates in place when the config changes (every → cron, paused) and leaves other task queues alone', async () => {
    const foreign = await env.client.schedule.create({
      scheduleId: id(`zz_${tag}`),
      spec: { intervals: [{ every: '1h' }] },
      action: { type: 'startWorkflow', workflowType: 'syncSource', taskQueue: 'someone-else', args: [{ source: 'zz', trigger: 'schedule' }] },
      memo: { managedBy: 'sluice', taskQueue: 'someone-else' },
    });
    try {
      await env.writeConfig([src(A, { schedule: { cron: '30 * * * *' } as never }), src(B, { tableSchedule: { cron: '0 3 * * *', paused: true } })]);
      const out = await apply();
      expect(out).toMatch(new RegExp(`${A}\\s+cron 30 \\* \\* \\* \\*\\s+updated`));
      expect(out).toMatch(new RegExp(`${B}\\.orders\\s+cron 0 3 \\* \\* \\*, paused\\s+updated`));
      const a = await env.client.schedule.getHandle(id(A)).describe();
      expect(a.spec.intervals ?? []).toHaveLength(0);
      expect(a.spec.calendars?.[0]).toMatchObject({ minute: [{ start: 30, end: 30, step: 1 }] });
      const b = await env.client.schedule.getHandle(id(B, 'orders')).describe();
      expect(b.state.paused).toBe(true);
      const st = await status();
      expect(st.find((r) => r.source === B)!.nextRun).toBe('paused');
      expect(new Date(st.find((r) => r.source === A)!.nextRun).getUTCMinutes()).toBe(30);
      await expect(foreign.describe()).resolves.toBeTruthy();
    } finally {
      await foreign.delete().catch(() => undefined);
    }
  });

  it('deletes schedules removed from the config', async () => {
    await env.writeConfig([src(A, {}), src(B, {})]);
    const out = await apply();
    expect(out).toMatch(new RegExp(`${A}\\s+deleted`));
    expect(out).toMatch(new RegExp(`${B}\\.orders\\s+deleted`));
    await expect(env.client.schedule.getHandle(id(A)).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    await expect(env.client.schedule.getHandle(id(B, 'orders')).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect((await status()).map((r) => r.nextRun)).toEqual(['not scheduled', 'not scheduled']);
    // Only the warehouse maintenance is left (daily when sluice.yaml says nothing).
    const last = await apply();
    expect(last).not.toMatch(/created|updated|deleted/);
    expect(last).toMatch(/maintenance\s+every 1d\s+unchanged/);
  });
});
