import './allocator'; // before @duckdb/node-api: see allocator.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { extensionOptions, loadExtensions, type WarehouseExtension } from './extensions';
import { collectJsGarbage } from './heap';
import { parseBytes } from './duck';
import { quoteLiteral as lit } from './schema';
import { LAKE, type WarehousePaths } from './paths';
import { withLakeRetry } from './retry';
import { catalogTurn } from './catalog-lock';
export { LAKE };
import { bootstrapState } from './state';

/**
 * A session on the warehouse's DuckLake: an in-memory DuckDB with the lake attached as `lake` and
 * made the default database, so `"<source>"."<table>"` and `sluice.syncs` resolve as users write them.
 * Secrets of the catalog and the bucket go into temporary DuckDB secrets, never into the ATTACH
 * string, so no DuckDB error can echo them.
 */

export interface LakeSession {
  conn: DuckDBConnection;
  memoryLimitBytes: number;
  close(): void;
}

export interface OpenOptions {
  readOnly?: boolean;
  memoryLimit?: string;
  threads?: number;
  /** Give the JS heap's garbage back before DuckDB takes its memory (commits). */
  collectGarbage?: boolean;
}

export class WarehouseMissingError extends Error {}

/**
 * httpfs retries a failed S3 request (5xx, 429, a reset connection, a timeout) by itself. Its default,
 * 3 retries after 0, 100 and 400 ms, rides out half a second of throttling; a longer burst of S3's
 * 503 SlowDown fails the write, and with it the whole commit, which Temporal then redoes from the start
 * (every file written again, the failed attempt's uploads left behind as orphans). 6 retries after 0,
 * 250, 500, 1000, 2000 and 4000 ms ride out ~7.5 s of it. Measured (SeaweedFS behind
 * test/s3-fault-proxy.ts refusing every write with 503 for a while, an INSERT writing 10 monthly
 * files): with the defaults bursts of 1, 2, 4 and 7 s failed the INSERT (0.5 s passed); with these
 * settings all of them passed (a 7 s burst cost 8 s). test/reliability/lake-faults.e2e.test.ts checks
 * it on a sync's commit. A hung request still costs http_timeout (30 s) per attempt: a dead endpoint
 * fails a commit after 7 × 30 s instead of 4 × 30 s, heartbeating all along.
 */
const S3_RETRIES = 'SET http_retries = 6; SET http_retry_wait_ms = 250; SET http_retry_backoff = 2';

/**
 * The S3 uploader buffers one multipart part per open file, sized max file size / 10,000 parts: ~76 MiB at
 * httpfs's default (800 GB), so three monthly files being written at once filled the 256 MB limit (a 420-order
 * sync through two workers ran out of memory once row groups were bounded and files began uploading before
 * they closed). 64 GB per file makes parts of 6.4 MB, above S3's 5 MiB minimum part size; a monthly file of a
 * table stays far below 64 GB.
 */
const S3_PARTS = "SET s3_uploader_max_filesize = '64GB'";

let sessions = 0;

export async function openLake(paths: WarehousePaths, opts: OpenOptions = {}): Promise<LakeSession> {
  const { catalog, data } = paths.lake;
  if (opts.readOnly && catalog.kind === 'sqlite' && !fs.existsSync(catalog.file)) throw new WarehouseMissingError(`no warehouse at ${paths.root} yet: run \`sluice sync\` first`);
  if (!opts.readOnly) {
    fs.mkdirSync(paths.root, { recursive: true });
    if (data.kind === 'local') fs.mkdirSync(data.dir, { recursive: true });
  }
  const release = catalog.kind === 'sqlite' ? await catalogTurn(catalog.file, !opts.readOnly) : () => undefined;
  try {
    return await open(paths, opts, release);
  } catch (err) {
    release();
    throw err;
  }
}

async function open(paths: WarehousePaths, opts: OpenOptions, release: () => void): Promise<LakeSession> {
  const { catalog, data } = paths.lake;
  if (opts.collectGarbage) collectJsGarbage();
  const memoryLimit = opts.memoryLimit ?? process.env.SLUICE_DUCKDB_MEMORY ?? '256MB';
  // Spill files of a session are of no use to the next one, and sessions of one process run side by side.
  // A reader may run where the warehouse path cannot be written (a read-only mount, another user's).
  const spill = path.join(opts.readOnly ? path.join(os.tmpdir(), 'sluice-spill') : paths.tmp, `${process.pid}-${++sessions}`);
  fs.mkdirSync(spill, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', {
    ...extensionOptions(),
    memory_limit: memoryLimit,
    threads: String(opts.threads ?? 2),
    temp_directory: spill,
    preserve_insertion_order: 'false',
    // A commit reads each Parquet file once per query and the engine lives for one commit: caching the
    // files' blocks only holds memory.
    enable_external_file_cache: 'false',
  });
  let conn: DuckDBConnection | undefined;
  try {
    conn = await instance.connect();
    await conn.run(`SET TimeZone = 'UTC'`); // partition values (year/month of a TIMESTAMPTZ) follow the session's zone
    const needed: WarehouseExtension[] = ['ducklake', catalog.kind === 'sqlite' ? 'sqlite_scanner' : 'postgres_scanner'];
    if (data.kind === 's3') needed.push('httpfs');
    await loadExtensions(conn, needed);
    if (data.kind === 's3') await conn.run(`${S3_RETRIES}; ${S3_PARTS}`);
    await createSecrets(conn, paths);
    await attach(conn, paths, Boolean(opts.readOnly));
    await conn.run(`USE ${LAKE}`);
    if (!opts.readOnly) await bootstrapState(conn);
  } catch (err) {
    conn?.closeSync();
    instance.closeSync();
    fs.rmSync(spill, { recursive: true, force: true });
    throw err;
  }
  const c = conn;
  return {
    conn: c,
    memoryLimitBytes: parseBytes(memoryLimit),
    close() {
      try {
        c.closeSync();
        instance.closeSync();
      } finally {
        fs.rmSync(spill, { recursive: true, force: true });
        release();
      }
    },
  };
}

/** Opens a session, runs `fn`, closes it. */
export async function withLake<T>(paths: WarehousePaths, opts: OpenOptions, fn: (s: LakeSession) => Promise<T>): Promise<T> {
  const s = await openLake(paths, opts);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

/**
 * Two processes attaching a new PostgreSQL catalog at once both create DuckLake's tables, and the
 * loser's CREATE fails ("duplicate key value violates unique constraint", "already exists"); attaching
 * again finds the lake the winner made. A read-only attach of a PostgreSQL catalog nobody has written
 * yet is refused by DuckLake: that is "no warehouse yet", as a missing SQLite file is.
 */
const CREATION_RACE = /Failed to initialize DuckLake[\s\S]*(already exists|duplicate key value)/i;
const NOT_CREATED = /creating a new DuckLake is explicitly disabled/i;

async function attach(conn: DuckDBConnection, paths: WarehousePaths, readOnly: boolean): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await withLakeRetry(() => conn.run(attachSql(paths, { readOnly })));
      return;
    } catch (err) {
      const message = (err as Error)?.message ?? '';
      if (readOnly && NOT_CREATED.test(message)) throw new WarehouseMissingError(`no warehouse in ${paths.describe()} yet: run \`sluice sync\` first`);
      if (i >= 6 || !CREATION_RACE.test(message)) throw err;
      await new Promise((r) => setTimeout(r, 100 * i + Math.random() * 100));
    }
  }
}

function attachSql(paths: WarehousePaths, o: { readOnly: boolean }): string {
  const { catalog, data } = paths.lake;
  const target = catalog.kind === 'sqlite' ? `ducklake:sqlite:${catalog.file}` : 'ducklake:postgres:';
  const options = [
    // Given on every attach, so a warehouse directory that moved still finds its files.
    `DATA_PATH ${lit(data.kind === 'local' ? data.dir : data.url)}`,
    ...(catalog.kind === 'postgres' ? [`METADATA_PARAMETERS MAP {'SECRET': 'sluice_catalog'}`] : []),
    ...(o.readOnly ? ['READ_ONLY'] : []),
  ];
  return `ATTACH ${lit(target)} AS ${LAKE} (${options.join(', ')})`;
}

/** The one line any DuckDB client needs to read the warehouse (README, `sluice status`). */
export function attachHint(paths: WarehousePaths): string {
  const { catalog, data } = paths.lake;
  if (catalog.kind === 'sqlite') return `ATTACH 'ducklake:sqlite:${catalog.file}' AS lake (READ_ONLY); USE lake;`;
  return `ATTACH 'ducklake:postgres:dbname=${catalog.database} host=${catalog.host} port=${catalog.port} user=${catalog.user}' AS lake (READ_ONLY${data.kind === 's3' ? '' : `, DATA_PATH '${data.dir}'`}); USE lake;`;
}

async function createSecrets(conn: DuckDBConnection, paths: WarehousePaths): Promise<void> {
  const { catalog, data, s3 } = paths.lake;
  if (catalog.kind === 'postgres') {
    const parts = [`TYPE postgres`, `HOST ${lit(catalog.host)}`, `PORT ${catalog.port}`, `DATABASE ${lit(catalog.database)}`, `USER ${lit(catalog.user)}`];
    if (catalog.password !== undefined) parts.push(`PASSWORD ${lit(catalog.password)}`);
    await conn.run(`CREATE OR REPLACE TEMPORARY SECRET sluice_catalog (${parts.join(', ')})`);
  }
  if (data.kind === 's3') {
    const o = s3 ?? {};
    const parts = [`TYPE s3`];
    if (o.accessKeyId) parts.push(`KEY_ID ${lit(o.accessKeyId)}`);
    if (o.secretAccessKey) parts.push(`SECRET ${lit(o.secretAccessKey)}`);
    if (o.sessionToken) parts.push(`SESSION_TOKEN ${lit(o.sessionToken)}`);
    if (o.region) parts.push(`REGION ${lit(o.region)}`);
    if (o.endpoint) parts.push(`ENDPOINT ${lit(o.endpoint.replace(/^https?:\/\//, ''))}`);
    parts.push(`URL_STYLE ${lit(o.urlStyle ?? (o.endpoint ? 'path' : 'vhost'))}`);
    const loopback = o.endpoint ? /^(https?:\/\/)?(127\.|localhost|\[::1\])/.test(o.endpoint) : false;
    parts.push(`USE_SSL ${o.useSsl ?? (o.endpoint?.startsWith('http://') || loopback ? false : true)}`);
    if (!o.accessKeyId) parts.push(`PROVIDER credential_chain`);
    await conn.run(`CREATE OR REPLACE TEMPORARY SECRET sluice_data (${parts.join(', ')})`);
  }
}

