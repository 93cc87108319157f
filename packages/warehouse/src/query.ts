import './allocator'; // before @duckdb/node-api: see allocator.ts
import type { DuckDBValue } from '@duckdb/node-api';
import { openLake, WarehouseMissingError } from './lake';
import type { WarehousePaths } from './paths';

/**
 * Read-only SQL against the warehouse (`sluice query`). The lake is attached READ_ONLY, so no statement
 * can create, change or drop anything in it; statements that reach outside it (COPY … TO, ATTACH,
 * INSTALL, SET …) are refused before they reach DuckDB. Reading needs no lock: a sync may commit at the
 * same moment, and the query sees the snapshot that was current when it began.
 */
export class QueryError extends Error {}

const WRITE_STATEMENTS = /^\s*(copy|export|install|load|attach|detach|checkpoint|vacuum|set|reset|pragma|call)\b/i;

export interface QueryResult {
  columns: string[];
  types: string[];
  rows: unknown[][];
}

export async function queryWarehouse(paths: WarehousePaths, sql: string): Promise<QueryResult> {
  if (WRITE_STATEMENTS.test(sql) || /\bcopy\b[\s\S]*\bto\b\s*'/i.test(sql)) throw new QueryError('sluice query is read-only: COPY, EXPORT, ATTACH, SET and similar statements are not allowed');
  let session;
  try {
    session = await openLake(paths, { readOnly: true });
  } catch (err) {
    if (err instanceof WarehouseMissingError) throw new QueryError(err.message);
    throw err;
  }
  try {
    const result = await session.conn.runAndReadAll(sql);
    const columns = result.columnNames();
    const types = result.columnTypes().map((t) => t.alias ?? t.toString());
    return { columns, types, rows: result.getRows().map((r) => r.map((v) => toPlain(v))) };
  } catch (err) {
    throw new QueryError((err as Error).message);
  } finally {
    session.close();
  }
}

/** DuckDB values → JSON-friendly values: timestamps as ISO 8601, integers beyond 2^53 as strings. */
export function toPlain(v: DuckDBValue): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  const ctor = (v as object).constructor?.name ?? '';
  if (ctor === 'DuckDBTimestampTZValue' || ctor === 'DuckDBTimestampValue') {
    const micros = (v as unknown as { micros: bigint }).micros;
    const ms = Number(micros / 1000n);
    const frac = Number(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n);
    const iso = new Date(ms).toISOString();
    return `${iso.slice(0, 19)}.${String(frac).padStart(6, '0').replace(/0{1,3}$/, (z) => (z.length === 3 ? '' : z))}Z`.replace(/\.(\d{3})Z$/, '.$1Z');
  }
  if (ctor === 'DuckDBDecimalValue') return Number((v as { toString(): string }).toString());
  if (ctor === 'DuckDBListValue' || ctor === 'DuckDBArrayValue') return (v as unknown as { items: DuckDBValue[] }).items.map(toPlain);
  if (ctor === 'DuckDBStructValue') return Object.fromEntries(Object.entries((v as unknown as { entries: Record<string, DuckDBValue> }).entries).map(([k, x]) => [k, toPlain(x)]));
  return String(v);
}
