import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, SLUICE_BIN, type SluiceEnv } from '../harness';
import { filesUnder, historyText } from '../leak-scan';

/**
 * Operators' data policies (issue 18), end to end: the real `sluice` CLI and worker processes, the
 * Temporal dev server, the demo emulator and the DuckLake warehouse.
 */

/** Independently of Sluice's code: hex HMAC-SHA256 of the trimmed, lower-cased text. */
const hmac = (key: string, value: string) => createHmac('sha256', key).update(value.trim().toLowerCase(), 'utf8').digest('hex');

/** Every history of this env's task queue, as text (payloads decoded). */
async function histories(env: SluiceEnv): Promise<{ ids: string[]; text: string }> {
  const ids: string[] = [];
  const texts: string[] = [];
  for await (const w of env.client.workflow.list({ query: `TaskQueue = "${env.taskQueue}"` })) {
    ids.push(w.workflowId);
    texts.push(historyText(await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory()).join('\n'));
  }
  return { ids, text: texts.join('\n') };
}

/** `sluice worker` as a child process logging JSON at debug level; its output is collected. */
async function workerProcess(env: SluiceEnv, childEnv: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; out: () => string }> {
  let out = '';
  const child = spawn(process.execPath, [SLUICE_BIN, '--config', env.configPath, 'worker'], { cwd: env.dir, env: { ...process.env, ...childEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 300 && !out.includes('worker polling'); i++) await new Promise((r) => setTimeout(r, 100));
  if (!out.includes('worker polling')) throw new Error(`worker did not start: ${out}`);
  return { child, out: () => out };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

describe('columns: exclude and hash', () => {
  const KEY = 'pol-cols-key-7f3a9c21e5b84d06a1';
  const childEnv = { SLUICE_HASH_KEY: KEY, SLUICE_LOG_FORMAT: 'json', SLUICE_LOG_LEVEL: 'debug' };
  let emu: DemoEmulator;
  let env: SluiceEnv;
  let worker: { child: ChildProcess; out: () => string } | undefined;
  const noteOf = (id: number) => `POLNOTE-${id}-do-not-land`;
  const phoneOf = (id: number) => `+49 30 9${String(id).padStart(6, '0')}`;

  beforeAll(async () => {
    emu = await startDemo({ orders: 40, seed: 18 });
    // The demo orders get a free-text note and a nested shipping address, as commerce orders have.
    for (const o of emu.orders.values()) Object.assign(o, { note: noteOf(o.id), shippingAddress: { city: 'Berlin', phone: phoneOf(o.id) } });
    process.env.SLUICE_HASH_KEY = KEY; // the in-process `sluice query` of the harness loads the same config
    env = await sluiceEnv({
      sources: [{ name: 'pol_cols', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 10 }, tables: { orders: { mode: 'incremental', columns: { exclude: ['note'], hash: ['customer_email', 'shippingAddress.phone'] } } as never } }],
      worker: false,
    });
    worker = await workerProcess(env, childEnv);
  });
  afterAll(async () => {
    await stop(worker?.child);
    await env?.close();
    await emu?.close();
    delete process.env.SLUICE_HASH_KEY;
  });

  it('lands hashes equal to HMAC-SHA256 under the key, and no excluded value anywhere (lake, staging, logs, Temporal)', async () => {
    // Slow pages, so the staged pages can be read while the extract runs (they are removed after the commit).
    emu.faults.push({ kind: { type: 'delay', ms: 250 } });
    const staged = new Map<string, string>();
    let syncing = true;
    const watcher = (async () => {
      while (syncing) {
        for (const f of filesUnder(path.join(env.warehouse, '.staging'))) {
          try {
            staged.set(f, fs.readFileSync(f, 'utf8'));
          } catch {
            // renamed or removed between listing and reading
          }
        }
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    const r = await env.spawnCli(['sync', 'pol_cols', '--json'], { env: childEnv, timeoutMs: 90_000 });
    syncing = false;
    await watcher;
    emu.faults.length = 0;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)[0].tables[0]).toMatchObject({ outcome: 'succeeded', rowsWritten: 40 });

    // The lake: no `note` column; hashes are HMAC-SHA256(key, value) computed here; the rest is clear.
    const rows = await env.query<{ id: number; customer_email: string; shippingAddress: unknown; updated_at: string; status: string }>(`SELECT * FROM pol_cols.orders ORDER BY id`);
    expect(rows).toHaveLength(40);
    expect(Object.keys(rows[0]!)).not.toContain('note');
    for (const row of rows) {
      const o = emu.orders.get(row.id)!;
      expect(row.customer_email).toBe(hmac(KEY, o.customer_email));
      expect(typeof row.shippingAddress === 'string' ? JSON.parse(row.shippingAddress) : row.shippingAddress).toEqual({ city: 'Berlin', phone: hmac(KEY, phoneOf(o.id)) });
      expect(new Date(row.updated_at).toISOString()).toBe(o.updated_at);
      expect(row.status).toBe(o.status);
    }
    // Equal values stay joinable: two orders with one email hash alike (the demo's emails are per order).
    expect(new Set(rows.map((x) => x.customer_email)).size).toBe(40);

    const pages = [...staged.entries()].filter(([f]) => f.endsWith('.ndjson'));
    expect(pages.length, 'staged pages were observed during the extract').toBeGreaterThan(0);
    expect(pages.some(([, text]) => text.includes(hmac(KEY, phoneOf(1))) || text.includes('"customer_email":"'))).toBe(true);

    const { ids, text: history } = await histories(env);
    expect(ids).toEqual(expect.arrayContaining(['sluice:pol_cols', 'sluice:pol_cols:orders']));
    await new Promise((res) => setTimeout(res, 300));
    const places: Record<string, string> = {
      staging: [...staged.values()].join('\n'),
      warehouse: filesUnder(env.warehouse).map((f) => fs.readFileSync(f, 'latin1')).join('\n'),
      worker: worker!.out(),
      cli: r.stdout + r.stderr,
      history,
    };
    expect(places.worker).toContain('"activityType":"extractTable"');
    for (const [where, text] of Object.entries(places)) {
      for (const o of [...emu.orders.values()].slice(0, 40)) {
        expect(text.includes(noteOf(o.id)), `excluded note of order ${o.id} found in ${where}`).toBe(false);
        expect(text.includes(o.customer_email), `clear email of order ${o.id} found in ${where}`).toBe(false);
        expect(text.includes(phoneOf(o.id)), `clear phone of order ${o.id} found in ${where}`).toBe(false);
      }
      expect(text.includes(KEY), `hash key found in ${where}`).toBe(false);
    }
  });
});
