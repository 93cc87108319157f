// extensions.ts first: it sets DuckDB's allocator configuration before @duckdb/node-api loads.
import { extensionOptions } from '../../packages/warehouse/src/extensions';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { ENDPOINTS, start as startCommercetools, sourceConfig as ctSourceConfig, type Endpoint, type Handle as CtEmulator } from '@sluice/emulators/commercetools/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';
import type { TestPostgres } from '../pg-server';
import type { TestS3 } from '../s3-server';
import { startLakeServices } from '../lake-services';
import { startFaultProxy, type FaultProxy, type ProxyRequest } from '../s3-fault-proxy';
import { diffIds, record } from './report';

/**
 * The warehouse under faults of its two shared parts (issue 15, reliability suite):
 *
 * - S3 misbehaving during a commit: a fault proxy between DuckDB's httpfs and the S3 server (SeaweedFS)
 *   answers 503 SlowDown for a while, or lets a request hang past http_timeout. Either httpfs's own
 *   retries carry the commit, or the commit attempt fails (its DuckLake transaction rolled back) and
 *   Temporal's retry of the activity succeeds.
 * - The SQLite catalog busy: two worker processes committing the tables of one source at once, and
 *   another process holding the catalog's write lock while a commit runs. Commits are retried.
 *
 * After each: nothing lost, nothing duplicated, every row at the vendor's version, and the cursor never
 * ahead of the data (the newest succeeded sync's cursor_after ≤ the newest cursor value stored, and
 * every vendor record at or before it is stored). Each scenario is recorded in the reliability table.
 */

/** Every string a Temporal activity history tells about the commit of one table workflow's latest run. */
async function commitAttempts(env: SluiceEnv, workflowId: string): Promise<{ attempt: number; lastFailure?: string }> {
  const h = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  let out: { attempt: number; lastFailure?: string } | undefined;
  for (const e of h.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
    const st = e.activityTaskStartedEventAttributes;
    // Temporal records only an activity's last attempt: its number, and why the one before it failed.
    if (st && scheduled.get(String(st.scheduledEventId)) === 'commitTable') out = { attempt: st.attempt ?? 1, ...(st.lastFailure?.message ? { lastFailure: st.lastFailure.message } : {}) };
  }
  if (!out) throw new Error(`${workflowId}: no commitTable activity in its history`);
  return out;
}

type Check = { lost: number; duplicated: number; extra: number; stale: number; cursorAhead: boolean; uncovered: number; cursor: string; newest: string };

/**
 * Compares a table with the vendor's records (`truth`: id → cursor value) and checks its cursor:
 * the newest succeeded sync's cursor_after is not past the newest cursor value stored, and every vendor
 * record whose cursor value is at or before it is stored at exactly that version.
 */
async function check(env: SluiceEnv, source: string, table: string, cursorField: string, truth: Map<string, string>): Promise<Check> {
  const rows = await env.query<{ id: string | number; c: string }>(`SELECT id, ${cursorField} AS c FROM ${source}.${table}`);
  const d = diffIds(truth.keys(), rows.map((r) => r.id));
  const stored = new Map(rows.map((r) => [String(r.id), r.c]));
  const stale = rows.filter((r) => truth.has(String(r.id)) && Date.parse(truth.get(String(r.id))!) !== Date.parse(r.c)).length;
  const [s] = await env.query<{ cursor: string | null }>(
    `SELECT (SELECT cursor_after FROM sluice.syncs WHERE source = '${source}' AND "table" = '${table}' AND outcome = 'succeeded' ORDER BY finished DESC LIMIT 1) AS cursor`,
  );
  const cursor = s?.cursor ?? '';
  const newest = rows.map((r) => r.c).reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a), rows[0]?.c ?? '');
  const cursorAhead = !cursor || Date.parse(cursor) > Date.parse(newest);
  const uncovered = [...truth].filter(([id, c]) => Date.parse(c) <= Date.parse(cursor) && (!stored.has(id) || Date.parse(stored.get(id)!) !== Date.parse(c))).length;
  return { ...d, stale, cursorAhead, uncovered, cursor, newest };
}

function expectGood(c: Check, what: string): void {
  expect({ lost: c.lost, duplicated: c.duplicated, extra: c.extra }, `${what}: rows lost / duplicated / not at the vendor`).toEqual({ lost: 0, duplicated: 0, extra: 0 });
  expect(c.stale, `${what}: rows not at the vendor's version`).toBe(0);
  expect(c.cursorAhead, `${what}: cursor ${c.cursor} is ahead of the newest stored value ${c.newest}`).toBe(false);
  expect(c.uncovered, `${what}: vendor records at or before the cursor ${c.cursor} that are not stored at their version`).toBe(0);
}

const outcomeOf = (c: Check) => (c.lost || c.duplicated || c.extra || c.stale || c.cursorAhead || c.uncovered ? 'wrong' : 'exact');

// ─────────────────────────────────────────────────────────────────────────────────────────────────────

describe('S3 faults during commits (PostgreSQL catalog, data through a fault proxy)', () => {
  const SOURCE = 'lake_s3_faults';
  const WORKFLOW = `sluice:${SOURCE}:orders`;
  const PREFIX = 'faults/';
  let pg: TestPostgres | undefined;
  let s3: TestS3 | undefined;
  let proxy: FaultProxy;
  let emu: DemoEmulator;
  let env: SluiceEnv;
  let skip = '';
  let syncs = 0;

  beforeAll(async () => {
    const services = await startLakeServices();
    if ('skip' in services) return void (skip = services.skip);
    ({ pg, s3 } = services);
    proxy = await startFaultProxy(s3!.endpoint);
    // ~10 months of orders: a full load writes ~10 files, a merge rewrites the months it touches.
    emu = await startDemo({ orders: 1500, seed: 1503 });
    env = await sluiceEnv({
      sources: [{ name: SOURCE, type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 100 }, tables: { orders: { mode: 'incremental' } } }],
      extra: {
        warehouse: {
          path: './warehouse',
          catalog: pg!.url,
          data: `s3://${s3!.bucket}/${PREFIX}`,
          s3: { endpoint: proxy.endpoint, region: s3!.region, accessKeyId: s3!.accessKeyId, secretAccessKey: s3!.secretAccessKey, urlStyle: 'path' },
        },
      },
    });
  }, 1_800_000);

  afterAll(async () => {
    await env?.close();
    await emu?.close();
    await proxy?.close();
    await Promise.all([pg?.stop(), s3?.stop()]);
  }, 120_000);

  const truth = () => new Map([...emu.orders.values()].map((o) => [String(o.id), o.updated_at]));

  /** Orders changed and created at the vendor, so that the next sync's commit writes. */
  function change(): void {
    const ids = [...emu.orders.keys()];
    for (let i = 0; i < 40; i++) emu.update(ids[(syncs * 97 + i * 37) % ids.length]!);
    for (let i = 0; i < 25; i++) emu.insert();
  }

  /** Syncs with whatever faults are armed, then disarms them (the checks read S3 through the proxy too). */
  async function sync(): Promise<{ ms: number; stats: FaultProxy['stats'] }> {
    const t = Date.now();
    const r = await env.run('sync', SOURCE, '--json');
    const stats = { ...proxy.stats };
    proxy.reset();
    syncs++;
    expect(r.code, `sync ${syncs} failed:\n${r.stderr.slice(-3000)}`).toBe(0);
    const [result] = JSON.parse(r.stdout) as { tables: { outcome: string }[] }[];
    expect(result!.tables.map((x) => x.outcome)).toEqual(['succeeded']);
    return { ms: Date.now() - t, stats };
  }

  /**
   * What a failed attempt may leave behind in the bucket: objects the catalog knows nowhere (not a data
   * or delete file of any snapshot, not scheduled for deletion), and multipart uploads begun and never
   * completed or aborted (invisible in listings, but stored; an S3 lifecycle rule aborts them).
   */
  async function leftovers(): Promise<{ orphans: number; uploads: number }> {
    const meta = '__ducklake_metadata_lake';
    const known = await env.query<{ path: string }>(
      `SELECT path FROM ${meta}.ducklake_data_file UNION ALL SELECT path FROM ${meta}.ducklake_delete_file UNION ALL SELECT path FROM ${meta}.ducklake_files_scheduled_for_deletion`,
    );
    const names = new Set(known.map((k) => path.posix.basename(k.path)));
    const orphans = (await s3!.listObjects(PREFIX)).filter((k) => !names.has(path.posix.basename(k))).length;
    const r = await s3!.request('GET', `/${s3!.bucket}?uploads=&prefix=${encodeURIComponent(PREFIX)}`);
    const uploads = r.status === 200 ? (r.body.match(/<UploadId>/g) ?? []).length : NaN;
    return { orphans, uploads };
  }

  async function verify(scenario: string, note: string): Promise<Check> {
    const c = await check(env, SOURCE, 'orders', 'updated_at', truth());
    const n = await env.query<{ syncs: number; ids: number }>(`SELECT count(*) AS syncs, count(DISTINCT sync_id) AS ids FROM sluice.syncs WHERE source = '${SOURCE}' AND outcome = 'succeeded'`);
    expect(n, 'one succeeded sync record per sync, none twice').toEqual([{ syncs, ids: syncs }]);
    record({ scenario, outcome: outcomeOf(c), lost: c.lost, duplicated: c.duplicated, note });
    expectGood(c, scenario);
    return c;
  }

  /** Every request (or every write) is refused with 503 for `ms`, from the first one the commit makes. */
  function burst(ms: number, only: (r: ProxyRequest) => boolean = () => true): void {
    let start: number | undefined;
    proxy.failNext(1_000_000, {
      status: 503,
      when: (r) => {
        if (!only(r)) return false;
        start ??= Date.now();
        return Date.now() - start < ms;
      },
    });
  }

  it('baseline: a full load through the proxy lands every order in the bucket', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const r = await sync();
    expect(r.stats.failed + r.stats.stalled).toBe(0);
    expect(r.stats.requests, 'the commit wrote through the proxy').toBeGreaterThan(0);
    expect((await s3!.listObjects(`${PREFIX}${SOURCE}/orders/`)).length).toBeGreaterThan(0);
    await verify('DuckLake on S3: baseline load through the fault proxy', `${r.stats.requests} S3 requests, no fault`);
  }, 600_000);

  it('S3 answers 503 SlowDown to every request for 2 s of a commit: httpfs retries, the first commit attempt succeeds', async (ctx) => {
    if (skip) return ctx.skip(skip);
    change();
    burst(2000);
    const r = await sync();
    expect(r.stats.failed, 'requests refused (or the burst missed the commit)').toBeGreaterThan(0);
    const a = await commitAttempts(env, WORKFLOW);
    // With DuckDB's defaults (3 retries after 0/100/400 ms) a 2 s burst fails the attempt; lake.ts sets
    // 6 retries after 0/250/500/1000/2000/4000 ms.
    expect(a.attempt, `the commit needed another attempt: ${a.lastFailure ?? ''}`).toBe(1);
    await verify('S3 503 burst (2 s) during a commit', `${r.stats.failed} requests refused, retried by httpfs; commit attempt ${a.attempt}`);
  }, 600_000);

  it('S3 refuses every write for 12 s, past httpfs retries: the commit attempt fails, rolled back; the retried activity commits', async (ctx) => {
    if (skip) return ctx.skip(skip);
    change();
    const before = await leftovers();
    burst(12_000, (r) => r.method === 'PUT' || r.method === 'POST');
    const r = await sync();
    const a = await commitAttempts(env, WORKFLOW);
    expect(a.attempt, 'commit attempts (the first must have failed)').toBeGreaterThanOrEqual(2);
    expect(a.lastFailure, 'why the attempt before failed').toMatch(/503|SlowDown/);
    const after = await leftovers();
    await verify(
      'S3 503s past httpfs retries during a commit (12 s outage)',
      `${r.stats.failed} writes refused; commit attempt ${a.attempt} succeeded; the failed attempt left ${after.orphans - before.orphans} orphan object(s) and ${after.uploads - before.uploads} unfinished multipart upload(s)`,
    );
  }, 600_000);

  it('an S3 write hangs past http_timeout (30 s): httpfs times it out and retries, the commit succeeds', async (ctx) => {
    if (skip) return ctx.skip(skip);
    change();
    proxy.stallNext(1, 120_000, { when: (r) => r.method === 'PUT' || r.method === 'POST' });
    const r = await sync();
    expect(r.stats.stalled, 'requests held (or the stall missed the commit)').toBe(1);
    expect(r.ms, 'the sync waited out http_timeout').toBeGreaterThanOrEqual(29_000);
    const a = await commitAttempts(env, WORKFLOW);
    expect(a.attempt, `the commit needed another attempt: ${a.lastFailure ?? ''}`).toBe(1);
    await verify('S3 write hung past http_timeout during a commit', `1 request held; httpfs timed it out and retried; sync took ${Math.round(r.ms / 1000)} s; commit attempt ${a.attempt}`);
  }, 600_000);
});

// ─────────────────────────────────────────────────────────────────────────────────────────────────────

describe('catalog busy (SQLite catalog, two worker processes)', () => {
  const CT = 'lake_busy_ct';
  const LOCK = 'lake_lock_shop';
  const COUNTS: Partial<Record<Endpoint, number>> = { orders: 300, carts: 120, customers: 200, payments: 240, 'product-projections': 60, categories: 30, 'discount-codes': 40, inventory: 100 };
  const PAGES = 40;
  const PAGE_SIZE = 25;
  const tableOf = (e: Endpoint) => e.replace(/-/g, '_');
  let ct: CtEmulator;
  let emu: DemoEmulator;
  let env: SluiceEnv;
  let logs = '';
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    ct = await startCommercetools({ seed: 1516, counts: COUNTS });
    emu = await startDemo({ orders: PAGES * PAGE_SIZE, seed: 1517 });
    env = await sluiceEnv({
      worker: false,
      sources: [
        { name: CT, type: 'commercetools', config: { ...ctSourceConfig(ct), pageSize: 40 } },
        { name: LOCK, type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: PAGE_SIZE }, tables: { orders: { mode: 'incremental' } } },
      ],
    });
    // Two worker processes on one warehouse directory (one host): one SQLite catalog, committed to by both.
    // Their logs (JSON, info) say when a commit met the catalog busy and was retried.
    for (let i = 0; i < 2; i++) {
      const w = await env.workerProcess({ SLUICE_LOG_LEVEL: 'info', SLUICE_LOG_FORMAT: 'json' });
      w.stdout!.on('data', (d) => (logs += d));
      w.stderr!.on('data', (d) => (logs += d));
      workers.push(w);
    }
  }, 600_000);

  afterAll(async () => {
    await env?.close();
    await ct?.close();
    await emu?.close();
  }, 120_000);

  /** Log lines of commits that met the catalog busy and were retried, for one workflow (or all). */
  const busyRetries = (workflowId?: string) =>
    logs.split('\n').filter((l) => l.includes('catalog busy, commit retried') && (!workflowId || l.includes(`"workflowId":"${workflowId}"`))).length;

  async function syncOk(source: string, tables: number): Promise<void> {
    const r = await env.run('sync', source, '--json');
    expect(r.code, `sync of ${source} failed:\n${r.stderr.slice(-3000)}`).toBe(0);
    const [result] = JSON.parse(r.stdout) as { tables: { table: string; outcome: string }[] }[];
    expect(result!.tables.filter((t) => t.outcome !== 'succeeded'), 'tables that did not succeed').toEqual([]);
    expect(result!.tables.length).toBe(tables);
  }

  async function checkCt(label: string): Promise<{ lost: number; duplicated: number; wrong: number }> {
    let lost = 0;
    let duplicated = 0;
    let wrong = 0;
    for (const endpoint of ENDPOINTS) {
      const table = tableOf(endpoint);
      const truth = new Map(ct.store.all(endpoint).map((d) => [String(d.id), String(d.lastModifiedAt)]));
      const c = await check(env, CT, table, '"lastModifiedAt"', truth);
      lost += c.lost;
      duplicated += c.duplicated;
      if (outcomeOf(c) === 'wrong') wrong++;
      expectGood(c, `${label}: ${CT}.${table}`);
    }
    return { lost, duplicated, wrong };
  }

  it('two workers commit the 8 tables of one source into one SQLite catalog at once: contention retried, nothing lost', async () => {
    const before = busyRetries();
    await syncOk(CT, ENDPOINTS.length);
    await checkCt('first sync');
    // A second round: changes in every table, committed at once again.
    for (const endpoint of ENDPOINTS) {
      const ids = ct.store.ids_(endpoint);
      for (const id of ids.slice(0, 5)) ct.store.update(endpoint, id, { custom: { note: 'busy catalog test' } });
      ct.store.insert(endpoint);
    }
    await syncOk(CT, ENDPOINTS.length);
    const c = await checkCt('second sync');
    const retries = busyRetries() - before;
    const activityRetries: string[] = [];
    for (const endpoint of ENDPOINTS) {
      const a = await commitAttempts(env, `sluice:${CT}:${tableOf(endpoint)}`);
      if (a.attempt > 1) activityRetries.push(`${tableOf(endpoint)}: attempt ${a.attempt} (${a.lastFailure})`);
    }
    record({
      scenario: 'catalog busy: two workers commit 8 tables of one source into one SQLite catalog',
      outcome: c.lost || c.duplicated || c.wrong ? 'wrong' : 'exact',
      lost: c.lost,
      duplicated: c.duplicated,
      note: `2 syncs × 8 tables; ${retries} commit(s) retried on a busy catalog; ${activityRetries.length} commit activit(ies) retried by Temporal`,
    });
    console.info(`catalog busy, two workers: ${retries} in-commit retries; activity retries: ${activityRetries.join('; ') || 'none'}`);
  }, 900_000);

  /** Staged pages of the demo table's running extract. */
  const stagedPages = () => {
    const root = path.join(env.warehouse, '.staging', LOCK, 'orders');
    if (!fs.existsSync(root)) return 0;
    return fs.readdirSync(root).reduce((n, d) => n + fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith('.ndjson')).length, 0);
  };

  /**
   * Another process (here: a DuckDB of the test's own, through sqlite_scanner) holds the SQLite
   * catalog's write lock from the extract's first staged page (the extract reads the catalog only
   * before it) until the commit has been refused (`database is locked`), and then for `holdMs` more.
   * Returns how long the lock was held.
   */
  async function syncUnderLock(holdMs: number): Promise<{ heldMs: number; retries: number }> {
    const instance = await DuckDBInstance.create(':memory:', extensionOptions());
    const conn = await instance.connect();
    try {
      await conn.run('LOAD sqlite_scanner');
      await conn.run(`ATTACH '${path.join(env.warehouse, 'catalog.sqlite')}' AS cat (TYPE sqlite)`);
      const before = busyRetries(`sluice:${LOCK}:orders`);
      // Slow pages: the lock is taken while the extract still runs, before the commit can begin.
      emu.latencyMs = 500;
      const sync = env.run('sync', LOCK, '--json');
      const deadline = Date.now() + 300_000;
      while (stagedPages() < 1) {
        if (Date.now() > deadline) throw new Error(`the extract staged no page in 300 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // A write in an open transaction: SQLite's RESERVED lock, which every other writer is refused.
      await conn.run('BEGIN');
      await conn.run(`UPDATE cat.ducklake_metadata SET value = value WHERE key = 'version'`);
      const locked = Date.now();
      try {
        const refusedBy = Date.now() + 180_000;
        while (busyRetries(`sluice:${LOCK}:orders`) === before) {
          if (Date.now() > refusedBy) throw new Error('the commit never met the lock within 180 s (no "catalog busy, commit retried" in the worker logs)');
          await new Promise((r) => setTimeout(r, 50));
        }
        await new Promise((r) => setTimeout(r, holdMs));
      } finally {
        await conn.run('COMMIT');
      }
      const heldMs = Date.now() - locked;
      emu.latencyMs = 0;
      const r = await sync;
      expect(r.code, `sync under a held catalog lock failed:\n${r.stderr.slice(-3000)}`).toBe(0);
      const [result] = JSON.parse(r.stdout) as { tables: { outcome: string }[] }[];
      expect(result!.tables.map((t) => t.outcome)).toEqual(['succeeded']);
      return { heldMs, retries: busyRetries(`sluice:${LOCK}:orders`) - before };
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  }

  const demoTruth = () => new Map([...emu.orders.values()].map((o) => [String(o.id), o.updated_at]));

  it('another process holds the SQLite catalog write lock during a commit for a few seconds: the commit waits it out', async () => {
    await syncOk(LOCK, 1);
    expectGood(await check(env, LOCK, 'orders', 'updated_at', demoTruth()), 'initial load');
    const ids = [...emu.orders.keys()];
    for (let i = 0; i < 30; i++) emu.update(ids[i * 13]!);
    for (let i = 0; i < 20; i++) emu.insert();
    const { heldMs, retries } = await syncUnderLock(3000);
    const a = await commitAttempts(env, `sluice:${LOCK}:orders`);
    const c = await check(env, LOCK, 'orders', 'updated_at', demoTruth());
    record({
      scenario: 'catalog busy: SQLite write lock held by another process during a commit',
      outcome: outcomeOf(c),
      lost: c.lost,
      duplicated: c.duplicated,
      note: `lock held ${(heldMs / 1000).toFixed(1)} s; ${retries} in-commit retries; commit attempt ${a.attempt}`,
    });
    expectGood(c, 'commit under a held lock');
    expect(retries, 'commit retries on the busy catalog').toBeGreaterThan(0);
    expect(a.attempt, `the commit activity needed another attempt: ${a.lastFailure ?? ''}`).toBe(1);
  }, 900_000);

  it("the lock is held past the commit's own retries: the commit activity fails, Temporal retries it, it commits once", async () => {
    const ids = [...emu.orders.keys()];
    for (let i = 0; i < 30; i++) emu.update(ids[i * 7 + 3]!);
    for (let i = 0; i < 20; i++) emu.insert();
    const { heldMs, retries } = await syncUnderLock(45_000);
    const a = await commitAttempts(env, `sluice:${LOCK}:orders`);
    const c = await check(env, LOCK, 'orders', 'updated_at', demoTruth());
    const n = await env.query<{ n: number; ids: number }>(`SELECT count(*) AS n, count(DISTINCT sync_id) AS ids FROM sluice.syncs WHERE source = '${LOCK}' AND outcome = 'succeeded'`);
    record({
      scenario: "catalog busy: SQLite write lock held past the commit's retries",
      outcome: outcomeOf(c),
      lost: c.lost,
      duplicated: c.duplicated,
      note: `lock held ${(heldMs / 1000).toFixed(1)} s; ${retries} in-commit retries; commit attempt ${a.attempt} succeeded`,
    });
    expectGood(c, 'commit after a long-held lock');
    expect(n, 'one succeeded sync record per sync').toEqual([{ n: 3, ids: 3 }]);
    expect(a.attempt, 'commit attempts (the lock outlasted the first)').toBeGreaterThanOrEqual(2);
    expect(a.lastFailure, 'why the attempt before failed').toMatch(/database is locked|Failed to commit DuckLake transaction/);
  }, 900_000);
});
