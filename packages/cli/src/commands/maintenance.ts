import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  DEFAULT_MAINTENANCE_RETENTION_DAYS,
  MAINTENANCE_WORKFLOW_ID,
  MAINTENANCE_WORKFLOW_TYPE,
  describeMaintenance,
  tableWorkflowId,
  type MaintenanceHeartbeat,
  type MaintenanceInput,
  type MaintenanceOutcome,
} from '@sluice/workflows';
import { NAME_PATTERN, parseSnapshotRef, rollbackTable, RollbackError, type RollbackResult } from '@sluice/warehouse';
import { temporalDefaults } from '../temporal.config';
import { loadConfig, type LoadedConfig } from '../config';
import { openTemporal, type TemporalSession } from '../temporal';
import { duration, textTable } from '../format';
import { UsageError, type Io } from '../io';

/**
 * `sluice maintenance` (run the warehouse's maintenance workflow now, with its progress) and `sluice
 * rollback SOURCE.TABLE --to SNAPSHOT` (restore a table and its cursor to an earlier snapshot).
 */
export function registerMaintenanceCommands(program: Command, ctx: { config: () => string; run: (fn: () => Promise<number>) => () => Promise<void>; io: Io }): void {
  const { config, run, io } = ctx;
  program
    .command('maintenance')
    .description('run the warehouse maintenance now (merge small files, expire old snapshots, delete files no snapshot needs), through Temporal, with progress')
    .option('--retention-days <days>', `keep snapshots this many days (default: maintenance.retentionDays of sluice.yaml, else ${DEFAULT_MAINTENANCE_RETENTION_DAYS})`)
    .option('--json', 'print the outcome as JSON')
    .action((o: { retentionDays?: string; json?: boolean }) => run(() => maintenanceCommand({ config: config(), ...o }, io))());
  program
    .command('rollback <table>')
    .description('restore SOURCE.TABLE (its rows and its cursor) to an earlier snapshot, as a new snapshot; the next sync re-reads from there')
    .requiredOption('--to <snapshot>', 'snapshot id (see `sluice status` or lake.snapshots()), or an ISO time: the latest snapshot at or before it')
    .option('--force', 'roll back even while a sync of the table is running (its commit would land on top of the restored data)')
    .option('--json', 'print the outcome as JSON')
    .action((table: string, o: { to: string; force?: boolean; json?: boolean }) => run(() => rollbackCommand({ config: config(), table, ...o }, io))());
}

export async function maintenanceCommand(opts: { config: string; retentionDays?: string; json?: boolean }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  let retentionDays = cfg.raw.maintenance?.retentionDays ?? DEFAULT_MAINTENANCE_RETENTION_DAYS;
  if (opts.retentionDays !== undefined) {
    retentionDays = Number(opts.retentionDays);
    if (!(retentionDays >= 0)) throw new UsageError(`--retention-days expects a number of days ≥ 0; got "${opts.retentionDays}"`);
  }
  const session = await openTemporal(cfg, { worker: !cfg.temporal, say: io.info });
  try {
    if (session.uiUrl) io.info(`Temporal UI: ${session.uiUrl}/namespaces/${session.namespace}/workflows/${encodeURIComponent(MAINTENANCE_WORKFLOW_ID)}`);
    const input: MaintenanceInput = { retentionDays, trigger: 'cli' };
    let handle: WorkflowHandle;
    try {
      handle = await session.client.workflow.start(MAINTENANCE_WORKFLOW_TYPE, {
        workflowId: MAINTENANCE_WORKFLOW_ID,
        taskQueue: session.taskQueue,
        args: [input],
        memo: { trigger: 'cli', retentionDays },
        staticSummary: `Warehouse maintenance (retention ${retentionDays} d)`,
        staticDetails: 'Merges small files, expires snapshots older than the retention, deletes files no snapshot needs.',
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      io.info('a maintenance is already running; following it instead of starting another');
      handle = session.client.workflow.getHandle(MAINTENANCE_WORKFLOW_ID);
    }
    if (!session.worker) await warnIfNoWorker(session, io);
    let finished = false;
    let last = '';
    const poll = (async () => {
      while (!finished) {
        const line = await currentStep(handle).catch(() => undefined);
        if (line && line !== last) io.info(line);
        if (line) last = line;
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    let result: MaintenanceOutcome;
    try {
      result = (await handle.result()) as MaintenanceOutcome;
    } catch (err) {
      let e: any = err;
      while (e?.cause) e = e.cause;
      throw new Error(err instanceof WorkflowFailedError ? `maintenance failed: ${e?.message ?? err}` : String(err));
    } finally {
      finished = true;
      await poll;
    }
    if (opts.json) io.out(JSON.stringify(result, null, 2));
    else {
      const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
      io.out(
        textTable(
          ['maintenance', 'value'],
          [
            ['data files (listed by the current snapshot)', `${result.filesBefore} → ${result.filesAfter}`],
            ['size of those files', `${mb(result.bytesBefore)} → ${mb(result.bytesAfter)}`],
            ['files merged or rewritten', `${result.filesMerged} into ${result.filesCreated}`],
            ['sync log rows flushed from the catalog', result.rowsFlushed],
            [`snapshots expired (older than ${retentionDays} d)`, result.snapshotsExpired],
            ['snapshots kept', `${result.snapshotsKept}${result.oldestSnapshot ? ` (oldest: ${result.oldestSnapshot.id} at ${result.oldestSnapshot.time})` : ''}`],
            ['files deleted', `${result.filesDeleted} (${result.orphansDeleted} orphaned), ${mb(result.bytesFreed)} freed`],
            ['merged away, deleted by the next run', result.filesAwaitingDeletion],
            ['took', duration(result.durationMs)],
          ],
        ),
      );
      io.info(describeMaintenance(result));
    }
    return 0;
  } finally {
    await session.close();
  }
}

/** The running maintenance activity's step, from its heartbeat. */
async function currentStep(handle: WorkflowHandle): Promise<string | undefined> {
  const d = await handle.describe();
  const act = d.raw.pendingActivities?.[0];
  const payload = act?.heartbeatDetails?.payloads?.[0];
  if (!payload) return act ? 'maintenance: starting' : undefined;
  const hb = defaultPayloadConverter.fromPayload<MaintenanceHeartbeat>(payload);
  const count = hb.total !== undefined ? ` [${hb.done ?? 0}/${hb.total}]` : '';
  const retry = act?.lastFailure?.message && (act.attempt ?? 1) > 1 ? ` (attempt ${act.attempt}: ${act.lastFailure.message.slice(0, 80)})` : '';
  return `maintenance: ${hb.step}${count}: ${hb.message}${retry}`;
}

async function warnIfNoWorker(session: TemporalSession, io: Io): Promise<void> {
  try {
    const r = await session.client.workflowService.describeTaskQueue({ namespace: session.namespace, taskQueue: { name: session.taskQueue }, taskQueueType: 1 });
    if (!r.pollers?.length) io.info(`no worker is polling task queue "${session.taskQueue}" on ${session.address}: start one with \`sluice worker\` (the maintenance waits for it)`);
  } catch {
    // best effort
  }
}

export async function rollbackCommand(opts: { config: string; table: string; to: string; force?: boolean; json?: boolean }, io: Io): Promise<number> {
  const m = /^([^.]+)\.([^.]+)$/.exec(opts.table);
  if (!m || !NAME_PATTERN.test(m[1]!) || !NAME_PATTERN.test(m[2]!)) throw new UsageError(`expected SOURCE.TABLE (e.g. shop.orders); got "${opts.table}"`);
  const [, source, table] = m as unknown as [string, string, string];
  let to;
  try {
    to = parseSnapshotRef(opts.to);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const cfg = await loadConfig(opts.config);
  if (!opts.force) await refuseWhileSyncing(cfg, source, table, io);
  let r: RollbackResult;
  try {
    r = await rollbackTable(cfg.warehouse, source, table, to, { onRetry: (n) => io.info(`the catalog is busy (another process is committing); retrying (attempt ${n + 1})`) });
  } catch (err) {
    if (err instanceof RollbackError) throw new UsageError(err.message);
    throw err;
  }
  if (opts.json) {
    io.out(JSON.stringify(r, null, 2));
    return 0;
  }
  io.out(`rolled back ${source}.${table} to snapshot ${r.restoredSnapshot} (${r.restoredSnapshotTime}): ${r.rowsAfter} row(s) (was ${r.rowsBefore}); new snapshot ${r.snapshot}`);
  io.out(
    r.cursorField
      ? `cursor ${r.cursorField}: ${r.cursorAfter ?? '(none: the next sync reads everything)'} (was ${r.cursorBefore ?? 'none'}); the next sync reads from there`
      : 'the table had no cursor then: the next sync reads everything',
  );
  if (r.columnsNulled.length) io.out(`⚠ columns added after snapshot ${r.restoredSnapshot} are NULL in the restored rows: ${r.columnsNulled.join(', ')}`);
  if (r.columnsDropped.length) io.out(`⚠ columns the table had then no longer exist and were not restored: ${r.columnsDropped.join(', ')}`);
  return 0;
}

/**
 * A sync of the table that commits after the rollback would land on top of the restored rows with the
 * cursor it started from: refuse while one runs (best effort: only when Temporal can be asked without
 * starting anything).
 */
async function refuseWhileSyncing(cfg: LoadedConfig, source: string, table: string, io: Io): Promise<void> {
  let address: string | undefined = cfg.temporal?.address;
  const namespace = cfg.temporal?.namespace ?? temporalDefaults.namespace;
  if (!address) {
    try {
      const info = JSON.parse(fs.readFileSync(path.join(cfg.warehouse.temporalState(), 'server.json'), 'utf8')) as { pid: number; address: string };
      process.kill(info.pid, 0);
      address = info.address;
    } catch {
      return; // no embedded server running: no sync is running either
    }
  }
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: '3 seconds' });
    const d = await new Client({ connection, namespace }).workflow.getHandle(tableWorkflowId(source, table)).describe();
    if (d.status.name === 'RUNNING') throw new UsageError(`a sync of ${source}.${table} is running (workflow ${tableWorkflowId(source, table)}); wait for it to finish (or cancel it), then roll back; --force skips this check`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if ((err as Error)?.name !== 'WorkflowNotFoundError') io.info(`could not check for a running sync of ${source}.${table} (${(err as Error).message.split('\n')[0]}); rolling back anyway`);
  } finally {
    await connection?.close().catch(() => undefined);
  }
}
