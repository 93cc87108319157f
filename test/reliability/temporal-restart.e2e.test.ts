import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { stringify } from 'yaml';
import { start as startDemo } from '../../packages/emulators/src/demo/index';
import { startDevServer } from '../../packages/cli/src/temporal-server';
import { spawnCli, SLUICE_BIN } from '@sluice/testing/harness';
import { spawn } from 'node:child_process';
import { diffIds, record } from './report';

/** The Temporal server is restarted in the middle of a sync: the sync completes after it returns. */
describe('Temporal server restarted mid-sync', () => {
  it('completes with every record exactly once', async () => {
    const emu = await startDemo({ orders: 1500, seed: 21 });
    emu.latencyMs = 40;
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-restart-'));
    let server = await startDevServer({ stateDir: state, ui: false, say: () => undefined });
    const port = Number(server.address.split(':')[1]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-restart-wh-'));
    fs.writeFileSync(
      path.join(dir, 'sluice.yaml'),
      stringify({ warehouse: { path: './wh' }, temporal: { address: server.address, namespace: 'default', taskQueue: 'restart' }, sources: [{ name: 'shop', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 15 } }] }),
    );
    const worker = spawn(process.execPath, [SLUICE_BIN, 'worker'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await new Promise<void>((resolve) => worker.stderr!.on('data', (d) => String(d).includes('worker polling') && resolve()));
      const sync = spawnCli(['sync'], { cwd: dir, timeoutMs: 400_000 });
      // wait until pages are flowing, then restart the server on the same port and state
      const deadline = Date.now() + 120_000;
      while (emu.requests.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      fs.rmSync(path.join(state, 'server.json'), { force: true });
      await server.stop();
      await new Promise((r) => setTimeout(r, 3000));
      server = await startDevServer({ stateDir: state, ui: false, port, say: () => undefined });
      const r = await sync;
      expect(r.code, r.stderr).toBe(0);
      const q = await spawnCli(['query', 'SELECT id FROM shop.orders', '--format', 'json'], { cwd: dir });
      const d = diffIds(emu.orders.keys(), (JSON.parse(q.stdout) as { id: number }[]).map((x) => x.id));
      record({ scenario: 'Temporal server restarted mid-sync', outcome: d.lost || d.duplicated ? 'wrong' : 'exact', lost: d.lost, duplicated: d.duplicated });
      expect(d).toEqual({ lost: 0, duplicated: 0, extra: 0 });
    } finally {
      worker.kill('SIGKILL');
      await server.stop();
      await emu.close();
    }
  }, 500_000);
});
