import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `sluice validate` promises every problem at once. An unknown table name (`orderz`) used to appear only
 * once every other problem was fixed: a bad setting of another table, or a problem outside `sources:`,
 * hid it. Run through the real `sluice` executable, as an operator would.
 */
const BIN = path.resolve(import.meta.dirname, '../bin/sluice.js');

function validate(yaml: string): Promise<{ code: number | null; stderr: string; file: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-validate-'));
  const file = path.join(dir, 'sluice.yaml');
  fs.writeFileSync(file, yaml);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'validate'], { cwd: dir, env: { ...process.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, stderr, file });
    });
  });
}

const UNKNOWN = /line 9, sources\[0\]\.tables\.orderz: demo has no table "orderz"; tables: orders/;

describe('sluice validate: one pass', () => {
  it('reports an unknown table together with a bad setting of another table', async () => {
    const r = await validate(`sources:\n  - name: shop\n    type: demo\n    config:\n      token: abc123\n    tables:\n      orders: { mode: sometimes }\n      # typo\n      orderz: {}\n`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(r.file);
    expect(r.stderr).toMatch(/line 7, sources\[0\]\.tables\.orders\.mode: expected one of "incremental", "full_refresh", "append_only"; got "sometimes"/);
    expect(r.stderr).toMatch(UNKNOWN);
  });

  it('reports an unknown table together with problems outside sources and in the connector config', async () => {
    const r = await validate(`temporal:\n  address: nowhere\nsources:\n  - name: shop\n    type: demo\n    config:\n      token: abc123\n    tables:\n      orderz: {}\n      orders: { cursor: paid_at }\n  - name: Shop-2\n    type: demo\n    config: { pageSize: 9999 }\n`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/line 2, temporal\.address: expected host:port, e\.g\. localhost:7233/);
    expect(r.stderr).toMatch(UNKNOWN);
    expect(r.stderr).toContain('sources[0].tables.orders.cursor: expected one of "updated_at", "created_at"; got "paid_at"');
    expect(r.stderr).toMatch(/sources\[1\]\.name: expected a name of lowercase letters/);
    expect(r.stderr).toMatch(/sources\[1\]\.config\.token: required/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
