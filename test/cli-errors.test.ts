import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { spawnCli } from '@sluice/testing/harness';

/** Bad input: one clear message naming the thing and the fix, non-zero exit, no stack trace. */
function project(yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bad-'));
  fs.writeFileSync(path.join(dir, 'sluice.yaml'), yaml);
  return dir;
}
const demo = (extra = '') => `sources:\n  - name: shop\n    type: demo\n    config:\n      token: abc123\n${extra}`;

describe('CLI bad input', () => {
  it('reports every config problem at once with file, line, path, expected and allowed values', async () => {
    const dir = project(`warehouse:\n  path: ./wh\nsources:\n  - name: Shop-1\n    type: demo\n    config:\n      token: \${NOPE_TOKEN}\n      pageSize: 9999\n    tables:\n      orders: { mode: sometimes }\n      refunds: {}\n  - name: other\n    type: magento\n    config: {}\n`);
    const r = await spawnCli(['validate'], { cwd: dir, env: { NOPE_TOKEN: '' } });
    expect(r.code).not.toBe(0);
    const e = r.stderr;
    expect(e).toContain(path.join(dir, 'sluice.yaml'));
    expect(e).toMatch(/line 7, sources\[0\]\.config\.token: environment variable NOPE_TOKEN is not set \(source "Shop-1"\)/);
    expect(e).toMatch(/sources\[0\]\.name: expected a name of lowercase letters/);
    expect(e).toMatch(/sources\[1\]\.type: unknown source type "magento"; known types: .*demo/);
    expect(e).toMatch(/sources\[0\]\.tables\.orders\.mode: expected one of "incremental", "full_refresh", "append_only"; got "sometimes"/);
    expect(e).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('names a missing env var with its source', async () => {
    const dir = project(`sources:\n  - name: shop\n    type: demo\n    config:\n      token: \${SHOP_TOKEN}\n`);
    const r = await spawnCli(['validate'], { cwd: dir, env: { SHOP_TOKEN: '' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('environment variable SHOP_TOKEN is not set (source "shop")');
  });

  it('unknown table and connector config errors name the allowed values', async () => {
    const dir = project(demo(`    tables:\n      refunds: {}\n      orders: { mode: incremental, cursor: paid_at }\n`));
    const r = await spawnCli(['validate'], { cwd: dir });
    expect(r.stderr).toContain('demo has no table "refunds"; tables: orders');
    expect(r.stderr).toContain('sources[0].tables.orders.cursor: expected one of "updated_at", "created_at"; got "paid_at"');
  });

  it('malformed YAML is reported with its line', async () => {
    const dir = project(`sources:\n  - name: shop\n    type: demo\n   config: [\n`);
    const r = await spawnCli(['validate'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/line \d+: malformed YAML/);
  });

  it('a missing config file says how to create one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-none-'));
    const r = await spawnCli(['validate'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('file not found');
  });

  it('an unreachable Temporal address is one clear message', async () => {
    const dir = project(`temporal:\n  address: 127.0.0.1:1\n${demo()}`);
    const r = await spawnCli(['sync'], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cannot reach Temporal at 127.0.0.1:1 (temporal.address in');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('sync of an unknown source or table fails before anything runs', async () => {
    const dir = project(`temporal:\n  address: 127.0.0.1:1\n${demo()}`);
    const a = await spawnCli(['sync', 'nope'], { cwd: dir });
    expect(a.stderr).toContain('unknown source "nope"');
    const b = await spawnCli(['sync', 'shop', '--table', 'refunds'], { cwd: dir });
    expect(b.stderr).toContain('unknown table "refunds" for source shop; tables: orders');
    expect(fs.existsSync(path.join(dir, 'warehouse'))).toBe(false);
  });

  it('a SQL error in `sluice query` is a clear message, and writes are refused', async () => {
    const dir = project(demo());
    const { WarehousePaths, withLake } = await import('@sluice/warehouse');
    await withLake(new WarehousePaths(path.join(dir, 'warehouse')), {}, async () => undefined); // an empty lake
    const a = await spawnCli(['query', 'SELEC 1'], { cwd: dir });
    expect(a.code).not.toBe(0);
    expect(a.stderr).toContain('query failed: Parser Error');
    const b = await spawnCli(['query', 'CREATE TABLE x AS SELECT 1'], { cwd: dir });
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/read-only/i);
    const c = await spawnCli(['query', "COPY (SELECT 1) TO 'x.csv'"], { cwd: dir });
    expect(c.code).not.toBe(0);
    expect(fs.existsSync(path.join(dir, 'x.csv'))).toBe(false);
  });
});
