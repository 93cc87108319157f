// extensions.ts first: it sets DuckDB's allocator configuration before @duckdb/node-api loads.
import { extensionOptions } from '../packages/warehouse/src/extensions';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestPostgres } from './pg-server';
import type { TestS3 } from './s3-server';
import { startLakeServices } from './lake-services';
import { startFaultProxy, type FaultProxy } from './s3-fault-proxy';

/**
 * Proves the scale-out test infrastructure: a real PostgreSQL as DuckLake's catalog, a real S3 server
 * (SeaweedFS) for its Parquet files, and the fault proxy between DuckDB's httpfs and S3, all on
 * 127.0.0.1. The servers are installed/built by scripts/ensure-postgres.sh and
 * scripts/ensure-seaweedfs.sh; the first run on a machine builds weed from Go modules (~5-10 minutes).
 * Where they cannot be had the tests skip saying why, except in CI, where that is a failure.
 */

let pg: TestPostgres | undefined;
let s3: TestS3 | undefined;
let proxy: FaultProxy | undefined;
let skip = '';
const open: { instance: DuckDBInstance; conn: DuckDBConnection }[] = [];
const PREFIX = 'wh/';

beforeAll(async () => {
  const services = await startLakeServices();
  if ('skip' in services) return void (skip = services.skip);
  ({ pg, s3 } = services);
  proxy = await startFaultProxy(s3!.endpoint);
}, 1_800_000);

afterAll(async () => {
  for (const { conn, instance } of open) {
    conn.closeSync();
    instance.closeSync();
  }
  await proxy?.close();
  await Promise.all([pg?.stop(), s3?.stop()]);
});

/** A DuckDB of its own (as a separate worker would have) with S3 reached at `endpoint`, and the lake attached. */
async function lake(endpoint: string, attachOptions: string): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:', extensionOptions());
  const conn = await instance.connect();
  open.push({ instance, conn });
  for (const ext of ['ducklake', 'postgres_scanner', 'httpfs']) await conn.run(`LOAD ${ext}`);
  await conn.run(
    `CREATE TEMPORARY SECRET s3sec (TYPE s3, KEY_ID '${s3!.accessKeyId}', SECRET '${s3!.secretAccessKey}', ENDPOINT '${endpoint}', URL_STYLE 'path', USE_SSL false, REGION '${s3!.region}')`,
  );
  await conn.run(`CREATE TEMPORARY SECRET pgsecret (TYPE postgres, HOST '${pg!.host}', PORT ${pg!.port}, DATABASE '${pg!.database}', USER '${pg!.user}', PASSWORD '${pg!.password}')`);
  await conn.run(`ATTACH 'ducklake:postgres:' AS lake (${attachOptions}METADATA_PARAMETERS MAP {'SECRET': 'pgsecret'})`);
  return conn;
}

async function rows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

/** The table after the writes of the first two tests: 46 orders. */
const FINAL = { n: 46, total: 627.5, paid: 11 };
const TOTALS = `SELECT count(*)::INT AS n, sum(amount)::DOUBLE AS total, (count(*) FILTER (status = 'paid'))::INT AS paid FROM lake.orders`;

describe('scale-out infrastructure: DuckLake with a PostgreSQL catalog and S3 data', () => {
  let writer: DuckDBConnection;

  it('a partitioned table takes an INSERT and a MERGE; its Parquet files land in the bucket and the catalog in PostgreSQL', async (ctx) => {
    if (skip) return ctx.skip(skip);
    writer = await lake(s3!.endpoint, `DATA_PATH 's3://${s3!.bucket}/${PREFIX}', `);
    await writer.run(`CREATE TABLE lake.orders (id BIGINT, ts TIMESTAMP, amount DECIMAL(12,2), status VARCHAR)`);
    await writer.run(`ALTER TABLE lake.orders SET PARTITIONED BY (year(ts), month(ts))`);
    // Orders 1-20, one a week from mid-January 2024: months 1-6.
    await writer.run(`INSERT INTO lake.orders SELECT i, TIMESTAMP '2024-01-15' + INTERVAL (i * 7) DAY, i * 1.5, 'open' FROM range(1, 21) t(i)`);
    // 15-20 change (paid, new amount), 21-25 are new (into month 6 and a new month 7).
    await writer.run(
      `MERGE INTO lake.orders o USING (SELECT i AS id, TIMESTAMP '2024-01-15' + INTERVAL (i * 7) DAY AS ts, i * 2.0 AS amount, 'paid' AS status FROM range(15, 26) t(i)) s
       ON o.id = s.id
       WHEN MATCHED THEN UPDATE SET amount = s.amount, status = s.status
       WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.ts, s.amount, s.status)`,
    );
    // 1..14 at 1.5 each, 15..25 at 2.0 each.
    expect(await rows(writer, TOTALS)).toEqual([{ n: 25, total: 1.5 * 105 + 2 * 220, paid: 11 }]);
    expect(await rows(writer, `SELECT id, amount::DOUBLE AS amount, status FROM lake.orders WHERE id IN (14, 15, 25) ORDER BY id`)).toEqual([
      { id: '14', amount: 21, status: 'open' },
      { id: '15', amount: 30, status: 'paid' },
      { id: '25', amount: 50, status: 'paid' },
    ]);

    const keys = await s3!.listObjects(PREFIX);
    const parquet = keys.filter((k) => k.endsWith('.parquet'));
    expect(parquet.length, `objects under ${PREFIX}: ${keys.join(', ')}`).toBeGreaterThan(0);
    for (const k of parquet) expect(k).toMatch(/^wh\/main\/orders\/year=2024\/month=\d+\/ducklake-[0-9a-f-]+(-delete)?\.parquet$/);
    const months = new Set(parquet.map((k) => Number(/month=(\d+)/.exec(k)![1])));
    expect([...months].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    // The catalog is PostgreSQL's: every live data file it lists is an object in the bucket.
    await writer.run(`ATTACH '' AS pgcat (TYPE postgres, SECRET pgsecret, READ_ONLY)`);
    const files = (await rows(writer, `SELECT path FROM pgcat.public.ducklake_data_file WHERE end_snapshot IS NULL`)).map((r) => String(r.path));
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const f of files) expect(parquet.some((k) => k.endsWith(f)), `${f} in the bucket`).toBe(true);
  });

  it('a second DuckDB attaches the same lake from the catalog alone, commits, and the first sees its commits', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const other = await lake(s3!.endpoint, ''); // DATA_PATH comes from the catalog
    expect(await rows(other, TOTALS)).toEqual([{ n: 25, total: 597.5, paid: 11 }]);
    await other.run(`INSERT INTO lake.orders SELECT i, TIMESTAMP '2024-08-01', 1, 'open' FROM range(26, 46) t(i)`);
    expect(await rows(writer, TOTALS)).toEqual([{ n: 45, total: 617.5, paid: 11 }]);
    expect((await s3!.listObjects(`${PREFIX}main/orders/year=2024/month=8/`)).length).toBe(1);
    // Observed: DuckLake inlines a commit of at most 10 rows (its default DATA_INLINING_ROW_LIMIT) into
    // the catalog's tables instead of writing a Parquet file: small commits touch only PostgreSQL.
    await other.run(`INSERT INTO lake.orders VALUES (46, TIMESTAMP '2024-09-01', 10, 'open')`);
    expect(await rows(writer, TOTALS)).toEqual([{ n: 46, total: 627.5, paid: 11 }]);
    expect(await s3!.listObjects(`${PREFIX}main/orders/year=2024/month=9/`)).toEqual([]);
    expect((await rows(writer, `SELECT count(*)::INT AS n FROM pgcat.public.ducklake_inlined_data_tables`))[0]!.n).toBeGreaterThan(0);
  });

  describe('through the fault proxy', () => {
    let reader: DuckDBConnection;
    const parquetGet = (r: { method: string; path: string }) => r.method === 'GET' && r.path.includes('.parquet');
    /** What the proxy did with each Parquet request of the last query, in order. */
    const outcomes = () => proxy!.log.filter(parquetGet).map((l) => `${l.outcome}${l.status ? ` ${l.status}` : ''}`);

    beforeAll(async () => {
      if (skip) return;
      reader = await lake(proxy!.endpoint, '');
      // One thread: requests in a fixed order, so a fault hits one request and its retries.
      // No file cache: every query reads S3 again (DuckDB would otherwise answer from the first read).
      await reader.run(`SET threads = 1`);
      await reader.run(`SET enable_external_file_cache = false`);
    });

    it('reads through the proxy unchanged (SigV4 signed for the proxy verifies at the server)', async (ctx) => {
      if (skip) return ctx.skip(skip);
      proxy!.reset();
      expect(await rows(reader, TOTALS)).toEqual([FINAL]);
      expect(proxy!.stats.forwarded).toBeGreaterThan(0);
      expect(proxy!.stats.failed + proxy!.stats.stalled).toBe(0);
    });

    it('S3 503s: httpfs retries a request (http_retries = 3, i.e. 4 attempts) and then succeeds', async (ctx) => {
      if (skip) return ctx.skip(skip);
      expect(await rows(reader, `SELECT current_setting('http_retries')::INT AS r`)).toEqual([{ r: 3 }]);
      proxy!.reset();
      proxy!.failNext(3, { status: 503, when: parquetGet });
      expect(await rows(reader, TOTALS)).toEqual([FINAL]);
      expect(proxy!.stats.failed).toBe(3);
      expect(outcomes().slice(0, 4)).toEqual(['failed 503', 'failed 503', 'failed 503', 'forwarded 206']);
      // The same object, four times.
      const attempts = proxy!.log.filter(parquetGet).slice(0, 4);
      expect(new Set(attempts.map((l) => l.path)).size).toBe(1);
      // Backoff between attempts (http_retry_wait_ms = 100, http_retry_backoff = 4), for the record.
      console.log(`503 retries: attempts at +${attempts.map((l) => l.at - attempts[0]!.at).join(', +')} ms`);
    });

    it('S3 503s past the retries: the query fails naming the object, the status and S3 error code', async (ctx) => {
      if (skip) return ctx.skip(skip);
      proxy!.reset();
      proxy!.failNext(4, { status: 503, when: parquetGet });
      const err = await rows(reader, TOTALS).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/HTTP GET error reading 'http:\/\/127\.0\.0\.1:\d+\/lake\/wh\/main\/orders\/.*\.parquet'.*HTTP 503/s);
      expect(err?.message).toContain('SlowDown');
      expect(outcomes()).toEqual(['failed 503', 'failed 503', 'failed 503', 'failed 503']);
      // Nothing left pending: the next query is clean.
      proxy!.reset();
      expect(await rows(reader, TOTALS)).toEqual([FINAL]);
    });

    it('S3 hangs: a request stalled past http_timeout is retried; stalled on every attempt, the query fails with a timeout', async (ctx) => {
      if (skip) return ctx.skip(skip);
      await reader.run(`SET http_timeout = 2`); // seconds
      try {
        proxy!.reset();
        proxy!.stallNext(1, 60_000, { when: parquetGet });
        let t = Date.now();
        expect(await rows(reader, TOTALS)).toEqual([FINAL]);
        expect(Date.now() - t).toBeGreaterThanOrEqual(1900);
        expect(outcomes().slice(0, 2)).toEqual(['stalled', 'forwarded 206']);

        proxy!.reset();
        proxy!.stallNext(4, 60_000, { when: parquetGet });
        t = Date.now();
        const err = await rows(reader, TOTALS).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err?.message).toMatch(/Timeout was reached.*HTTP GET to 'http:\/\/127\.0\.0\.1:\d+\/lake\/wh\/main\/orders\/.*\.parquet'/s);
        expect(Date.now() - t).toBeGreaterThanOrEqual(4 * 1900);
        expect(outcomes()).toEqual(['stalled', 'stalled', 'stalled', 'stalled']);
      } finally {
        await reader.run(`RESET http_timeout`);
      }
    });
  });
});
