import type { DuckDBConnection } from '@duckdb/node-api';
import { rows } from './duck';
import { openLake, WarehouseMissingError, type LakeSession } from './lake';
import { LAKE, NAME_PATTERN, type WarehousePaths } from './paths';
import { withLakeRetry } from './retry';
import { quoteIdent as q, quoteLiteral as lit } from './schema';
import { lakeTables, readSyncs, readTableState, STATE_SCHEMA, type SyncRecord, type TableState } from './state';

/** A table of the lake with what `sluice status` and the alerts need to know of it. */
export interface LakeTable extends TableState {
  source: string;
  table: string;
  rows: number;
  /** The snapshot its last committed sync (or rollback) created. */
  snapshot?: number;
}

/** Every table of the warehouse with its state; empty when there is no warehouse yet. */
export function listTables(paths: WarehousePaths): Promise<LakeTable[]> {
  return ifWarehouse(paths, [], describeTables);
}

export async function describeTables(conn: DuckDBConnection): Promise<LakeTable[]> {
  const snapshots = await tableSnapshots(conn);
  const out: LakeTable[] = [];
  for (const { source, table } of await lakeTables(conn)) {
    const state = await readTableState(conn, source, table);
    const n = Number((await rows(conn, `SELECT count(*) AS n FROM ${q(source)}.${q(table)}`))[0]!.n);
    out.push({ source, table, rows: n, snapshot: snapshots.get(`${source}.${table}`), ...state });
  }
  return out;
}

/** The newest snapshot whose commit named each table (commits carry source and table in their extra info). */
async function tableSnapshots(conn: DuckDBConnection): Promise<Map<string, number>> {
  const r = await rows(
    conn,
    `SELECT json_extract_string(commit_extra_info, '$.source') AS source, json_extract_string(commit_extra_info, '$.table') AS "table", max(snapshot_id) AS snapshot
     FROM ${LAKE}.snapshots() WHERE commit_extra_info IS NOT NULL AND json_valid(commit_extra_info) GROUP BY 1, 2`,
  );
  return new Map(r.filter((x) => x.source && x.table).map((x) => [`${x.source}.${x.table}`, Number(x.snapshot)]));
}

/** A view's SQL without its `CREATE [TEMP] VIEW name AS` head. */
const viewBody = (sql: string) => sql.replace(/^\s*CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+|TEMPORARY\s+)?VIEW\s+("[^"]*"|[^\s(])+\s+AS\s+/i, '').trim();

/** A view a connector defines over its tables (Shopify's order_events, PostHog's funnel…). */
export interface ExtraView {
  schema: string;
  name: string;
  sql: string;
}

/**
 * Makes the lake's views match the connectors' definitions: each view is created (or replaced when its
 * SQL changed) in the lake itself, so every DuckDB client that attaches it sees them. A view whose
 * inputs are not synced yet does not bind and is skipped until a later commit. Views of schemas that
 * no source owns any more are left alone (they may be the user's own).
 */
export async function syncViews(conn: DuckDBConnection, views: ExtraView[]): Promise<{ created: string[]; skipped: string[] }> {
  const existing = new Map(
    (await rows(conn, `SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal AND database_name = ${lit(LAKE)}`)).map((v) => [`${v.schema_name}.${v.view_name}`, String(v.sql)]),
  );
  const created: string[] = [];
  const skipped: string[] = [];
  for (const v of views) {
    if (!NAME_PATTERN.test(v.schema) || !NAME_PATTERN.test(v.name) || v.schema === STATE_SCHEMA) continue;
    const key = `${v.schema}.${v.name}`;
    try {
      // DuckDB keeps a view's SQL as it re-renders it: render ours the same way (a temporary view, no
      // snapshot) and leave the lake alone when nothing changed — a needless CREATE OR REPLACE is a
      // schema change in every commit's snapshot.
      await conn.run(`CREATE OR REPLACE TEMP VIEW _sluice_view_probe AS ${v.sql}`);
      const [probe] = await rows(conn, `SELECT sql FROM duckdb_views() WHERE database_name = 'temp' AND view_name = '_sluice_view_probe'`);
      await conn.run('DROP VIEW temp._sluice_view_probe');
      const now = existing.get(key);
      if (now !== undefined && viewBody(now) === viewBody(String(probe?.sql))) continue;
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(v.schema)}`);
      await conn.run(`CREATE OR REPLACE VIEW ${q(v.schema)}.${q(v.name)} AS ${v.sql}`);
      created.push(key);
    } catch {
      skipped.push(key);
    }
  }
  return { created, skipped };
}

/** What the next sync of a table starts from; `{ exists: false }` when there is no warehouse yet. */
export function tableState(paths: WarehousePaths, source: string, table: string): Promise<TableState> {
  return ifWarehouse(paths, { exists: false }, (conn) => readTableState(conn, source, table));
}

/**
 * Reads the warehouse in a read-only session, or answers `none` when there is no warehouse yet. A
 * SQLite catalog answers "database is locked" to a reader while a writer commits: the read is retried.
 */
function ifWarehouse<T>(paths: WarehousePaths, none: T, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  return withLakeRetry(async () => {
    let session: LakeSession;
    try {
      session = await openLake(paths, { readOnly: true });
    } catch (err) {
      if (err instanceof WarehouseMissingError) return none;
      throw err;
    }
    try {
      return await fn(session.conn);
    } finally {
      session.close();
    }
  });
}

/** A table's sync log, newest first (empty when there is no warehouse yet). */
export function syncHistory(paths: WarehousePaths, source: string, table: string, limit = 100): Promise<SyncRecord[]> {
  return ifWarehouse(paths, [], (conn) => readSyncs(conn, { source, table, limit }));
}

/** When each table last synced successfully (`source.table` → ISO time), from the sync log alone. */
export function lastSuccesses(paths: WarehousePaths): Promise<Map<string, string>> {
  return ifWarehouse(paths, new Map<string, string>(), async (conn) => {
    if (!(await rows(conn, `SELECT 1 FROM duckdb_tables() WHERE database_name = ${lit(LAKE)} AND schema_name = ${lit(STATE_SCHEMA)} AND table_name = 'syncs'`)).length) return new Map();
    const r = await rows(conn, `SELECT source, "table", max(finished) AS at FROM ${STATE_SCHEMA}.syncs WHERE outcome = 'succeeded' GROUP BY 1, 2`);
    return new Map(r.map((x) => [`${x.source}.${x.table}`, new Date(String(x.at)).toISOString()]));
  });
}
