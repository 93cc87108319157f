import './allocator'; // before @duckdb/node-api: see allocator.ts
import fs from 'node:fs';
import { DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { WarehousePaths } from './paths';
import { listTables, syncsSql, tableViewSql } from './catalog';
import { quoteIdent as q } from './schema';

async function createViews(conn: DuckDBConnection, paths: WarehousePaths): Promise<void> {
  const tables = listTables(paths);
  for (const { source, table, manifest } of tables) {
    await conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(source)}`);
    await conn.run(`CREATE OR REPLACE VIEW ${q(source)}.${q(table)} AS ${tableViewSql(paths, manifest)}`);
  }
  await conn.run(`CREATE SCHEMA IF NOT EXISTS sluice; ${syncsSql(paths, tables)}`);
}

/**
 * Read-only SQL against the warehouse (`sluice query`). The catalog is opened READ_ONLY, so no
 * statement can create, change or drop anything in it; file-writing statements (COPY … TO, EXPORT)
 * are refused before they reach DuckDB.
 */
export class QueryError extends Error {}

const WRITE_STATEMENTS = /^\s*(copy|export|install|load|attach|detach|checkpoint|vacuum|set|pragma|call)\b/i;

export async function queryWarehouse(paths: WarehousePaths, sql: string): Promise<{ columns: string[]; types: string[]; rows: unknown[][] }> {
  if (!fs.existsSync(paths.catalog)) throw new QueryError(`no warehouse at ${paths.root} yet: run \`sluice sync\` first`);
  if (WRITE_STATEMENTS.test(sql) || /\bcopy\b[\s\S]*\bto\b\s*'/i.test(sql)) throw new QueryError('sluice query is read-only: COPY, EXPORT, ATTACH, SET and similar statements are not allowed');
  let instance: DuckDBInstance;
  let fromManifests = false;
  try {
    instance = await DuckDBInstance.create(paths.catalog, { access_mode: 'READ_ONLY' });
  } catch (err) {
    if (!/lock/i.test((err as Error).message)) throw err;
    // Another program holds warehouse.duckdb: the catalog is only views over the manifests, so
    // rebuild it in memory and answer anyway.
    instance = await DuckDBInstance.create(':memory:');
    fromManifests = true;
  }
  const conn = await instance.connect();
  if (fromManifests) await createViews(conn, paths);
  await conn.run(`SET TimeZone = 'UTC'`);
  try {
    const result = await conn.runAndReadAll(sql);
    const columns = result.columnNames();
    const types = result.columnTypes().map((t) => t.alias ?? t.toString());
    return { columns, types, rows: result.getRows().map((r) => r.map((v) => toPlain(v))) };
  } catch (err) {
    throw new QueryError((err as Error).message);
  } finally {
    conn.closeSync();
    instance.closeSync();
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
