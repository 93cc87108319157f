import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';

/**
 * Operators' time travel and maintenance through the `sluice` CLI: `sluice rollback SOURCE.TABLE --to
 * SNAPSHOT` restores data and cursor (the next sync re-reads from there), `sluice maintenance` runs the
 * maintenance workflow (memo, search attribute, `progress` query), and `sluice schedules apply` keeps its
 * Temporal Schedule as sluice.yaml says (daily when omitted).
 */
const tag = Math.random().toString(36).slice(2, 8);
const S = `mnt_${tag}`;

type Status = { source: string; table: string; cursor: string | null; rows: number; snapshot: number | null; outcome: string }[];

describe('maintenance and rollback through the CLI', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  const source = (): SourceYaml => ({ name: S, type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 50 }, tables: { orders: { mode: 'incremental' } } });
  const status = async () => {
    const r = await env.run('status', '--json');
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Status).find((x) => x.source === S)!;
  };
  const scheduleId = () => `sluice-schedule:sluice:maintenance:${env.taskQueue}`;

  beforeAll(async () => {
    emu = await startDemo({ orders: 120, seed: 11 });
    env = await sluiceEnv({ sources: [source()], extra: { maintenance: { schedule: { cron: '0 4 * * *' }, retentionDays: 3 } } });
  });
  afterAll(async () => {
    await env.client.schedule.getHandle(scheduleId()).delete().catch(() => undefined);
    await env.close();
    await emu.close();
  });

  it('sluice rollback restores the rows and the cursor of a snapshot; the next sync re-reads from there', async () => {
    expect((await env.run('sync', S)).code).toBe(0);
    const first = await status();
    expect(first).toMatchObject({ rows: 120, outcome: 'succeeded' });
    const firstRows = await env.query(`SELECT id, status, updated_at FROM ${S}.orders ORDER BY id`);

    const updated = emu.update(3, new Date('2025-06-01T12:00:00Z'));
    const inserted = emu.insert(new Date('2025-06-02T08:30:00Z'));
    expect((await env.run('sync', S)).code).toBe(0);
    const second = await status();
    expect(second.rows).toBe(121);
    expect(second.cursor).not.toBe(first.cursor);

    const r = await env.run('rollback', `${S}.orders`, '--to', String(first.snapshot));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`rolled back ${S}.orders to snapshot ${first.snapshot}`);
    expect(r.stdout).toMatch(/121 row\(s\)|120 row\(s\) \(was 121\)/);
    expect(r.stdout).toContain(`cursor updated_at: ${first.cursor}`);
    const back = await status();
    expect(back).toMatchObject({ rows: 120, cursor: first.cursor, outcome: 'rolled_back' });
    expect(back.snapshot).toBeGreaterThan(second.snapshot!);
    expect(await env.query(`SELECT id, status, updated_at FROM ${S}.orders ORDER BY id`)).toEqual(firstRows);
    // The sync log says what happened.
    expect(await env.query(`SELECT outcome, restored_snapshot, cursor_after FROM sluice.syncs WHERE source = '${S}' ORDER BY finished DESC LIMIT 1`)).toEqual([
      { outcome: 'rolled_back', restored_snapshot: first.snapshot, cursor_after: first.cursor },
    ]);

    // The next sync starts from the restored cursor: the change and the insert come back.
    const again = await env.run('sync', S, '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)[0].tables[0]).toMatchObject({ outcome: 'succeeded', cursorBefore: first.cursor, cursorAfter: second.cursor });
    expect(await env.query(`SELECT id, status FROM ${S}.orders WHERE id IN (3, ${inserted.id}) ORDER BY id`)).toEqual([
      { id: 3, status: updated.status },
      { id: inserted.id, status: inserted.status },
    ]);
    expect((await status()).rows).toBe(121);

    // Clear errors: unknown snapshot, bad target.
    const unknown = await env.run('rollback', `${S}.orders`, '--to', '999999');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/snapshot 999999 does not exist yet; nearest available: \d+/);
    const bad = await env.run('rollback', 'orders', '--to', '1');
    expect(bad.stderr).toContain('expected SOURCE.TABLE');
  });

  it('sluice maintenance runs the workflow: fewer files, same data and cursor, outcome in the memo and the progress query', async () => {
    for (let i = 0; i < 6; i++) {
      emu.update(10 + i, new Date(Date.UTC(2025, 6, 1 + i)));
      expect((await env.run('sync', S)).code).toBe(0);
    }
    const before = await status();
    const rowsBefore = await env.query(`SELECT id, status, updated_at FROM ${S}.orders ORDER BY id`);

    const r = await env.run('maintenance', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.filesAfter).toBeLessThan(out.filesBefore);
    expect(out.filesMerged).toBeGreaterThan(0);
    expect(out.snapshotsExpired).toBe(0); // nothing is older than 3 days

    expect(await env.query(`SELECT id, status, updated_at FROM ${S}.orders ORDER BY id`)).toEqual(rowsBefore);
    expect(await status()).toMatchObject({ rows: before.rows, cursor: before.cursor });

    const h = env.client.workflow.getHandle('sluice:maintenance');
    const d = await h.describe();
    expect(d.type).toBe('maintainWarehouse');
    expect(d.taskQueue).toBe(env.taskQueue);
    expect(d.memo).toMatchObject({ filesBefore: out.filesBefore, filesAfter: out.filesAfter, snapshotsExpired: 0, retentionDays: 3 });
    expect(d.searchAttributes.SluiceOutcome).toEqual(['succeeded']);
    expect(await h.query('progress')).toMatchObject({ phase: 'succeeded', retentionDays: 3, result: { filesAfter: out.filesAfter } });

    const text = await env.run('maintenance', '--retention-days', '5');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/data files \(listed by the current snapshot\)\s+\d+ → \d+/);
    expect(text.stderr).toMatch(/files \d+ → \d+ \(\d+ merged into \d+\)/);
  });

  it('sluice schedules apply creates the maintenance schedule from sluice.yaml, daily when omitted', async () => {
    const r = await env.run('schedules', 'apply');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/maintenance\s+cron 0 4 \* \* \*\s+created/);
    const d = await env.client.schedule.getHandle(scheduleId()).describe();
    expect(d.action).toMatchObject({ workflowType: 'maintainWarehouse', workflowId: 'sluice:maintenance', taskQueue: env.taskQueue, args: [{ retentionDays: 3, trigger: 'schedule' }] });
    expect(d.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 4, end: 4, step: 1 }] });

    await env.writeConfig([source()]);
    const daily = await env.run('schedules', 'apply');
    expect(daily.stdout).toMatch(/maintenance\s+every 1d\s+updated/);
    const d2 = await env.client.schedule.getHandle(scheduleId()).describe();
    expect(d2.spec.intervals?.[0]?.every).toBe(86_400_000);
    expect(d2.action).toMatchObject({ args: [{ retentionDays: 7, trigger: 'schedule' }] });
    expect((await env.run('schedules', 'apply')).stdout).toMatch(/maintenance\s+every 1d\s+unchanged/);
  });
});
