import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../packages/emulators/src/demo/index';
import { sluiceEnv, spawnCli, type SluiceEnv } from '@sluice/testing/harness';

describe('spine: a real sync through Temporal into Parquet + DuckDB', () => {
  let emu: DemoEmulator;
  beforeAll(async () => {
    emu = await startDemo({ orders: 730, seed: 7 });
  });
  afterAll(async () => emu.close());

  it('`sluice sync` with no temporal block starts the embedded dev server and lands queryable data', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-embedded-'));
    fs.writeFileSync(
      path.join(dir, 'sluice.yaml'),
      `warehouse:\n  path: ./wh\nsources:\n  - name: shop\n    type: demo\n    config:\n      baseUrl: ${emu.url}\n      token: \${DEMO_TOKEN}\n`,
    );
    const sync = await spawnCli(['sync'], { cwd: dir, env: { DEMO_TOKEN: emu.token }, timeoutMs: 180_000 });
    expect(sync.stderr).toContain('Temporal UI: http://127.0.0.1:');
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/shop\s+orders\s+incremental\s+succeeded\s+730\s+730/);
    // Parquet files by UTC creation month under data/, and a DuckLake catalog any DuckDB client can attach
    const months = fs.readdirSync(path.join(dir, 'wh/data/shop/orders/year=2024')).filter((d) => d.startsWith('month=')).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
    expect(months[0]).toBe('month=1');
    expect(months.length).toBeGreaterThanOrEqual(10);
    expect(fs.existsSync(path.join(dir, 'wh/catalog.sqlite'))).toBe(true);
    const q = await spawnCli(['query', 'SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(total_cents) AS cents FROM shop.orders', '--format', 'json'], { cwd: dir, env: { DEMO_TOKEN: emu.token } });
    expect(q.code, q.stderr).toBe(0);
    const expected = [...emu.orders.values()].reduce((s, o) => s + o.total_cents, 0);
    expect(JSON.parse(q.stdout)).toEqual([{ n: 730, ids: 730, cents: expected }]);
    // The embedded server is stopped when the command ends; its state stays under the warehouse.
    expect(fs.existsSync(path.join(dir, 'wh/.temporal/temporal.db'))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('against a shared Temporal server', () => {
    let env: SluiceEnv;
    beforeAll(async () => {
      env = await sluiceEnv({ sources: [{ name: 'spine_shop', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 50 }, tables: { orders: { mode: 'incremental' } } }] });
    });
    afterAll(async () => env.close());

    it('incremental sync merges inserts and updates; history and timestamps are right', async () => {
      const first = await env.run('sync', 'spine_shop');
      const maxUpdated = [...emu.orders.values()].map((o) => o.updated_at).sort().at(-1);
      expect(first.code, first.stderr).toBe(0);
      const updated = emu.update(3, new Date('2025-06-01T12:00:00Z'));
      const inserted = emu.insert(new Date('2025-06-02T08:30:00.123Z'));
      const second = await env.run('sync', 'spine_shop', '--json');
      expect(second.code, second.stderr).toBe(0);
      const [result] = JSON.parse(second.stdout);
      // 2 changed records, plus the one sitting exactly at the saved cursor: the lower bound is inclusive.
      expect(result.tables[0]).toMatchObject({ outcome: 'succeeded', rowsRead: 3, cursorBefore: maxUpdated, cursorAfter: '2025-06-02T08:30:00.123Z' });
      const rows = await env.query<{ id: number; status: string; created_at: string }>(`SELECT id, status, created_at FROM spine_shop.orders WHERE id IN (3, ${inserted.id}) ORDER BY id`);
      expect(rows).toEqual([
        { id: 3, status: updated.status, created_at: emu.orders.get(3)!.created_at },
        { id: inserted.id, status: inserted.status, created_at: '2025-06-02T08:30:00.123Z' },
      ]);
      const counts = await env.query<{ n: number; ids: number }>('SELECT count(*) n, count(DISTINCT id) ids FROM spine_shop.orders');
      expect(counts).toEqual([{ n: emu.orders.size, ids: emu.orders.size }]);
      const syncs = await env.query<{ outcome: string; rows_written: number }>(`SELECT outcome, rows_written FROM sluice.syncs WHERE source = 'spine_shop' ORDER BY finished`);
      expect(syncs.map((s) => s.rows_written)).toEqual([730, 3]);
    });

    it('a sync shows up in Temporal visibility with its search attributes, memo and summary', async () => {
      await env.run('sync', 'spine_shop');
      // Visibility is eventually consistent
      let found: { id: string; sa: Record<string, unknown> }[] = [];
      for (let i = 0; i < 50 && found.length === 0; i++) {
        found = [];
        for await (const w of env.client.workflow.list({ query: `SluiceSource = "spine_shop" AND SluiceTable = "orders" AND SluiceOutcome = "succeeded" AND TaskQueue = "${env.taskQueue}"` })) {
          found.push({ id: w.workflowId, sa: w.searchAttributes as Record<string, unknown> });
        }
        if (!found.length) await new Promise((r) => setTimeout(r, 200));
      }
      expect(found.length).toBeGreaterThan(0);
      expect(found[0]!.id).toBe('sluice:spine_shop:orders');
      expect(found[0]!.sa).toMatchObject({ SluiceSource: ['spine_shop'], SluiceTable: ['orders'], SluiceMode: ['incremental'], SluiceOutcome: ['succeeded'] });
      const desc = await env.client.workflow.getHandle('sluice:spine_shop:orders').describe();
      expect(desc.memo).toMatchObject({ source: 'spine_shop', table: 'orders' });
      expect(typeof (desc.memo as Record<string, unknown>).rowsWritten).toBe('number');
    });

    it('--full-refresh re-imports and drops records deleted at the vendor', async () => {
      emu.remove(5);
      const r = await env.run('sync', 'spine_shop', '--full-refresh');
      expect(r.code, r.stderr).toBe(0);
      expect(await env.query('SELECT count(*) n FROM spine_shop.orders WHERE id = 5')).toEqual([{ n: 0 }]);
      expect(await env.query('SELECT count(*) total FROM spine_shop.orders')).toEqual([{ total: emu.orders.size }]);
    });

    it('transient vendor errors are retried; a bad token fails the table clearly and leaves the data intact', async () => {
      emu.faults.push({ kind: { type: 'status', status: 503 }, times: 2 }, { kind: { type: 'html', status: 502 }, times: 1 });
      const ok = await env.run('sync', 'spine_shop');
      expect(ok.code, ok.stderr).toBe(0);
      const before = await env.query<{ n: number }>('SELECT count(*) n FROM spine_shop.orders');
      await env.writeConfig([{ name: 'spine_shop', type: 'demo', config: { baseUrl: emu.url, token: 'wrong-token-123' }, tables: { orders: { mode: 'incremental' } } }]);
      const bad = await env.run('sync', 'spine_shop');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('spine_shop.orders');
      expect(bad.stderr).toContain('invalid_token');
      expect(bad.stderr + bad.stdout).not.toContain('wrong-token-123');
      expect(await env.query('SELECT count(*) n FROM spine_shop.orders')).toEqual(before);
      const [last] = await env.query<{ outcome: string; error: string }>(`SELECT outcome, error FROM sluice.syncs ORDER BY finished DESC LIMIT 1`);
      expect(last!.outcome).toBe('failed');
      const check = await env.run('check', 'spine_shop');
      expect(check.code).toBe(1);
      expect(check.stdout).toContain('invalid API token');
    });
  });
});
