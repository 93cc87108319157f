import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, SLUICE_BIN, type SluiceEnv } from '@sluice/testing/harness';
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
    // Distinct values stay distinct (the demo's emails are per order).
    expect(new Set(rows.map((x) => x.customer_email)).size).toBe(40);

    const pages = [...staged.entries()].filter(([f]) => f.endsWith('.ndjson'));
    expect(pages.length, 'staged pages were observed during the extract').toBeGreaterThan(0);
    expect(pages.some(([, text]) => text.includes(hmac(KEY, phoneOf(1))) || text.includes('"customer_email":"'))).toBe(true);

    const { ids, text: history } = await histories(env);
    expect(ids).toEqual(expect.arrayContaining(['sluice:pol_cols', 'sluice:pol_cols:orders']));
    // The Temporal UI says which fields are excluded and hashed (names only).
    expect(await (await env.client.workflow.getHandle('sluice:pol_cols:orders').describe()).staticDetails()).toContain('Data policies: excluded: note; hashed (HMAC-SHA256): customer_email, shippingAddress.phone.');
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

  it('equal values hash alike across orders and syncs: an incremental merge keeps them joinable', async () => {
    const [a, b] = [emu.orders.get(5)!, emu.orders.get(6)!];
    const before = await env.query<{ customer_email: string }>(`SELECT customer_email FROM pol_cols.orders WHERE id = 5`);
    // Order 6 now belongs to the same customer, whose email the vendor wrote in capitals; both orders changed.
    b.customer_email = ` ${a.customer_email.toUpperCase()}`;
    const at = new Date(Date.now() - 2 * 60_000);
    emu.update(a.id, at);
    emu.update(b.id, at);
    const r = await env.spawnCli(['sync', 'pol_cols', '--json'], { env: childEnv, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const rows = await env.query<{ id: number; customer_email: string; status: string }>(`SELECT id, customer_email, status FROM pol_cols.orders WHERE id IN (5, 6) ORDER BY id`);
    expect(rows).toEqual([
      { id: 5, customer_email: hmac(KEY, a.customer_email), status: a.status },
      { id: 6, customer_email: hmac(KEY, a.customer_email), status: b.status },
    ]);
    expect(rows[0]!.customer_email).toBe(before[0]!.customer_email);
    const [{ n }] = (await env.query<{ n: number }>(`SELECT count(*)::INT AS n FROM pol_cols.orders o JOIN pol_cols.orders p ON o.customer_email = p.customer_email AND o.id < p.id`)) as [{ n: number }];
    expect(n).toBe(1);
  });
});

type Status = { source: string; table: string; cursor: string | null; outcome: string; error?: string };
async function statusOf(env: SluiceEnv, source: string, table: string): Promise<Status> {
  const r = await env.run('status', '--json');
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Status[]).find((s) => s.source === source && s.table === table)!;
}
type TableResultJson = { outcome: string; rowsRead: number; rowsWritten: number; cursorAfter?: string; error?: string; warnings?: string[]; discardedColumns?: Record<string, number>; schemaChanges: string[] };
const tableResult = (stdout: string): TableResultJson => JSON.parse(stdout)[0].tables[0];

describe('schema contracts', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  const source = (schema: string) => [{ name: 'pol_schema', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 10 }, tables: { orders: { mode: 'incremental', schema } as never } }];

  beforeAll(async () => {
    emu = await startDemo({ orders: 30, seed: 23 });
    env = await sluiceEnv({ sources: [{ name: 'pol_schema', type: 'demo', config: {}, tables: {} }], worker: false });
    await env.writeConfig(source('freeze'));
  });
  afterAll(async () => {
    await env?.close();
    await emu?.close();
  });

  it('freeze: a first sync creates the table; a new column or a type change then fails the sync with the diff, table and cursor untouched', async () => {
    const first = await env.run('sync', 'pol_schema', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(tableResult(first.stdout)).toMatchObject({ outcome: 'succeeded', rowsWritten: 30 });
    const before = await env.query(`SELECT * FROM pol_schema.orders ORDER BY id`);
    const columnsBefore = await env.query<{ column_name: string; column_type: string }>(`SELECT column_name, column_type FROM (DESCRIBE pol_schema.orders)`);
    const cursorBefore = (await statusOf(env, 'pol_schema', 'orders')).cursor;
    expect(cursorBefore).toBeTruthy();

    // The vendor starts sending a new field and a fractional amount on two updated orders.
    const at = new Date(Date.now() - 5 * 60_000);
    for (const id of [3, 7]) Object.assign(emu.update(id, at), { gift_wrap: true });
    emu.orders.get(7)!.total_cents = 1234.5;

    const frozen = await env.run('sync', 'pol_schema', '--json');
    expect(frozen.code).toBe(1);
    const failed = tableResult(frozen.stdout);
    expect(failed.outcome).toBe('failed');
    for (const text of [failed.error!, frozen.stderr]) {
      expect(text).toContain('pol_schema.orders has schema: freeze');
      expect(text).toContain('+ gift_wrap BOOLEAN (new column)');
      expect(text).toContain('~ total_cents BIGINT → DOUBLE (widening)');
    }
    // Nothing was written: same rows, same columns, same cursor; the failure is in the sync log and status.
    expect(await env.query(`SELECT * FROM pol_schema.orders ORDER BY id`)).toEqual(before);
    expect(await env.query(`SELECT column_name, column_type FROM (DESCRIBE pol_schema.orders)`)).toEqual(columnsBefore);
    const status = await statusOf(env, 'pol_schema', 'orders');
    expect(status).toMatchObject({ cursor: cursorBefore, outcome: 'failed' });
    expect(status.error).toContain('+ gift_wrap BOOLEAN (new column)');
    // The Temporal UI shows it: the table workflow failed with the diff in its failure and memo, without retrying.
    const handle = env.client.workflow.getHandle('sluice:pol_schema:orders');
    const desc = await handle.describe();
    expect(desc.status.name).toBe('FAILED');
    expect(await desc.staticDetails()).toContain('Data policies: schema: freeze.');
    expect(String(desc.memo?.error)).toContain('~ total_cents BIGINT → DOUBLE (widening)');
    const history = historyText(await handle.fetchHistory()).join('\n');
    expect(history).toContain('+ gift_wrap BOOLEAN (new column)');
    expect(history).toContain('Sluice.schema_contract');
  });

  it('discard_new_columns: keeps the table columns, widens the known ones, and counts what it dropped', async () => {
    await env.writeConfig(source('discard_new_columns'));
    // The two updated orders, and the order(s) at the saved cursor (the lower bound is inclusive).
    const cursor = (await statusOf(env, 'pol_schema', 'orders')).cursor!;
    const read = [...emu.orders.values()].filter((o) => Date.parse(o.updated_at) >= Date.parse(cursor)).length;
    expect(read).toBeGreaterThanOrEqual(2);
    const r = await env.run('sync', 'pol_schema', '--json');
    expect(r.code, r.stderr).toBe(0);
    const t = tableResult(r.stdout);
    expect(t).toMatchObject({ outcome: 'succeeded', rowsRead: read, rowsWritten: read, discardedColumns: { gift_wrap: 2 } });
    expect(t.warnings).toEqual(expect.arrayContaining([expect.stringContaining('1 new column(s) not written (gift_wrap: 2 value(s))')]));
    expect(t.schemaChanges).toEqual(['widened total_cents BIGINT → DOUBLE']);
    const columns = (await env.query<{ column_name: string }>(`SELECT column_name FROM (DESCRIBE pol_schema.orders)`)).map((c) => c.column_name);
    expect(columns).not.toContain('gift_wrap');
    const rows = await env.query<{ id: number; status: string; total_cents: number }>(`SELECT id, status, total_cents FROM pol_schema.orders WHERE id IN (3, 7) ORDER BY id`);
    expect(rows).toEqual([
      { id: 3, status: emu.orders.get(3)!.status, total_cents: emu.orders.get(3)!.total_cents },
      { id: 7, status: emu.orders.get(7)!.status, total_cents: 1234.5 },
    ]);
    const [log] = await env.query<{ warnings: unknown }>(`SELECT warnings FROM sluice.syncs WHERE source = 'pol_schema' AND outcome = 'succeeded' ORDER BY finished DESC LIMIT 1`);
    expect(JSON.stringify(log!.warnings)).toContain('gift_wrap: 2 value(s)');
  });
});

describe('window re-sync: --since / --until', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  const SINCE = '2024-03-01T00:00:00.000Z';
  const UNTIL = '2024-04-30T00:00:00.000Z';

  beforeAll(async () => {
    emu = await startDemo({ orders: 60, seed: 31 }); // one order every 5 days from 2024-01-01, updated_at = created_at
    env = await sluiceEnv({ sources: [{ name: 'pol_window', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 10 }, tables: { orders: { mode: 'incremental' } } }] });
  });
  afterAll(async () => {
    await env?.close();
    await emu?.close();
  });

  it('re-reads only the window and merges it; rows outside it and the saved cursor stay as they were', async () => {
    const first = await env.run('sync', 'pol_window', '--json');
    expect(first.code, first.stderr).toBe(0);
    const original = new Map([...emu.orders.values()].map((o) => [o.id, o.status]));
    const cursorBefore = (await statusOf(env, 'pol_window', 'orders')).cursor!;
    expect(Date.parse(cursorBefore)).toBeGreaterThan(Date.parse(UNTIL));

    // The vendor corrected every order without moving its cursor: an incremental sync cannot see it.
    for (const o of emu.orders.values()) o.status = 'cancelled';
    const inWindow = [...emu.orders.values()].filter((o) => o.updated_at >= SINCE && o.updated_at <= UNTIL).map((o) => o.id);
    const later = [...emu.orders.values()].filter((o) => o.updated_at > UNTIL).length;
    expect(inWindow.length).toBeGreaterThan(5);

    const asked = emu.requests.length;
    const r = await env.run('sync', 'pol_window', '--table', 'orders', '--since', '2024-03-01', '--until', '2024-04-30', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`re-syncing the window ${SINCE} … ${UNTIL} (cursor)`);
    const t = tableResult(r.stdout);
    expect(t).toMatchObject({ outcome: 'succeeded', rowsRead: inWindow.length, rowsWritten: inWindow.length, cursorAfter: cursorBefore });
    // No table bounds its read above: the records after --until were read and dropped before staging (said so).
    expect(t.warnings).toEqual(expect.arrayContaining([`--until ${UNTIL}: ${later} record(s) read with a later cursor were not written`]));
    const queries = emu.requests.slice(asked).filter((q) => q.path === '/v1/orders').map((q) => new URLSearchParams(q.query).get('updated_since'));
    expect(queries.length).toBeGreaterThan(0);
    expect(new Set(queries)).toEqual(new Set([SINCE]));

    const rows = await env.query<{ id: number; status: string }>(`SELECT id, status FROM pol_window.orders ORDER BY id`);
    expect(rows).toHaveLength(60);
    for (const row of rows) expect(row.status, `order ${row.id}`).toBe(inWindow.includes(row.id) ? 'cancelled' : original.get(row.id));
    expect((await statusOf(env, 'pol_window', 'orders')).cursor).toBe(cursorBefore);

    // The Temporal UI names the window on both workflows.
    const windowText = `window ${SINCE} … ${UNTIL}`;
    expect(await (await env.client.workflow.getHandle('sluice:pol_window:orders').describe()).staticSummary()).toBe(`Sync pol_window.orders (incremental, ${windowText})`);
    expect(await (await env.client.workflow.getHandle('sluice:pol_window').describe()).staticSummary()).toContain(windowText);

    // The snapshot names the window (time travel and `FROM lake.snapshots()` show what each commit was).
    const [snap] = await env.query<{ commit_message: string }>(`SELECT commit_message FROM lake.snapshots() WHERE commit_message LIKE 'sync pol_window.orders%' ORDER BY snapshot_id DESC LIMIT 1`);
    expect(snap!.commit_message).toBe(`sync pol_window.orders (incremental, window ${SINCE} … ${UNTIL}): ${inWindow.length} row(s) written`);

    // The next ordinary sync still starts from the saved cursor.
    const next = await env.run('sync', 'pol_window', '--json');
    expect(next.code, next.stderr).toBe(0);
    expect(tableResult(next.stdout).cursorAfter).toBe(cursorBefore);
  });

  it('the cursor only moves forward: a window reaching past the saved cursor advances it to what it read', async () => {
    const cursorBefore = (await statusOf(env, 'pol_window', 'orders')).cursor!;
    const fresh = emu.insert(new Date(Date.now() - 10 * 60_000));
    const r = await env.run('sync', 'pol_window', '--table', 'orders', '--since', '2024-10-01', '--json');
    expect(r.code, r.stderr).toBe(0);
    const t = tableResult(r.stdout);
    expect(Date.parse(t.cursorAfter!)).toBe(Date.parse(fresh.updated_at));
    expect(Date.parse(t.cursorAfter!)).toBeGreaterThan(Date.parse(cursorBefore));
    expect((await env.query<{ n: number }>(`SELECT count(*)::INT AS n FROM pol_window.orders`))[0]!.n).toBe(61);
  });

  it('append_only: a window re-sync appends the versions not stored yet, and only those', async () => {
    await env.writeConfig([
      { name: 'pol_window', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 10 }, tables: { orders: { mode: 'incremental' } } },
      { name: 'pol_window_ao', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 10 }, tables: { orders: { mode: 'append_only' } } },
      { name: 'pol_window_new', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 10 }, tables: { orders: { mode: 'incremental' } } },
    ]);
    const first = await env.run('sync', 'pol_window_ao', '--json');
    expect(first.code, first.stderr).toBe(0);
    const stored = tableResult(first.stdout).rowsWritten;
    const cursorBefore = (await statusOf(env, 'pol_window_ao', 'orders')).cursor!;
    // Versions the earlier sync never saw: two orders inside the window changed an hour after their last version
    // (a vendor whose change feed lost them), and one outside it.
    const inside = [...emu.orders.values()].filter((o) => o.updated_at >= SINCE && o.updated_at < UNTIL).slice(0, 2);
    const outside = [...emu.orders.values()].find((o) => o.updated_at < SINCE)!;
    for (const o of [...inside, outside]) {
      o.updated_at = new Date(Date.parse(o.updated_at) + 3600_000).toISOString();
      o.status = 'shipped';
    }
    const r = await env.run('sync', 'pol_window_ao', '--table', 'orders', '--since', '2024-03-01', '--until', '2024-04-30', '--json');
    expect(r.code, r.stderr).toBe(0);
    const t = tableResult(r.stdout);
    expect(t.rowsWritten).toBe(2);
    expect(t.cursorAfter).toBe(cursorBefore);
    const versions = await env.query<{ id: number; n: number; latest: string }>(
      `SELECT id, count(*)::INT AS n, max(updated_at) AS latest FROM pol_window_ao.orders WHERE id IN (${[...inside, outside].map((o) => o.id).join(', ')}) GROUP BY id ORDER BY id`,
    );
    expect(versions.map((v) => [v.id, v.n])).toEqual([...inside, outside].map((o) => [o.id, inside.includes(o) ? 2 : 1]).sort((a, b) => a[0]! - b[0]!));
    expect((await env.query<{ n: number }>(`SELECT count(*)::INT AS n FROM pol_window_ao.orders`))[0]!.n).toBe(stored + 2);
    expect((await statusOf(env, 'pol_window_ao', 'orders')).cursor).toBe(cursorBefore);
  });

  it('on a table never synced, --since is a first sync starting there', async () => {
    const from = '2024-06-01T00:00:00.000Z';
    const expected = [...emu.orders.values()].filter((o) => o.updated_at >= from);
    const r = await env.run('sync', 'pol_window_new', '--table', 'orders', '--since', '2024-06-01', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(tableResult(r.stdout)).toMatchObject({ outcome: 'succeeded', rowsWritten: expected.length });
    const ids = await env.query<{ id: number }>(`SELECT id FROM pol_window_new.orders ORDER BY id`);
    expect(ids.map((x) => x.id)).toEqual(expected.map((o) => o.id).sort((a, b) => a - b));
    const max = expected.map((o) => o.updated_at).sort().at(-1)!;
    expect(Date.parse((await statusOf(env, 'pol_window_new', 'orders')).cursor!)).toBe(Date.parse(max));
  });

  it('refuses --since with --full-refresh, --until without --since, and --since on a table without a cursor (naming it)', async () => {
    const both = await env.run('sync', 'pol_window', '--since', '2024-01-01', '--full-refresh');
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('--since re-reads a window and merges it, --full-refresh replaces whole tables');
    const lone = await env.run('sync', 'pol_window', '--until', '2024-01-01');
    expect(lone.code).not.toBe(0);
    expect(lone.stderr).toContain('--until needs --since');
    const bad = await env.run('sync', 'pol_window', '--since', 'last tuesday');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--since "last tuesday": expected a date');

    const dir = fs.mkdtempSync(path.join(env.dir, 'nocursor-'));
    fs.writeFileSync(path.join(dir, 'sluice.yaml'), `warehouse: { path: ./wh }\nsources:\n  - name: ss\n    type: shipstation\n    config: { apiKey: k, apiSecret: s }\n    tables:\n      orders: { mode: incremental }\n      stores: {}\n`);
    const nocursor = await env.spawnCli(['--config', path.join(dir, 'sluice.yaml'), 'sync', 'ss', '--table', 'stores', '--since', '2024-01-01'], { timeoutMs: 60_000 });
    expect(nocursor.code).not.toBe(0);
    expect(nocursor.stderr).toContain('--since: ss.stores: stores has no cursor');
    // Without --table, every table of the source must have one.
    const all = await env.spawnCli(['--config', path.join(dir, 'sluice.yaml'), 'sync', 'ss', '--since', '2024-01-01'], { timeoutMs: 60_000 });
    expect(all.stderr).toContain('ss.stores');
  });
});
