import './allocator'; // before @duckdb/node-api: see allocator.ts
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import fs from 'node:fs';
import { collectJsGarbage } from './heap';

/**
 * An in-memory DuckDB used as the engine that turns staged NDJSON into Parquet. Memory is bounded
 * (DuckDB spills to a temp directory), so a table of any size commits with the same footprint.
 */
export async function openEngine(tempDir: string, opts: { memoryLimit?: string; threads?: number } = {}): Promise<{ conn: DuckDBConnection; close(): void; memoryLimitBytes: number }> {
  fs.mkdirSync(tempDir, { recursive: true });
  // Return the JS heap's garbage before DuckDB takes its own memory, so the two never add up.
  collectJsGarbage();
  const memoryLimit = opts.memoryLimit ?? process.env.SLUICE_DUCKDB_MEMORY ?? '256MB';
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: memoryLimit,
    threads: String(opts.threads ?? 2),
    temp_directory: tempDir,
    preserve_insertion_order: 'false',
    // A commit reads each Parquet file once per query and the engine lives for one commit: caching the
    // files' blocks only holds memory (~30 MB in a 1% merge of 1M orders).
    enable_external_file_cache: 'false',
  });
  const conn = await instance.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  return {
    conn,
    memoryLimitBytes: parseBytes(memoryLimit),
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

/** "384MB", "1GB", "512MiB" → bytes. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)?\s*$/i.exec(text);
  if (!m) throw new Error(`invalid memory size "${text}" (expected e.g. 384MB)`);
  const unit = (m[2] ?? 'B').toUpperCase().replace('IB', 'B');
  return Number(m[1]) * ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[unit] ?? 1);
}
