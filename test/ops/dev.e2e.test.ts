import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { SLUICE_BIN, spawnCli } from '@sluice/testing/harness';

/** `sluice dev` (embedded server) applies the schedules on start; `sluice status` reads their next runs from it. */
describe('sluice dev', () => {
  let emu: DemoEmulator | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-dev-'));
  afterAll(async () => {
    await emu?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies the schedules from sluice.yaml and status shows their next run', async () => {
    emu = await startDemo({ orders: 10, seed: 1 });
    fs.writeFileSync(
      path.join(dir, 'sluice.yaml'),
      `warehouse:\n  path: ./wh\nsources:\n  - name: devshop\n    type: demo\n    schedule: { every: 1h }\n    config:\n      baseUrl: ${emu.url}\n      token: ${emu.token}\n`,
    );
    const before = await spawnCli(['status', '--json'], { cwd: dir });
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)[0].nextRun).toBe('when `sluice dev` runs');

    const dev = spawn(process.execPath, [SLUICE_BIN, 'dev'], { cwd: dir, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    dev.stdout.on('data', (d) => (out += d));
    dev.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => dev.once('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 900 && !out.includes('Press Ctrl-C to stop.') && dev.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('Sluice dev is running.');
      expect(out).toContain('schedule devshop (every 1h): created');
      expect(out).toMatch(/Web UI: {3}http:\/\/127\.0\.0\.1:\d+/);

      const status = await spawnCli(['status', '--json'], { cwd: dir });
      expect(status.code, status.stderr).toBe(0);
      const next = Date.parse(JSON.parse(status.stdout)[0].nextRun);
      expect(next - Date.now()).toBeGreaterThan(0);
      expect(next - Date.now()).toBeLessThanOrEqual(3_600_000 + 60_000);

      // A second apply against the running server changes nothing.
      const apply = await spawnCli(['schedules', 'apply'], { cwd: dir });
      expect(apply.code, apply.stderr).toBe(0);
      expect(apply.stdout).toMatch(/devshop\s+every 1h\s+unchanged/);
    } finally {
      dev.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });
});
