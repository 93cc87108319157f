import './allocator'; // before @duckdb/node-api: see allocator.ts
import type { DuckDBConnection } from '@duckdb/node-api';

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
