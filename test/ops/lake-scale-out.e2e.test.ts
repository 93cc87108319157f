// extensions.ts first: it sets DuckDB's allocator configuration before @duckdb/node-api loads.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { ENDPOINTS, start as startCommercetools, sourceConfig, type Endpoint, type Handle as CtEmulator } from '@sluice/emulators/commercetools/index';
import { withLake } from '../../packages/warehouse/src/lake';
import { loadConfig } from '../../packages/cli/src/config';
import { SLUICE_BIN, spawnCli, type CliResult } from '@sluice/testing/harness';
import type { TestPostgres } from '../pg-server';
import type { TestS3 } from '../s3-server';
import { startLakeServices } from '../lake-services';
import { diffIds } from '../reliability/report';
import { filesUnder, historyText } from '../leak-scan';

/**
 * Scale-out on real parts (issue 15, item 3): the DuckLake catalog in a real PostgreSQL, the Parquet
 * files in a real S3-compatible server (SeaweedFS), two `sluice worker` processes in two working
 * directories (two local `warehouse.path`s, as on two machines) on one Temporal task queue, and the CLI
 * (`sync`, `query`, `status`) run from a third directory. Everything listens on 127.0.0.1.
 *
 * The configs carry no secret: `${PGPASSWORD}`, `${S3_ENDPOINT}`, `${AWS_ACCESS_KEY_ID}`,
 * `${AWS_SECRET_ACCESS_KEY}` (and the vendor's `${CT_CLIENT_SECRET}`) come from the processes'
 * environment, and afterwards neither the catalog password nor the bucket secret may appear in any
 * output, in `sluice status --json`, in the Temporal histories, in the catalog's tables or in any file.
 */
const SOURCE = 'lake_scale_ct';
const PREFIX = 'sluice/';
const COUNTS: Record<Endpoint, number> = {
  orders: 420,
  carts: 150,
  customers: 260,
  payments: 300,
  'product-projections': 80,
  categories: 40,
  'discount-codes': 45,
  inventory: 120,
};
const tableOf = (e: Endpoint) => e.replace(/-/g, '_');
const TABLES = ENDPOINTS.map(tableOf);

let pg: TestPostgres | undefined;
let s3: TestS3 | undefined;
let ct: CtEmulator;
let skip = '';
/** PostgreSQL's client programs (psql, pg_dump) of the server's version. */
let pgBin = '';
let connection: Connection | undefined;
let client: Client;
const taskQueue = `lake-scale-${process.pid}-${Date.now()}`;
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-lake-scale-'));
/** Three working directories: two machines running a worker, and an operator's laptop. */
const dirs = { a: path.join(base, 'machine-a'), b: path.join(base, 'machine-b'), ops: path.join(base, 'operator') };
const config = (d: string) => path.join(d, 'sluice.yaml');
let childEnv: NodeJS.ProcessEnv = {};
const workers: { name: string; child: ChildProcess; out: () => string }[] = [];
/** Everything the CLI printed, for the redaction check. */
const cliOutput: string[] = [];

function writeConfig(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const ctConfig = { ...sourceConfig(ct), clientSecret: '${CT_CLIENT_SECRET}', pageSize: 50 };
  fs.writeFileSync(
    config(dir),
    stringify({
      warehouse: {
        path: './wh',
        catalog: `postgres://${pg!.user}:\${PGPASSWORD}@127.0.0.1:${pg!.port}/${pg!.database}`,
        data: `s3://${s3!.bucket}/${PREFIX}`,
        s3: { endpoint: '${S3_ENDPOINT}', region: s3!.region, accessKeyId: '${AWS_ACCESS_KEY_ID}', secretAccessKey: '${AWS_SECRET_ACCESS_KEY}', urlStyle: 'path' },
      },
      temporal: { address: inject('temporalAddress'), namespace: 'default', taskQueue },
      sources: [{ name: SOURCE, type: 'commercetools', config: ctConfig }],
    }),
  );
}

/** `sluice worker` in `dir`, as a child process; resolves once it polls. */
function startWorker(name: string, dir: string): Promise<void> {
  const child = spawn(process.execPath, [SLUICE_BIN, '--config', config(dir), 'worker'], { cwd: dir, env: { ...process.env, ...childEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  workers.push({ name, child, out: () => out });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker ${name} not polling after 120 s: ${out.slice(-3000)}`)), 120_000);
    const check = () => {
      if (out.includes('worker polling')) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`worker ${name} exited (${code}) before polling: ${out.slice(-3000)}`));
    });
  });
}

/** The CLI from the operator's directory (a third local path), with the secrets in its environment only. */
async function cli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  const r = await spawnCli(['--config', config(dirs.ops), ...args], { cwd: dirs.ops, env: childEnv, timeoutMs });
  cliOutput.push(r.stdout, r.stderr);
  return r;
}

async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const r = await cli(['query', sql, '--format', 'json']);
  if (r.code !== 0) throw new Error(`sluice query failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T[];
}

type SyncJson = { source: string; tables: { table: string; outcome: string; rowsRead: number; rowsWritten: number; error?: string }[] }[];

async function sync(): Promise<SyncJson[number]['tables']> {
  const r = await cli(['sync', SOURCE, '--json'], 900_000);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
  const misrouted = /No files found that match the pattern "[^"]*\/\.staging\//.test(r.stdout + r.stderr)
    ? 'a commit ran on the worker that did not extract the table: the staged pages are on the other machine\'s disk (warehouse.path/.staging) and the commit activity is not routed to the worker holding them\n'
    : '';
  expect(r.code, `sluice sync failed: ${misrouted}${errors.join('\n') || r.stderr.slice(-4000)}`).toBe(0);
  const tables = (JSON.parse(r.stdout) as SyncJson).flatMap((s) => s.tables);
  expect(tables.filter((t) => t.outcome !== 'succeeded'), 'tables that did not succeed').toEqual([]);
  expect(tables.map((t) => t.table).sort()).toEqual([...TABLES].sort());
  return tables;
}

/** Every table equals the emulator's collection: the same ids, once each, each at the emulator's version. */
async function expectExact(label: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const endpoint of ENDPOINTS) {
    const table = tableOf(endpoint);
    const stored = await query<{ id: string; version: number }>(`SELECT id, version FROM ${SOURCE}.${table}`);
    const d = diffIds(ct.store.ids_(endpoint), stored.map((r) => r.id));
    expect(d, `${label}: ${SOURCE}.${table} vs the emulator (ids lost, duplicated, not at the vendor)`).toEqual({ lost: 0, duplicated: 0, extra: 0 });
    const versions = new Map(ct.store.all(endpoint).map((doc) => [String(doc.id), Number(doc.version)]));
    const stale = stored.filter((r) => Number(r.version) !== versions.get(r.id)).map((r) => `${r.id}: stored v${r.version}, vendor v${versions.get(r.id)}`);
    expect(stale, `${label}: ${SOURCE}.${table} rows not at the vendor's version`).toEqual([]);
    counts[table] = stored.length;
  }
  return counts;
}

type ActivityRun = { workflowId: string; runId: string; activity: string; identity: string; attempt: number; lastFailure?: string };

/**
 * The activities of this task queue's workflows: which worker (identity) ran each one's last attempt,
 * its attempt number and why the attempt before it failed (Temporal records only the last attempt).
 */
async function activityRuns(): Promise<ActivityRun[]> {
  const out: ActivityRun[] = [];
  for await (const w of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) {
    const h = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    const types = new Map<string, string>();
    for (const e of h.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) types.set(String(e.eventId), s.activityType?.name ?? '?');
      const st = e.activityTaskStartedEventAttributes;
      if (st)
        out.push({
          workflowId: w.workflowId,
          runId: w.runId,
          activity: types.get(String(st.scheduledEventId)) ?? '?',
          identity: st.identity ?? '?',
          attempt: st.attempt ?? 1,
          ...(st.lastFailure?.message ? { lastFailure: st.lastFailure.message } : {}),
        });
    }
  }
  return out;
}

/**
 * The extract stages its pages on the local disk of the worker that ran it; the commit must run there.
 * A commit attempt on the other machine finds no staged files ("No files found that match the pattern
 * …/.staging/…") and is retried until it happens to land on the right worker, or fails the sync: each
 * commit here must have run once.
 */
function commitsRetried(runs: ActivityRun[]): string[] {
  return runs
    .filter((r) => r.activity === 'commitTable' && r.attempt > 1)
    .map((r) => {
      const extract = runs.find((x) => x.runId === r.runId && x.activity === 'extractTable');
      return `${r.workflowId}: commit attempt ${r.attempt} on ${r.identity} (extract on ${extract?.identity ?? '?'}); attempt ${r.attempt - 1} failed: ${(r.lastFailure ?? '?').slice(0, 200)}`;
    });
}

/**
 * Every file DuckLake lists for the current snapshot of each table (ducklake_list_files) is an object
 * in the bucket: data files under <prefix><source>/<table>/year=YYYY/month=M/, delete files under the
 * table's prefix.
 */
async function checkFiles(): Promise<{ listed: number; deletes: number; objects: number }> {
  const objects = new Set(await s3!.listObjects(PREFIX));
  const paths = (await loadConfig(config(dirs.ops), { ...process.env, ...childEnv })).warehouse;
  const listed = await withLake(paths, { readOnly: true }, async ({ conn }) => {
    const out: { table: string; data: string; del: string | null }[] = [];
    for (const table of TABLES) {
      const r = await conn.runAndReadAll(`SELECT data_file, delete_file FROM ducklake_list_files('lake', '${table}', schema => '${SOURCE}')`);
      for (const [data, del] of r.getRows() as [string, string | null][]) out.push({ table, data: String(data), del: del === null ? null : String(del) });
    }
    return out;
  });
  const bucketUrl = `s3://${s3!.bucket}/`;
  for (const table of TABLES) expect(listed.filter((f) => f.table === table).length, `data files of ${table}`).toBeGreaterThan(0);
  const misplaced: string[] = [];
  const missing: string[] = [];
  for (const f of listed) {
    const dataLayout = new RegExp(`^${PREFIX}${SOURCE}/${f.table}/year=\\d{4}/month=\\d{1,2}/ducklake-[0-9a-f-]+\\.parquet$`);
    const deleteLayout = new RegExp(`^${PREFIX}${SOURCE}/${f.table}/(.+/)?ducklake-[0-9a-f-]+-delete\\.parquet$`);
    for (const [file, layout] of [[f.data, dataLayout], ...(f.del ? [[f.del, deleteLayout] as const] : [])] as const) {
      const key = file.startsWith(bucketUrl) ? file.slice(bucketUrl.length) : undefined;
      if (key === undefined || !layout.test(key)) misplaced.push(file);
      if (key !== undefined && !objects.has(key)) missing.push(key);
    }
  }
  expect(missing, 'files DuckLake lists that are not objects in the bucket').toEqual([]);
  expect(misplaced, `files not under ${bucketUrl}${PREFIX}<source>/<table>/(year=YYYY/month=M/ for data files)`).toEqual([]);
  return { listed: listed.length, deletes: listed.filter((f) => f.del).length, objects: objects.size };
}

beforeAll(async () => {
  const services = await startLakeServices();
  if ('skip' in services) return void (skip = services.skip);
  ({ pg, s3 } = services);
  // A password as operators have them, with characters a URL reserves: the config takes it from
  // ${PGPASSWORD} into postgres://user:${PGPASSWORD}@… as it is.
  pgBin = (await promisify(execFile)('bash', [path.resolve(import.meta.dirname, '../../scripts/ensure-postgres.sh')], { encoding: 'utf8' })).stdout.trim();
  const password = `${pg!.password}/#?@%2F' x`;
  await promisify(execFile)(path.join(pgBin, 'psql'), ['-h', '127.0.0.1', '-p', String(pg!.port), '-U', pg!.user, '-d', pg!.database, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `ALTER ROLE ${pg!.user} PASSWORD '${password.replace(/'/g, "''")}'`], {
    env: { ...process.env, PGPASSWORD: pg!.password },
  });
  pg!.password = password;
  ct = await startCommercetools({ seed: 1515, counts: COUNTS });
  childEnv = {
    PGPASSWORD: pg!.password,
    S3_ENDPOINT: s3!.endpoint,
    AWS_ACCESS_KEY_ID: s3!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3!.secretAccessKey,
    CT_CLIENT_SECRET: String(sourceConfig(ct).clientSecret),
    // Everything the workers say, at the most talkative level, for the redaction check.
    SLUICE_LOG_FORMAT: 'json',
    SLUICE_LOG_LEVEL: 'debug',
  };
  for (const d of Object.values(dirs)) writeConfig(d);
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: 'default' });
  await Promise.all([startWorker('a', dirs.a), startWorker('b', dirs.b)]);
}, 1_800_000);

afterAll(async () => {
  // LAKE_TEST_LOGS=DIR keeps the workers' logs (JSON, debug level) for a failure's investigation.
  if (process.env.LAKE_TEST_LOGS) for (const w of workers) fs.writeFileSync(path.join(process.env.LAKE_TEST_LOGS, `worker-${w.name}.log`), w.out());
  await Promise.all(
    workers.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
          child.once('exit', () => (clearTimeout(t), resolve()));
          child.kill('SIGTERM');
        }),
    ),
  );
  await connection?.close();
  await ct?.close();
  await Promise.all([pg?.stop(), s3?.stop()]);
  fs.rmSync(base, { recursive: true, force: true });
}, 120_000);

describe('scale-out on DuckLake: PostgreSQL catalog, S3 data, two worker processes', () => {
  let firstCounts: Record<string, number> = {};
  /** The later tests build on the first sync. */
  const needFirstSync = () => {
    if (Object.keys(firstCounts).length !== TABLES.length) throw new Error('the first sync did not land every table (see the first test); nothing to check');
  };

  it('a sync of every table through two workers lands exact data; every data file DuckLake lists is in the bucket, by month', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const tables = await sync();
    firstCounts = await expectExact('first sync');
    for (const t of tables) expect(t.rowsWritten, `${t.table}: rows written`).toBe(firstCounts[t.table]);

    // Both workers took part: activities ran in two processes with two local warehouse paths.
    const runs = await activityRuns();
    const identities = new Set(runs.filter((r) => r.activity === 'extractTable' || r.activity === 'commitTable').map((r) => r.identity));
    expect(identities.size, `workers that ran extracts/commits: ${[...identities].join(', ')}`).toBe(2);

    const { listed, objects } = await checkFiles();
    // Nothing of the lake went to the workers' local disks: only staging and spill space live there.
    for (const d of [dirs.a, dirs.b]) expect(filesUnder(path.join(d, 'wh')).filter((f) => f.endsWith('.parquet')), `Parquet files under ${d}`).toEqual([]);
    console.info(
      `lake scale-out: ${Object.values(firstCounts).reduce((a, b) => a + b, 0)} rows in ${TABLES.length} tables, ${listed} data files listed by DuckLake, ${objects} objects in the bucket; ` +
        `activities per worker: ${[...identities].map((id) => `${id}: ${runs.filter((r) => r.identity === id).length}`).join(', ')}; ` +
        `commits retried on catalog contention: ${workers.reduce((n, w) => n + (w.out().match(/catalog busy, commit retried/g) ?? []).length, 0)}`,
    );
    // Each commit ran once, on the machine holding its staged extract.
    expect(commitsRetried(runs), 'commits that needed another attempt (staged files on the other worker?)').toEqual([]);
  }, 1_200_000);

  it('`sluice query` and `sluice status` work from a third directory', async (ctx) => {
    if (skip) return ctx.skip(skip);
    needFirstSync();
    const [counts] = await query<{ n: number; ids: number }>(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM ${SOURCE}.orders`);
    expect(counts).toEqual({ n: COUNTS.orders, ids: COUNTS.orders });
    const syncs = await query<{ n: number }>(`SELECT count(*) AS n FROM sluice.syncs WHERE source = '${SOURCE}' AND outcome = 'succeeded'`);
    expect(syncs).toEqual([{ n: TABLES.length }]);

    const st = await cli(['status', '--json']);
    expect(st.code, st.stderr).toBe(0);
    const rows = JSON.parse(st.stdout) as { table: string; outcome: string; rows: number; snapshot: number | null; cursor: string | null }[];
    expect(rows.map((r) => r.table).sort()).toEqual([...TABLES].sort());
    for (const r of rows) {
      expect(r, `status of ${r.table}`).toMatchObject({ outcome: 'succeeded', rows: firstCounts[r.table] });
      expect(r.snapshot, `snapshot of ${r.table}`).toEqual(expect.any(Number));
      expect(r.cursor, `cursor of ${r.table}`).toEqual(expect.any(String));
    }
    const text = await cli(['status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(SOURCE);
  }, 300_000);

  it('a second incremental sync after changes at the vendor merges them', async (ctx) => {
    if (skip) return ctx.skip(skip);
    needFirstSync();
    const changed: Partial<Record<Endpoint, { updated: string[]; inserted: string[] }>> = {};
    for (const endpoint of ['orders', 'customers', 'payments', 'inventory'] as const) {
      const ids = ct.store.ids_(endpoint);
      const updated = [ids[3]!, ids[17]!, ids[40]!, ids[ids.length - 1]!];
      for (const id of updated) ct.store.update(endpoint, id, { custom: { note: `changed by the scale-out test` } });
      const inserted = [0, 1, 2].map(() => String(ct.store.insert(endpoint).id));
      changed[endpoint] = { updated, inserted };
    }
    const earlier = new Set((await activityRuns()).map((r) => r.runId));
    const tables = await sync();
    const counts = await expectExact('second sync');
    for (const [endpoint, c] of Object.entries(changed)) {
      const table = tableOf(endpoint as Endpoint);
      expect(counts[table], `${table}: rows after the merge`).toBe(firstCounts[table]! + c.inserted.length);
      const t = tables.find((x) => x.table === table)!;
      // Incremental: the changed and new records (and any re-read at the saved cursor), not the whole table.
      expect(t.rowsWritten, `${table}: rows written by the incremental sync`).toBeGreaterThanOrEqual(c.updated.length + c.inserted.length);
      expect(t.rowsWritten, `${table}: rows written by the incremental sync`).toBeLessThan(firstCounts[table]!);
      const rows = await query<{ id: string; custom: string | null }>(`SELECT id, custom::VARCHAR AS custom FROM ${SOURCE}.${table} WHERE id IN (${c.updated.map((id) => `'${id}'`).join(', ')})`);
      expect(rows.length).toBe(c.updated.length);
      for (const r of rows) expect(r.custom, `${table} ${r.id}: the change`).toContain('changed by the scale-out test');
    }
    for (const table of TABLES.filter((t) => !Object.keys(changed).map((e) => tableOf(e as Endpoint)).includes(t))) expect(counts[table]).toBe(firstCounts[table]);
    // The merges wrote new data files and delete files for the rows they replaced: all in the bucket.
    const files = await checkFiles();
    expect(files.deletes, 'data files with a delete file after the merges').toBeGreaterThan(0);
    console.info(`lake scale-out, second sync: ${files.listed} data files (${files.deletes} with a delete file), ${files.objects} objects in the bucket`);
    const syncs = await query<{ n: number }>(`SELECT count(*) AS n FROM sluice.syncs WHERE source = '${SOURCE}' AND outcome = 'succeeded'`);
    expect(syncs).toEqual([{ n: 2 * TABLES.length }]);
    expect(commitsRetried((await activityRuns()).filter((r) => !earlier.has(r.runId))), 'commits that needed another attempt (staged files on the other worker?)').toEqual([]);
  }, 1_200_000);

  it('neither the catalog password nor the bucket secret appears in outputs, status, Temporal histories, the catalog or any file', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const secrets = { 'PostgreSQL password': pg!.password, 'S3 secret key': s3!.secretAccessKey };
    const st = await cli(['status', '--json']);
    expect(st.code, st.stderr).toBe(0);

    // Temporal: every workflow of this task queue, whole histories.
    const histories: string[] = [];
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) {
      ids.push(w.workflowId);
      histories.push(historyText(await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory()).join('\n'));
    }
    expect(ids).toEqual(expect.arrayContaining([`sluice:${SOURCE}`, ...TABLES.map((t) => `sluice:${SOURCE}:${t}`)]));

    // The catalog: a plain-text dump of the PostgreSQL database (every DuckLake table, commit messages, the sync log).
    const dump = (
      await promisify(execFile)(path.join(pgBin, 'pg_dump'), ['-h', '127.0.0.1', '-p', String(pg!.port), '-U', pg!.user, '-d', pg!.database, '--no-owner'], {
        encoding: 'utf8',
        env: { ...process.env, PGPASSWORD: pg!.password },
        maxBuffer: 256 * 1024 * 1024,
      })
    ).stdout;
    // (the dump has the lake in it, or the grep proves nothing)
    expect(dump).toContain('ducklake_snapshot');
    expect(dump).toContain(`sync ${SOURCE}.orders`);

    // Files: the three local directories (configs hold only ${…} references) and every object in the bucket.
    const localFiles = Object.values(dirs).flatMap(filesUnder);
    const objects = await s3!.listObjects('');
    const bucket: string[] = [];
    for (const key of objects) {
      const r = await s3!.request('GET', `/${s3!.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`);
      expect(r.status, `GET ${key}`).toBe(200);
      bucket.push(r.body);
    }

    const workerOut = workers.map((w) => w.out()).join('\n');
    expect(workerOut, 'the workers logged JSON at debug level').toContain('"level"');
    const places: Record<string, string> = {
      'worker output': workerOut,
      'CLI output': cliOutput.join('\n'),
      'sluice status --json': st.stdout,
      'Temporal histories': histories.join('\n'),
      'the PostgreSQL catalog (pg_dump)': dump,
      'objects in the bucket': bucket.join('\n'),
    };
    const leaks: string[] = [];
    for (const [what, secret] of Object.entries(secrets)) {
      for (const [where, text] of Object.entries(places)) if (text.includes(secret)) leaks.push(`${what} in ${where}`);
      for (const f of localFiles) if (fs.readFileSync(f).includes(secret)) leaks.push(`${what} in ${f}`);
    }
    expect(leaks).toEqual([]);
    console.info(`lake scale-out redaction: ${Object.keys(secrets).length} secrets, ${histories.length} histories, ${Math.round(dump.length / 1024)} kB of catalog dump, ${localFiles.length} local files, ${objects.length} objects checked`);
  }, 300_000);
});
