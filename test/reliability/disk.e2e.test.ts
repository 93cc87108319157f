import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { start as startDemo } from '../../packages/emulators/src/demo/index';
import { sluiceEnv } from '@sluice/testing/harness';
import { record } from './report';

/**
 * The warehouse becomes read-only, or full, between two syncs: the next sync fails clearly (no
 * retry storm), and the previous table is intact. Uses a tmpfs mount (root only; skipped elsewhere).
 */
function mount(dir: string, size: string): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
}

/** Whether this process may mount a tmpfs (root on Linux). */
function canMount(): boolean {
  const probe = fs.mkdtempSync('/tmp/sluice-mount-probe-');
  const ok = mount(probe, '1m');
  if (ok) spawnSync('umount', ['-l', probe]);
  fs.rmSync(probe, { recursive: true, force: true });
  return ok;
}

describe.skipIf(!canMount())('warehouse disk read-only or full (needs root for a tmpfs)', () => {
  it.each(['read-only', 'full'] as const)('%s: the sync fails clearly and the previous table is intact', async (kind) => {
    const emu = await startDemo({ orders: 300, seed: 17 });
    const env = await sluiceEnv({ sources: [{ name: `disk_${kind === 'full' ? 'full' : 'ro'}`, type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 50 } }] });
    const source = `disk_${kind === 'full' ? 'full' : 'ro'}`;
    fs.mkdirSync(env.warehouse, { recursive: true });
    expect(mount(env.warehouse, '8m')).toBe(true);
    try {
      const first = await env.run('sync', source);
      expect(first.code, first.stderr).toBe(0);
      const before = await env.query(`SELECT id, status FROM ${source}.orders ORDER BY id`);
      for (let i = 0; i < 50; i++) emu.update(1 + i, new Date(Date.UTC(2025, 0, 1, 0, i)));
      if (kind === 'read-only') {
        expect(spawnSync('mount', ['-o', 'remount,ro', env.warehouse]).status).toBe(0);
      } else {
        // fill what is left of the 8 MB
        const filler = path.join(env.warehouse, 'filler.bin');
        const fd = fs.openSync(filler, 'w');
        try {
          for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024, 1));
        } catch {
          // ENOSPC: full
        } finally {
          fs.closeSync(fd);
        }
      }
      const t0 = Date.now();
      const r = await env.run('sync', source);
      fs.writeFileSync(`/tmp/disk-${kind}.stderr`, r.stderr);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the warehouse cannot be written \((EROFS|ENOSPC|IO).*free space or fix permissions/);
      expect(Date.now() - t0, 'fails without a retry storm').toBeLessThan(60_000);
      expect(await env.query(`SELECT id, status FROM ${source}.orders ORDER BY id`)).toEqual(before);
      record({ scenario: `warehouse ${kind} during a sync`, outcome: 'failed clearly, previous data intact', lost: 0, duplicated: 0 });
    } finally {
      spawnSync('umount', ['-l', env.warehouse]);
      await env.close();
      await emu.close();
    }
  }, 300_000);
});
