import type { DuckDBConnection } from '@duckdb/node-api';
import { rows, scalar } from './duck';
import { withLake } from './lake';
import { LAKE, type WarehousePaths } from './paths';
import { withLakeRetry } from './retry';
import { quoteLiteral as lit } from './schema';
import { lakeTables, STATE_SCHEMA } from './state';

/**
 * Maintenance of the lake (the `sluice:maintenance` workflow, `sluice maintenance`). Many small syncs
 * leave many small Parquet files and snapshots behind; this, in one write session:
 *
 * 1. flushes the sync log's inlined rows (sluice.syncs is inlined in the catalog) into Parquet;
 * 2. expires snapshots older than the retention (time travel reaches back that far, no further);
 * 3. deletes the files scheduled for deletion: those of the snapshots just expired and those an earlier
 *    run merged away (see below why not this run's);
 * 4. rewrites files whose rows were mostly replaced by later syncs (MERGE leaves delete files, and
 *    DuckLake's merge skips files that have deletes), then merges adjacent small files of every table;
 * 5. deletes orphaned files: Parquet files under the data path that no snapshot ever listed (a commit
 *    killed between writing its files and committing), old enough that no commit can still be writing them.
 *
 * Merging keeps time travel intact (a merged file remembers which snapshot each row came from), so only
 * expiry limits it. Catalog contention with concurrent syncs is retried step by step (each step is its
 * own DuckLake transaction).
 */

export interface MaintenanceOptions {
  /** Snapshots older than this many days are expired (time travel reaches back this far). Default 7. */
  retentionDays?: number;
  /** Expire the snapshots made before this time instead (overrides retentionDays). */
  expireBefore?: Date;
  /**
   * An orphaned file (under the data path, listed by no snapshot) is deleted only when it was last
   * modified longer ago than this. Default 6 hours. See ORPHAN_MIN_AGE_MS.
   */
  orphanMinAgeMs?: number;
  /** Rewrite a data file when at least this fraction of its rows was deleted by later syncs (0..1). Default 0.1. */
  rewriteDeleteThreshold?: number;
  onProgress?: (p: MaintenanceProgress) => void;
  /** Called when a step met catalog contention and is retried. */
  onRetry?: (attempt: number, err: Error) => void;
}

export type MaintenanceStep = 'inventory' | 'flush' | 'expire' | 'cleanup' | 'merge' | 'orphans' | 'done';

export interface MaintenanceProgress {
  step: MaintenanceStep;
  message: string;
  /** Tables handled so far by the merge step, of `total`. */
  done?: number;
  total?: number;
}

export interface MaintenanceResult {
  /** Data files (+ delete files) the current snapshot lists, over every table, before and after. */
  filesBefore: number;
  filesAfter: number;
  bytesBefore: number;
  bytesAfter: number;
  /** Files merged or rewritten into `filesCreated` new ones. */
  filesMerged: number;
  filesCreated: number;
  /** Inlined rows of the sync log written to Parquet. */
  rowsFlushed: number;
  snapshotsExpired: number;
  /** Snapshots left (time travel can reach each of them). */
  snapshotsKept: number;
  oldestSnapshot?: { id: number; time: string };
  /** Files deleted from storage: no longer needed by any snapshot, plus orphans. */
  filesDeleted: number;
  orphansDeleted: number;
  bytesFreed: number;
  /** Files this run merged away: no snapshot needs them; the next run deletes them. */
  filesAwaitingDeletion: number;
  tables: number;
  durationMs: number;
}

/**
 * Orphan safety margin. DuckLake's `ducklake_delete_orphaned_files` lists every Parquet file under the
 * data path and deletes those the catalog does not know, keeping any whose storage last-modified time is
 * newer than `older_than`. A commit in progress has written files the catalog does not know yet: they
 * must survive until it commits. A commit attempt lives at most 2 hours (the commit activity's
 * startToCloseTimeout), so 6 hours leaves a wide margin; a killed commit's files are deleted by the first
 * run after that. (Anything that places files under the data path to register them later, e.g. with
 * ducklake_add_data_files, must register them within this margin of their modification time.)
 */
export const ORPHAN_MIN_AGE_MS = 6 * 3600_000;
export const DEFAULT_RETENTION_DAYS = 7;
const DEFAULT_REWRITE_THRESHOLD = 0.1;

export async function maintainLake(paths: WarehousePaths, opts: MaintenanceOptions = {}): Promise<MaintenanceResult> {
  const retentionDays = opts.retentionDays ?? DEFAULT_RETENTION_DAYS;
  if (!(retentionDays >= 0)) throw new Error(`maintenance: retentionDays must be a number ≥ 0 (got ${retentionDays})`);
  const orphanMinAgeMs = opts.orphanMinAgeMs ?? ORPHAN_MIN_AGE_MS;
  const threshold = opts.rewriteDeleteThreshold ?? DEFAULT_REWRITE_THRESHOLD;
  const say = (p: MaintenanceProgress) => opts.onProgress?.(p);
  const retry = <T>(fn: () => Promise<T>) => withLakeRetry(fn, { onRetry: opts.onRetry });
  const started = Date.now();

  // Each step has a session of its own, and every table's compaction too: this DuckLake caches a
  // catalog by schema version alone (duckdb/ducklake#955), so after a flush in the same session, or the
  // compaction of another table, compacting a table whose files predate a later schema change (a view
  // or a table created since) fails with "DuckLakeCompactor: failed to find table entry".
  const session = <T>(fn: (conn: DuckDBConnection) => Promise<T>) => withLake(paths, {}, ({ conn }) => fn(conn));

  say({ step: 'inventory', message: 'counting files' });
  const { tables, before, rowsFlushed } = await session(async (conn) => {
    const tables = [...(await lakeTables(conn)), { source: STATE_SCHEMA, table: 'syncs' }];
    const before = await inventory(conn, tables);
    // 1. The sync log is inlined in the catalog (one small row per sync): write it out as Parquet.
    say({ step: 'flush', message: 'flushing the sync log inlined in the catalog' });
    const rowsFlushed = await retry(async () => {
      const r = await rows(conn, `SELECT * FROM ducklake_flush_inlined_data(${lit(LAKE)}, schema_name => ${lit(STATE_SCHEMA)})`);
      return r.reduce((n, x) => n + Number(x.rows_flushed ?? 0), 0);
    });
    return { tables, before, rowsFlushed };
  });

  const { snapshotsExpired, cleaned } = await session(async (conn) => {
    // 2. Expire. The ids are chosen here, on DuckDB's typed snapshot times, and passed as `versions`:
    // ducklake_expire_snapshots' own `older_than` is compared with the catalog's text timestamps on a
    // SQLite catalog, which expires every snapshot of the cutoff's calendar day (measured: `now() -
    // INTERVAL 1 HOUR` expired all of today's). The newest snapshot is never expired.
    const cutoff = (opts.expireBefore ?? new Date(Date.now() - retentionDays * 86_400_000)).toISOString();
    say({ step: 'expire', message: `expiring snapshots older than ${cutoff}` });
    let snapshotsExpired = 0;
    await retry(async () => {
      const ids = (
        await rows(conn, `SELECT snapshot_id FROM ${LAKE}.snapshots() WHERE snapshot_time < TIMESTAMPTZ ${lit(cutoff)} AND snapshot_id < (SELECT max(snapshot_id) FROM ${LAKE}.snapshots()) ORDER BY 1`)
      ).map((r) => Number(r.snapshot_id));
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const r = await rows(conn, `SELECT snapshot_id FROM ducklake_expire_snapshots(${lit(LAKE)}, versions => [${chunk.join(', ')}])`);
        snapshotsExpired += r.length;
      }
    });

    // 3. Files no snapshot needs any more (DuckLake schedules a file only then): those of the snapshots
    // just expired, those an earlier run merged away, and delete files that syncs superseded since. This
    // runs before this run's merge on purpose: the files a merge replaces may still be read by a query or
    // a commit that began on an earlier snapshot, so they are deleted by the next run (a schedule's
    // interval later), never seconds after. (`older_than` is not used, for the same reason as above: it
    // compares text timestamps on a SQLite catalog.)
    say({ step: 'cleanup', message: 'deleting files no snapshot needs' });
    const cleaned = await retry(() => deleteListed(conn, `ducklake_cleanup_old_files(${lit(LAKE)}, cleanup_all => true`));
    return { snapshotsExpired, cleaned };
  });

  // 4. Rewrite files mostly deleted, then merge adjacent small files, table by table.
  let filesMerged = 0;
  let filesCreated = 0;
  for (const [i, t] of tables.entries()) {
    say({ step: 'merge', message: `merging files of ${t.source}.${t.table}`, done: i, total: tables.length });
    const args = `${lit(LAKE)}, ${lit(t.table)}, schema => ${lit(t.source)}`;
    for (const sql of [`ducklake_rewrite_data_files(${args}, delete_threshold => ${threshold})`, `ducklake_merge_adjacent_files(${args})`]) {
      const r = await retry(() => session((conn) => rows(conn, `SELECT coalesce(sum(files_processed), 0) AS processed, coalesce(sum(files_created), 0) AS created FROM ${sql}`)));
      filesMerged += Number(r[0]?.processed ?? 0);
      filesCreated += Number(r[0]?.created ?? 0);
    }
  }
  say({ step: 'merge', message: `merged ${filesMerged} file(s) into ${filesCreated}`, done: tables.length, total: tables.length });

  return session(async (conn) => {
    // 5. Orphans, with the safety margin (ORPHAN_MIN_AGE_MS): DuckLake compares the files' own
    // modification times (from the file system or the object store), not catalog text.
    say({ step: 'orphans', message: 'deleting orphaned files' });
    const orphanCutoff = new Date(Date.now() - orphanMinAgeMs).toISOString();
    const orphans = await retry(() => deleteListed(conn, `ducklake_delete_orphaned_files(${lit(LAKE)}, older_than => TIMESTAMPTZ ${lit(orphanCutoff)}`, tables));

    const after = await inventory(conn, tables);
    const snaps = await rows(conn, `SELECT snapshot_id, snapshot_time FROM ${LAKE}.snapshots() ORDER BY snapshot_id`);
    const awaiting = Number(await scalar(conn, `SELECT count(*) FROM ducklake_cleanup_old_files(${lit(LAKE)}, cleanup_all => true, dry_run => true)`));
    const result: MaintenanceResult = {
      filesBefore: before.files,
      filesAfter: after.files,
      bytesBefore: before.bytes,
      bytesAfter: after.bytes,
      filesMerged,
      filesCreated,
      rowsFlushed,
      snapshotsExpired,
      snapshotsKept: snaps.length,
      oldestSnapshot: snaps[0] ? { id: Number(snaps[0].snapshot_id), time: iso(snaps[0].snapshot_time) } : undefined,
      filesDeleted: cleaned.files + orphans.files,
      orphansDeleted: orphans.files,
      bytesFreed: cleaned.bytes + orphans.bytes,
      filesAwaitingDeletion: awaiting,
      tables: tables.length - 1,
      durationMs: Date.now() - started,
    };
    say({ step: 'done', message: `files ${result.filesBefore} → ${result.filesAfter}, ${result.snapshotsExpired} snapshot(s) expired, ${result.filesDeleted} file(s) deleted (${result.bytesFreed} bytes)` });
    return result;
  });
}

/** Data and delete files the current snapshot lists, over the given tables. */
async function inventory(conn: DuckDBConnection, tables: { source: string; table: string }[]): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const t of tables) {
    const [r] = await rows(
      conn,
      `SELECT count(*) + count(delete_file) AS files, coalesce(sum(data_file_size_bytes), 0) + coalesce(sum(delete_file_size_bytes), 0) AS bytes
       FROM ducklake_list_files(${lit(LAKE)}, ${lit(t.table)}, schema => ${lit(t.source)})`,
    );
    files += Number(r?.files ?? 0);
    bytes += Number(r?.bytes ?? 0);
  }
  return { files, bytes };
}

/**
 * Runs a DuckLake cleanup function (its call without the closing parenthesis): a dry run lists the
 * files and their sizes are read, then the same call deletes them. With `live` tables given (orphans),
 * the candidates are first checked against every file the current snapshot lists: DuckLake compares
 * paths as strings, and a data path spelled differently from the one the files were registered under
 * would make live files look orphaned. Then nothing is deleted and the run fails.
 */
async function deleteListed(conn: DuckDBConnection, call: string, live?: { source: string; table: string }[]): Promise<{ files: number; bytes: number }> {
  const candidates = (await rows(conn, `SELECT path FROM ${call}, dry_run => true)`)).map((r) => String(r.path));
  if (!candidates.length) return { files: 0, bytes: 0 };
  if (live) {
    const known = new Set<string>();
    for (const t of live) {
      for (const r of await rows(conn, `SELECT data_file, delete_file FROM ducklake_list_files(${lit(LAKE)}, ${lit(t.table)}, schema => ${lit(t.source)})`)) {
        known.add(String(r.data_file));
        if (r.delete_file) known.add(String(r.delete_file));
      }
    }
    const clash = candidates.filter((p) => known.has(p));
    if (clash.length) throw new Error(`maintenance refused to delete orphaned files: ${clash.length} of them are listed by the current snapshot (e.g. ${clash[0]}); is the data path the one the lake was created with?`);
  }
  const bytes = await fileBytes(conn, candidates);
  const deleted = (await rows(conn, `SELECT path FROM ${call})`)).map((r) => String(r.path));
  const gone = new Set(deleted);
  return { files: deleted.length, bytes: candidates.filter((p) => gone.has(p)).reduce((n, p) => n + (bytes.get(p) ?? 0), 0) };
}

/** Sizes of files (local or on the object store), by path; a file that vanished meanwhile counts 0. */
async function fileBytes(conn: DuckDBConnection, paths: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < paths.length; i += 500) {
    const chunk = paths.slice(i, i + 500);
    try {
      // Only `size` is read: read_blob does not fetch the contents of a column it does not return.
      for (const r of await rows(conn, `SELECT filename, size FROM read_blob([${chunk.map(lit).join(', ')}])`)) out.set(String(r.filename), Number(r.size));
    } catch {
      // sizes are informative only
    }
  }
  return out;
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));

/** Auto-compaction after a commit: a table compacts once it has more than this many files per partition (and at least `minFiles`). */
export const AUTO_COMPACT = { minFiles: 64, filesPerPartition: 4 } as const;

export interface CompactionResult {
  filesBefore: number;
  partitions: number;
  filesMerged: number;
  filesCreated: number;
  ms: number;
}

/**
 * Between maintenance runs, many small incremental syncs leave a table in hundreds of small files (and
 * delete files), which slows every query (measured: 3.1× after 200 syncs). After a commit, a table past
 * AUTO_COMPACT is compacted like maintenance does (rewrite mostly-deleted files, merge adjacent ones), in a
 * session of its own (duckdb/ducklake#955, see maintainLake). The old files stay for time travel until
 * maintenance expires their snapshots. `SLUICE_AUTO_COMPACT=off` turns it off. Undefined: nothing to do.
 */
export async function compactIfFragmented(paths: WarehousePaths, source: string, table: string, opts: { onRetry?: (attempt: number, err: Error) => void } = {}): Promise<CompactionResult | undefined> {
  if (process.env.SLUICE_AUTO_COMPACT === 'off') return undefined;
  const t0 = Date.now();
  const args = `${lit(LAKE)}, ${lit(table)}, schema => ${lit(source)}`;
  return withLake(paths, {}, async ({ conn }) => {
    const files = await rows(conn, `SELECT data_file, delete_file FROM ducklake_list_files(${args})`);
    const filesBefore = files.length + files.filter((f) => f.delete_file !== null).length;
    // Partition directories (year=…/month=…) from the paths: how many files the table would have compact.
    const partitions = new Set(files.map((f) => String(f.data_file).replace(/[\\/][^\\/]*$/, ''))).size;
    if (filesBefore <= Math.max(AUTO_COMPACT.minFiles, AUTO_COMPACT.filesPerPartition * partitions)) return undefined;
    let filesMerged = 0;
    let filesCreated = 0;
    for (const sql of [`ducklake_rewrite_data_files(${args}, delete_threshold => ${DEFAULT_REWRITE_THRESHOLD})`, `ducklake_merge_adjacent_files(${args})`]) {
      const r = await withLakeRetry(() => rows(conn, `SELECT coalesce(sum(files_processed), 0) AS processed, coalesce(sum(files_created), 0) AS created FROM ${sql}`), { onRetry: opts.onRetry });
      filesMerged += Number(r[0]?.processed ?? 0);
      filesCreated += Number(r[0]?.created ?? 0);
    }
    return { filesBefore, partitions, filesMerged, filesCreated, ms: Date.now() - t0 };
  });
}
