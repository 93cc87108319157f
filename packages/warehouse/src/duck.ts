import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import fs from 'node:fs';

/**
 * An in-memory DuckDB used as the engine that turns staged NDJSON into Parquet. Memory is bounded
 * (DuckDB spills to a temp directory), so a table of any size commits with the same footprint.
 */
export async function openEngine(tempDir: string, opts: { memoryLimit?: string; threads?: number } = {}): Promise<{ conn: DuckDBConnection; close(): void }> {
  fs.mkdirSync(tempDir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: opts.memoryLimit ?? process.env.SLUICE_DUCKDB_MEMORY ?? '384MB',
    threads: String(opts.threads ?? 2),
    temp_directory: tempDir,
    preserve_insertion_order: 'false',
  });
  const conn = await instance.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  return {
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

export async function scalar<T = unknown>(conn: DuckDBConnection, sql: string): Promise<T> {
  const r = await conn.runAndReadAll(sql);
  return r.getRows()[0]?.[0] as T;
}

export async function rows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRowObjectsJS() as Record<string, unknown>[];
}
