import './allocator'; // before @duckdb/node-api: see allocator.ts
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { readManifest, type DataFile, type Manifest } from './manifest';
import { quoteIdent as q, quoteLiteral as lit } from './schema';
import { NAME_PATTERN, type WarehousePaths } from './paths';

/**
 * `warehouse.duckdb` is a catalog of views over the Parquet files each manifest lists; it holds no data
 * of its own, so it can always be rebuilt from the manifests. It is opened only for the moment of a
 * refresh, and a refresh that finds it locked by another program (a user's DuckDB shell) is retried and
 * then skipped: the sync still succeeds, the views are refreshed next time.
 */
export interface ExtraView {
  schema: string;
  name: string;
  sql: string;
}

export function listTables(paths: WarehousePaths): { source: string; table: string; manifest: Manifest }[] {
  const out: { source: string; table: string; manifest: Manifest }[] = [];
  if (!fs.existsSync(paths.root)) return out;
  for (const source of fs.readdirSync(paths.root)) {
    if (!NAME_PATTERN.test(source)) continue;
    const dir = path.join(paths.root, source);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const table of fs.readdirSync(dir)) {
      if (!NAME_PATTERN.test(table)) continue;
      const manifest = readManifest(path.join(dir, table, '_manifest.json'));
      if (manifest) out.push({ source, table, manifest });
    }
  }
  return out;
}

export function tableViewSql(paths: WarehousePaths, m: Manifest): string {
  const cols = [...m.schema, { name: '_sluice_synced_at', type: 'TIMESTAMPTZ' }, { name: '_sluice_sync_id', type: 'VARCHAR' }];
  if (m.files.length === 0) return `SELECT ${cols.map((c) => `CAST(NULL AS ${c.type}) AS ${q(c.name)}`).join(', ')} WHERE false`;
  const dir = paths.table(m.source, m.table);
  // Files written by one schema are read as one list; union_by_name (which opens every file's footer
  // when the view is bound: ~80 MB for 1M orders in 24 monthly files) only joins lists that differ,
  // and reads files whose columns were not recorded.
  const groups = new Map<string, DataFile[]>();
  for (const f of m.files) groups.set(f.columnsKey ?? '', [...(groups.get(f.columnsKey ?? '') ?? []), f]);
  const reads = [...groups].map(([key, files]) => `SELECT * FROM read_parquet([${files.map((f) => lit(path.join(dir, f.path))).join(', ')}]${key ? '' : ', union_by_name = true'})`);
  const from = reads.length === 1 ? reads[0]!.slice('SELECT * FROM '.length) : `(${reads.join(' UNION ALL BY NAME ')})`;
  // Cast to the manifest's types: Parquet has no JSON or TIMESTAMPTZ of its own, readers must see them.
  return `SELECT ${cols.map((c) => `CAST(${q(c.name)} AS ${c.type}) AS ${q(c.name)}`).join(', ')} FROM ${from}`;
}

const SYNCS_COLUMNS = `source VARCHAR, "table" VARCHAR, sync_id VARCHAR, mode VARCHAR, full_refresh BOOLEAN, started TIMESTAMPTZ, finished TIMESTAMPTZ,
  outcome VARCHAR, rows_read BIGINT, rows_written BIGINT, pages BIGINT, cursor_field VARCHAR, cursor_before VARCHAR, cursor_after VARCHAR, error VARCHAR, schema_changes JSON, warnings JSON`;

export function syncsSql(paths: WarehousePaths, tables: { manifest: Manifest }[]): string {
  const values = tables.flatMap(({ manifest: m }) =>
    m.syncs.map(
      (s) =>
        `(${[m.source, m.table, s.syncId, s.mode].map(lit).join(', ')}, ${s.fullRefresh}, ${lit(s.startedAt)}::TIMESTAMPTZ, ${lit(s.finishedAt)}::TIMESTAMPTZ, ${lit(s.outcome)}, ${s.rowsRead}, ${s.rowsWritten}, ${s.pages}, ${opt(s.cursorField)}, ${opt(s.cursorBefore)}, ${opt(s.cursorAfter)}, ${opt(s.error)}, ${lit(JSON.stringify(s.schemaChanges ?? []))}::JSON, ${lit(JSON.stringify(s.warnings ?? []))}::JSON)`,
    ),
  );
  void paths;
  return `CREATE OR REPLACE TABLE sluice.syncs (${SYNCS_COLUMNS});` + (values.length ? `INSERT INTO sluice.syncs VALUES ${values.join(',\n')};` : '');
}
const opt = (v: string | undefined) => (v === undefined ? 'NULL' : lit(v));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let chain: Promise<unknown> = Promise.resolve();
/** Serialises catalog writes within a process (tables of one source commit concurrently). */
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const next = chain.then(fn, fn);
  chain = next.catch(() => undefined);
  return next;
}

/**
 * Rebuilds every view from the manifests, in one transaction. Returns false when the catalog file is
 * locked by another process for longer than `waitMs`.
 */
export function refreshCatalog(paths: WarehousePaths, extraViews: ExtraView[] = [], waitMs = 5000): Promise<boolean> {
  return serial(() => refreshNow(paths, extraViews, waitMs));
}

async function refreshNow(paths: WarehousePaths, extraViews: ExtraView[], waitMs: number): Promise<boolean> {
  {
    const deadline = Date.now() + waitMs;
    for (let attempt = 0; ; attempt++) {
      let instance: DuckDBInstance | undefined;
      try {
        fs.mkdirSync(paths.root, { recursive: true });
        instance = await DuckDBInstance.create(paths.catalog);
        const conn = await instance.connect();
        await conn.run(`SET TimeZone = 'UTC'`);
        const tables = listTables(paths);
        const stmts: string[] = ['BEGIN TRANSACTION', 'CREATE SCHEMA IF NOT EXISTS sluice'];
        const existing = (await conn.runAndReadAll(`SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database()`)).getRowObjectsJS();
        const wanted = new Set<string>();
        for (const { source, table, manifest } of tables) {
          stmts.push(`CREATE SCHEMA IF NOT EXISTS ${q(source)}`);
          stmts.push(`CREATE OR REPLACE VIEW ${q(source)}.${q(table)} AS ${tableViewSql(paths, manifest)}`);
          wanted.add(`${source}.${table}`);
        }
        for (const v of extraViews) {
          if (!NAME_PATTERN.test(v.schema) || !NAME_PATTERN.test(v.name)) continue;
          stmts.push(`CREATE SCHEMA IF NOT EXISTS ${q(v.schema)}`);
          stmts.push(`CREATE OR REPLACE VIEW ${q(v.schema)}.${q(v.name)} AS ${v.sql}`);
          wanted.add(`${v.schema}.${v.name}`);
        }
        // Views of tables that no longer exist in the warehouse would fail on read: drop them.
        for (const e of existing) if (!wanted.has(`${e.schema_name}.${e.view_name}`)) stmts.push(`DROP VIEW IF EXISTS ${q(String(e.schema_name))}.${q(String(e.view_name))}`);
        stmts.push(syncsSql(paths, tables));
        stmts.push('COMMIT');
        try {
          await conn.run(stmts.join(';\n'));
        } catch (err) {
          await conn.run('ROLLBACK').catch(() => undefined);
          // A broken extra view (e.g. a connector view over a table not synced yet) must not block the others.
          if (extraViews.length && /Catalog Error|Binder Error/.test((err as Error).message)) {
            conn.closeSync();
            instance.closeSync();
            instance = undefined;
            const usable = await filterViews(paths, extraViews);
            if (usable.length < extraViews.length) return refreshNow(paths, usable, waitMs);
          }
          throw err;
        }
        conn.closeSync();
        return true;
      } catch (err) {
        const msg = (err as Error).message;
        if (/lock|Conflicting/i.test(msg) && Date.now() < deadline) {
          await sleep(Math.min(1000, 100 * 2 ** attempt));
          continue;
        }
        if (/lock|Conflicting/i.test(msg)) return false;
        throw err;
      } finally {
        instance?.closeSync();
      }
    }
  }
}

/** Keeps the extra views that bind against the current tables. */
async function filterViews(paths: WarehousePaths, views: ExtraView[]): Promise<ExtraView[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  try {
    for (const { source, table, manifest } of listTables(paths)) {
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(source)}`);
      await conn.run(`CREATE OR REPLACE VIEW ${q(source)}.${q(table)} AS ${tableViewSql(paths, manifest)}`);
    }
    const ok: ExtraView[] = [];
    for (const v of views) {
      try {
        await conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(v.schema)}`);
        await conn.run(`CREATE OR REPLACE VIEW ${q(v.schema)}.${q(v.name)} AS ${v.sql}`);
        ok.push(v);
      } catch {
        // skipped: its inputs are not there yet
      }
    }
    return ok;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
