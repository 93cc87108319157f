import './allocator'; // before @duckdb/node-api: see allocator.ts
import { StatementType, type DuckDBConnection, type DuckDBResultReader, type DuckDBValue } from '@duckdb/node-api';
import { openLake, WarehouseMissingError } from './lake';
import type { WarehousePaths } from './paths';
import { quoteLiteral as lit } from './schema';
import { withLakeRetry } from './retry';

/**
 * Read-only SQL against the warehouse (`sluice query`). Only queries run (SELECT, DESCRIBE, SUMMARIZE,
 * and EXPLAIN of one): the text is parsed, and unless DuckDB's parser can serialise every statement as
 * a query, nothing is even bound (binding a CREATE TABLE already makes its directory); then each
 * statement's prepared type is checked again. COPY … TO, ATTACH, INSTALL, SET, CREATE … never execute. The lake is also attached READ_ONLY, so even a table function cannot
 * change it. Reading needs no lock: a sync may commit at the same moment, and the query sees the
 * snapshot that was current when it began.
 */
export class QueryError extends Error {}

const READ_STATEMENTS = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);
const REFUSED = 'sluice query is read-only: only queries run (COPY, EXPORT, ATTACH, SET, CREATE and similar statements are not allowed)';

export interface QueryResult {
  columns: string[];
  types: string[];
  rows: unknown[][];
}

/** A SQLite catalog answers "database is locked" to a reader while a writer commits: the query is retried. */
export function queryWarehouse(paths: WarehousePaths, sql: string): Promise<QueryResult> {
  return withLakeRetry(() => queryOnce(paths, sql));
}

async function queryOnce(paths: WarehousePaths, sql: string): Promise<QueryResult> {
  let session;
  try {
    session = await openLake(paths, { readOnly: true });
  } catch (err) {
    if (err instanceof WarehouseMissingError) throw new QueryError(err.message);
    throw err;
  }
  try {
    const result = await runReadOnly(session.conn, sql);
    const columns = result.columnNames();
    const types = result.columnTypes().map((t) => t.alias ?? t.toString());
    return { columns, types, rows: result.getRows().map((r) => r.map((v) => toPlain(v))) };
  } catch (err) {
    throw err instanceof QueryError ? err : new QueryError((err as Error).message);
  } finally {
    session.close();
  }
}

/** Refuses the batch unless every statement is a query, then runs them; the last one's rows are the answer. */
async function runReadOnly(conn: DuckDBConnection, sql: string): Promise<DuckDBResultReader> {
  const extracted = await conn.extractStatements(sql).catch((err: Error) => {
    throw new QueryError(err.message.replace(/^Failed to extract statements: /, '')); // DuckDB's Parser Error, as the user wrote it
  });
  if (extracted.count === 0) throw new QueryError('no SQL statement given');
  const body = extracted.count === 1 ? sql.replace(/^\s*EXPLAIN(\s+ANALYZE)?\s+/i, '') : sql;
  const parsed = await conn.runAndReadAll(`SELECT json_serialize_sql(${lit(body)})::JSON->>'error' AS e`);
  if (parsed.getRows()[0]?.[0] !== 'false') throw new QueryError(REFUSED);
  const prepared = [];
  for (let i = 0; i < extracted.count; i++) {
    const p = await extracted.prepare(i);
    if (!READ_STATEMENTS.has(p.statementType)) throw new QueryError(REFUSED);
    prepared.push(p);
  }
  let result: DuckDBResultReader | undefined;
  for (const p of prepared) result = await p.runAndReadAll();
  return result!;
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
