import type { DuckDBConnection } from '@duckdb/node-api';
import { rows } from './duck';
import { LAKE } from './paths';
import { withLakeRetry } from './retry';
import { quoteIdent as q, quoteLiteral as lit } from './schema';
import { STATE_SCHEMA } from './state';

/**
 * The state of exports (PostHog, `exports:` in sluice.yaml) lives in the lake, next to the sync log:
 * `sluice.exports` is an append-only log with one row per batch PostHog accepted (outcome `progress`) and
 * one per finished run (`succeeded` / `failed`). An export's cursor is the one of its newest row, so it
 * moves only once PostHog accepted the batch it covers, and a crash re-sends at most that one batch.
 */
export type ExportOutcome = 'progress' | 'succeeded' | 'failed';

export interface ExportRecord {
  export: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  outcome: ExportOutcome;
  persons: number;
  events: number;
  batches: number;
  /** Opaque to the warehouse: the export's cursor after this row (JSON). */
  cursor: unknown;
  error?: string;
}

export interface ExportState {
  /** Where the next batch starts: the cursor of the newest row (undefined: never exported). */
  cursor?: unknown;
  /** The cursor at the end of the newest succeeded run. */
  baseline?: unknown;
  /** The newest finished run (succeeded or failed). */
  last?: ExportRecord;
  /** Newest row of any kind. */
  latest?: ExportRecord;
}

const TABLE = `${STATE_SCHEMA}.exports`;
const COLUMNS: [string, string][] = [
  ['export', 'VARCHAR'],
  ['seq', 'BIGINT'],
  ['run_id', 'VARCHAR'],
  ['started', 'TIMESTAMPTZ'],
  ['finished', 'TIMESTAMPTZ'],
  ['outcome', 'VARCHAR'],
  ['persons', 'BIGINT'],
  ['events', 'BIGINT'],
  ['batches', 'BIGINT'],
  ['cursor', 'JSON'],
  ['error', 'VARCHAR'],
];

async function hasTable(conn: DuckDBConnection): Promise<boolean> {
  const r = await rows(conn, `SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ${lit(STATE_SCHEMA)} AND table_name = 'exports'`);
  return r.length > 0;
}

/** Creates `sluice.exports` on first use (the session must be a writer's). */
export async function ensureExportsTable(conn: DuckDBConnection): Promise<void> {
  if (await hasTable(conn)) return;
  await withLakeRetry(async () => {
    try {
      await conn.run('BEGIN');
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${STATE_SCHEMA}`);
      await conn.run(`CREATE TABLE IF NOT EXISTS ${TABLE} (${COLUMNS.map(([n, t]) => `${q(n)} ${t}`).join(', ')})`);
      await conn.run(`CALL ${LAKE}.set_commit_message('sluice', 'create sluice.exports')`);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
  });
}

function toRecord(r: Record<string, unknown>): ExportRecord {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
  let cursor: unknown = r.cursor;
  if (typeof cursor === 'string') {
    try {
      cursor = JSON.parse(cursor);
    } catch {
      cursor = undefined;
    }
  }
  return {
    export: String(r.export),
    runId: String(r.run_id),
    startedAt: iso(r.started),
    finishedAt: iso(r.finished),
    outcome: String(r.outcome) as ExportOutcome,
    persons: Number(r.persons ?? 0),
    events: Number(r.events ?? 0),
    batches: Number(r.batches ?? 0),
    cursor: cursor ?? undefined,
    ...(r.error !== null && r.error !== undefined ? { error: String(r.error) } : {}),
  };
}

/** The state an export starts from (read in any session). */
export async function readExportState(conn: DuckDBConnection, name: string): Promise<ExportState> {
  if (!(await hasTable(conn))) return {};
  const newest = async (where: string) => {
    const r = await rows(conn, `SELECT * FROM ${TABLE} WHERE "export" = ${lit(name)} AND ${where} ORDER BY seq DESC LIMIT 1`);
    return r[0] ? toRecord(r[0]) : undefined;
  };
  const latest = await newest('TRUE');
  const succeeded = await newest(`outcome = 'succeeded'`);
  const last = await newest(`outcome IN ('succeeded', 'failed')`);
  return { cursor: latest?.cursor, baseline: succeeded?.cursor, last, latest };
}

/** Every export's newest finished run and cursor (for `sluice status`). */
export async function readExportStates(conn: DuckDBConnection): Promise<Map<string, ExportState>> {
  const out = new Map<string, ExportState>();
  if (!(await hasTable(conn))) return out;
  const names = await rows(conn, `SELECT DISTINCT "export" FROM ${TABLE}`);
  for (const n of names) out.set(String(n.export), await readExportState(conn, String(n.export)));
  return out;
}

/** Appends one row in its own transaction (with a commit message naming the export), retrying catalog contention. */
export async function recordExport(conn: DuckDBConnection, r: ExportRecord): Promise<void> {
  await ensureExportsTable(conn);
  const num = (v: number) => String(Math.trunc(Number.isFinite(v) ? v : 0));
  await withLakeRetry(async () => {
    await conn.run('BEGIN');
    try {
      await conn.run(
        `INSERT INTO ${TABLE} (${COLUMNS.map(([n]) => q(n)).join(', ')})
         SELECT ${lit(r.export)}, coalesce((SELECT max(seq) FROM ${TABLE} WHERE "export" = ${lit(r.export)}), 0) + 1, ${lit(r.runId)},
           ${lit(r.startedAt)}::TIMESTAMPTZ, ${lit(r.finishedAt)}::TIMESTAMPTZ, ${lit(r.outcome)}, ${num(r.persons)}, ${num(r.events)}, ${num(r.batches)},
           ${r.cursor === undefined ? 'NULL' : `${lit(JSON.stringify(r.cursor))}::JSON`}, ${r.error === undefined ? 'NULL' : lit(r.error)}`,
      );
      await conn.run(`CALL ${LAKE}.set_commit_message('sluice', ${lit(`export ${r.export}: ${r.outcome}${r.outcome === 'progress' ? ` (batch ${r.batches})` : ''}`)})`);
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
