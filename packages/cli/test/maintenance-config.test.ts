import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { desiredSchedules, maintenanceScheduleId } from '../src/schedules';

/** `maintenance:` in sluice.yaml: its schedule (daily when omitted) and retention, as `sluice schedules apply` makes them. */
async function load(yaml: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-mcfg-'));
  fs.writeFileSync(path.join(dir, 'sluice.yaml'), yaml);
  try {
    return await loadConfig(path.join(dir, 'sluice.yaml'), {});
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const problems = (yaml: string) => load(yaml).then(() => [], (e: ConfigError) => e.problems);
const SOURCE = `sources:\n  - name: shop\n    type: demo\n    config: { token: abc }\n`;

describe('maintenance in sluice.yaml', () => {
  it('is daily with a 7-day retention when omitted, and follows the config when given', async () => {
    const daily = desiredSchedules(await load(SOURCE), 'q1').get(maintenanceScheduleId('q1', false))!;
    expect(daily.options.spec).toMatchObject({ intervals: [{ every: 86_400_000 }] });
    expect(daily.options.action).toMatchObject({ workflowType: 'maintainWarehouse', workflowId: 'sluice:maintenance', taskQueue: 'q1', args: [{ retentionDays: 7, trigger: 'schedule' }] });
    expect(daily.options.policies?.overlap).toBe('SKIP');

    const cfg = await load(`${SOURCE}maintenance:\n  schedule: { cron: "30 2 * * *", jitter: 10m }\n  retentionDays: 30\n`);
    const cron = desiredSchedules(cfg, 'q1', { embedded: true }).get(maintenanceScheduleId('q1', true))!;
    expect(cron.id).toBe('sluice-schedule:sluice:maintenance');
    expect(cron.options.spec).toMatchObject({ cronExpressions: ['30 2 * * *'], jitter: 600_000 });
    expect(cron.options.action).toMatchObject({ args: [{ retentionDays: 30, trigger: 'schedule' }] });
    const paused = await load(`${SOURCE}maintenance:\n  schedule: { every: 1d, paused: true }\n`);
    expect(desiredSchedules(paused, 'q1').get(maintenanceScheduleId('q1', false))!.options.state).toMatchObject({ paused: true });
  });

  it('reports a bad block, and refuses a source named like the maintenance workflow', async () => {
    expect(await problems(`${SOURCE}maintenance:\n  retentionDays: -1\n  every: 1d\n`)).toEqual([
      expect.stringMatching(/line \d+, maintenance\.retentionDays: .*>=0/),
      expect.stringMatching(/line \d+, maintenance: unknown key "every"/),
    ]);
    expect(await problems(`sources:\n  - name: maintenance\n    type: demo\n    config: { token: abc }\n`)).toEqual([expect.stringMatching(/sources\[0\]\.name: "maintenance" is reserved/)]);
  });
});
