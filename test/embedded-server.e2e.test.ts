import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { start as startDemo } from '../packages/emulators/src/demo/index';
import { spawn } from 'node:child_process';
import { SLUICE_BIN, spawnCli } from '@sluice/testing/harness';

/**
 * The embedded dev server is shared by every sluice process of one warehouse: two `sluice sync` at
 * once both complete (the second follows the first's workflow), and the last one out stops the server.
 */
describe('embedded Temporal server shared by concurrent CLI processes', () => {
  it('two `sluice sync` at once both succeed; the server stops when the last one exits', async () => {
    const emu = await startDemo({ orders: 900, seed: 3 });
    emu.latencyMs = 15;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-shared-'));
    fs.writeFileSync(path.join(dir, 'sluice.yaml'), `warehouse:\n  path: ./wh\nsources:\n  - name: emb_shop\n    type: demo\n    config:\n      baseUrl: ${emu.url}\n      token: ${emu.token}\n      pageSize: 10\n`);
    try {
      const a = spawnCli(['sync'], { cwd: dir, timeoutMs: 300_000 });
      await new Promise((r) => setTimeout(r, 1500));
      const b = spawnCli(['sync'], { cwd: dir, timeoutMs: 300_000 });
      const [ra, rb] = await Promise.all([a, b]);
      expect(ra.code, ra.stderr).toBe(0);
      expect(rb.code, rb.stderr).toBe(0);
      const q = await spawnCli(['query', 'SELECT count(*) n, count(DISTINCT id) d FROM emb_shop.orders', '--format', 'json'], { cwd: dir });
      expect(JSON.parse(q.stdout)).toEqual([{ n: 900, d: 900 }]);
      // nobody uses the server any more: it is gone
      expect(fs.existsSync(path.join(dir, 'wh/.temporal/server.json'))).toBe(false);
      expect(fs.readdirSync(path.join(dir, 'wh/.temporal/users'))).toEqual([]);
    } finally {
      await emu.close();
    }
  }, 400_000);

  it('a `sluice dev` started before sluice.yaml was edited never runs the activities of a later `sluice sync`', async () => {
    const emu = await startDemo({ orders: 300, seed: 5 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-edit-'));
    const yaml = (token: string) => `warehouse:\n  path: ./wh\nsources:\n  - name: emb_edit\n    type: demo\n    config:\n      baseUrl: ${emu.url}\n      token: ${token}\n      pageSize: 50\n`;
    // dev runs with a revoked token; then the operator fixes sluice.yaml and syncs from another terminal.
    fs.writeFileSync(path.join(dir, 'sluice.yaml'), yaml('revoked-token'));
    const dev = spawn(process.execPath, [SLUICE_BIN, 'dev'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        dev.stdout!.on('data', (d) => ((out += d), out.includes('Sluice dev is running') && resolve()));
        dev.once('exit', (code) => reject(new Error(`sluice dev exited (${code}): ${out}`)));
      });
      fs.writeFileSync(path.join(dir, 'sluice.yaml'), yaml(emu.token));
      // Two syncs: with both processes polling one queue, each would have had even odds of meeting dev's worker.
      for (const mode of [[], ['--full-refresh']]) {
        const r = await spawnCli(['sync', ...mode], { cwd: dir, timeoutMs: 300_000 });
        expect(r.code, r.stderr).toBe(0);
      }
      const q = await spawnCli(['query', 'SELECT count(*) n FROM emb_edit.orders', '--format', 'json'], { cwd: dir });
      expect(JSON.parse(q.stdout)).toEqual([{ n: 300 }]);
    } finally {
      dev.kill('SIGINT');
      await new Promise((r) => (dev.exitCode !== null ? r(null) : dev.once('exit', r)));
      await emu.close();
    }
  }, 400_000);
});
