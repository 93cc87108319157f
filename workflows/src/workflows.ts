import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  ParentClosePolicy,
  defineQuery,
  executeChild,
  patched,
  startChild,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { failureMessage, failureType } from './failure';
import { TimeoutType, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { NON_RETRYABLE_FAILURE_TYPES } from '@sluice/core/errors';
import type { Activities } from './activities';
import type { ExportActivities } from './export-activity';
import { EXPORT_MODE, exportWorkflowId } from './export-shared';
import { exportToPostHog } from './export-workflow';
import {
  SEARCH_ATTRIBUTES as SA,
  tableWorkflowId,
  type CheckInput,
  type CheckOutput,
  type SourceProgress,
  type SourceResult,
  type SyncSourceInput,
  type TablePlan,
  type TableProgress,
  type TableResult,
  DELETES_UNCONFIRMED,
} from './shared';

export const progressQuery = defineQuery<SourceProgress | TableProgress>('progress');

// Errors the operator must fix (credentials, scopes, config) are not retried: retrying cannot help.
const NON_RETRYABLE = NON_RETRYABLE_FAILURE_TYPES;

const { planSource, checkSource } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

const { extractTable } = proxyActivities<Activities>({
  // An extract may legitimately run for hours (rate-limited vendors); liveness is the heartbeat.
  startToCloseTimeout: '24 hours',
  // A dead worker is noticed within 30 s; long vendor waits keep heartbeating on a timer.
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 6, nonRetryableErrorTypes: NON_RETRYABLE },
});

const COMMIT = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
} as const;

/**
 * The commit reads the pages the extract staged on its worker's disk, so it runs on that worker's own
 * queue. That queue runs nothing but commits and takes many at once (they queue inside for a commit
 * slot, heartbeating), so a commit not started within 30 s means the worker is gone: the table is then
 * extracted again on another worker.
 */
const commitOn = (stagedOn: string | undefined) =>
  proxyActivities<Activities>(stagedOn ? { ...COMMIT, taskQueue: stagedOn, scheduleToStartTimeout: '30 seconds' } : COMMIT).commitTable;
const STAGING_LOST_RETRIES = 3;

function stagingWorkerGone(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

/**
 * `deletes: reconcile`: a full key scan of the table at the vendor, then the deletion in one transaction.
 * It runs on any worker (it stages its own keys), heartbeating its pages. A failed attempt starts the scan
 * over (a partial key list is never used); few attempts, as the extract's retries already rode out the
 * vendor's blips and a failed reconciliation only delays deletions to the next sync.
 */
const { reconcileTable } = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE, DELETES_UNCONFIRMED] },
});

// Bookkeeping after a failure: a few quick attempts, never long enough to delay reporting the failure.
const { recordTableFailure, alertTableFailure } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

/** Syncs one table: extract (stage pages on disk, heartbeating its checkpoint) then commit. */
export async function syncTable(plan: TablePlan): Promise<TableResult> {
  const progress: TableProgress = { table: plan.table, phase: 'extracting' };
  setHandler(progressQuery, () => progress);
  const info = workflowInfo();
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const syncId = info.runId;
  try {
    let result: TableResult;
    for (let attempt = 1; ; attempt++) {
      progress.phase = 'extracting';
      const extract = await extractTable({ ...plan, syncId });
      progress.phase = 'committing';
      try {
        result = await commitOn(extract.stagedOn)({ ...plan, syncId, startedAt, extract });
        break;
      } catch (err) {
        if (attempt >= STAGING_LOST_RETRIES || !stagingWorkerGone(err)) throw err;
      }
    }
    // Deletions, as their own phase once the sync's data are committed (a plan without `deletes` — every
    // workflow started before they existed — schedules nothing more, so replays are unchanged).
    if (plan.deletes) {
      progress.phase = 'reconciling';
      const r = await reconcileTable({ ...plan, syncId });
      result = r.skipped ? { ...result, reconcileSkipped: r.skipped } : { ...result, rowsDeleted: r.rowsDeleted, durationMs: result.durationMs + r.durationMs };
    }
    progress.phase = 'succeeded';
    progress.result = result;
    upsertMemo({ rowsRead: result.rowsRead, rowsWritten: result.rowsWritten, pages: result.pages, durationMs: result.durationMs, cursor: result.cursorAfter ?? null });
    upsertSearchAttributes({ [SA.outcome]: ['succeeded'] });
    return result;
  } catch (err) {
    const message = failureMessage(err);
    progress.phase = 'failed';
    upsertSearchAttributes({ [SA.outcome]: ['failed'] });
    upsertMemo({ error: message });
    await recordTableFailure({ ...plan, syncId, startedAt, error: message }).catch(() => undefined);
    await alertTableFailure({ ...plan, syncId, error: message }).catch(() => undefined);
    throw ApplicationFailure.create({ message: `${plan.source}.${plan.table}: ${message}`, type: failureType(err, 'Sluice.failed'), nonRetryable: true });
  }
}

/** Syncs the tables of one source, each as a child workflow, a few at a time within the source's shared rate limit. */
export async function syncSource(input: SyncSourceInput): Promise<SourceResult> {
  const started = Date.now();
  const progress: SourceProgress = { source: input.source, phase: 'planning', tables: [] };
  setHandler(progressQuery, () => progress);
  const plans = await planSource(input);
  progress.tables = plans.map((p) => ({ table: p.table, phase: 'pending' }));
  progress.phase = 'syncing';
  const results: TableResult[] = [];
  const queue = [...plans];
  const concurrency = 4;

  const runOne = async (plan: TablePlan) => {
    const tp = progress.tables.find((t) => t.table === plan.table)!;
    tp.phase = 'extracting';
    const t0 = Date.now();
    try {
      const result = await executeChild(syncTable, {
        workflowId: tableWorkflowId(plan.source, plan.table),
        args: [plan],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        searchAttributes: { [SA.source]: [plan.source], [SA.table]: [plan.table], [SA.mode]: [plan.effectiveMode] },
        memo: { source: plan.source, table: plan.table, mode: plan.mode, fullRefresh: plan.fullRefresh },
        staticSummary: `Sync ${plan.source}.${plan.table} (${plan.fullRefresh ? 'forced full refresh' : plan.mode}${plan.window ? `, window ${plan.window.since} … ${plan.window.until ?? 'now'}` : ''})`,
        staticDetails: `Extracts ${plan.source}.${plan.table} from the vendor API into staging, then commits it to the warehouse${plan.cursorField ? ` (cursor: ${plan.cursorField})` : ''}.${policiesText(plan)}`,
      });
      tp.phase = 'succeeded';
      tp.result = result;
      results.push(result);
    } catch (err) {
      const already = err instanceof WorkflowExecutionAlreadyStartedError;
      const result: TableResult = {
        source: plan.source,
        table: plan.table,
        mode: plan.mode,
        outcome: already ? 'skipped' : 'failed',
        rowsRead: 0,
        rowsWritten: 0,
        pages: 0,
        schemaChanges: [],
        durationMs: Date.now() - t0,
        error: already ? `a sync of ${plan.source}.${plan.table} is already running; skipped` : failureMessage(err),
      };
      tp.phase = result.outcome;
      tp.result = result;
      results.push(result);
    }
  };
  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let plan = queue.shift(); plan; plan = queue.shift()) await runOne(plan);
  });
  await Promise.all(workers);
  progress.phase = 'done';
  const failed = results.filter((r) => r.outcome === 'failed').length;
  const outcome = failed === 0 ? 'succeeded' : failed === results.length ? 'failed' : 'partial';
  const durationMs = Date.now() - started;
  upsertSearchAttributes({ [SA.outcome]: [outcome] });
  upsertMemo({ tables: results.length, failed, rowsWritten: results.reduce((s, r) => s + r.rowsWritten, 0), durationMs });
  // (patched: runs of syncSource started before exports existed replay without this step)
  if (patched('exports-after-sync')) await startExportsAfterSync(input.source, results);
  return { source: input.source, outcome, tables: plans.map((p) => results.find((r) => r.table === p.table)!), durationMs };
}

/** "Save and test" for one source, run by a worker (which holds the credentials). */
export async function checkSourceWorkflow(input: CheckInput): Promise<CheckOutput> {
  return checkSource(input);
}

/** The table's data policies, for the workflow's details in the Temporal UI (field names only, never the key). */
function policiesText(plan: TablePlan): string {
  const parts = [
    plan.columns?.exclude.length ? `excluded: ${plan.columns.exclude.join(', ')}` : '',
    plan.columns?.hash.length ? `hashed (HMAC-SHA256): ${plan.columns.hash.join(', ')}` : '',
    plan.schemaContract && plan.schemaContract !== 'evolve' ? `schema: ${plan.schemaContract}` : '',
    plan.deletes ? `deletes: ${plan.deletes.detect} (${plan.deletes.handle}${plan.deletes.every ? `, every ${plan.deletes.every}` : ''})${plan.confirmDeletes ? ', --confirm-deletes' : ''}` : '',
  ].filter(Boolean);
  return parts.length ? ` Data policies: ${parts.join('; ')}.` : '';
}


const { exportsAfterSync } = proxyActivities<ExportActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });

/**
 * Exports with `schedule: after_sync` (the default) start after a sync of their source in which neither
 * customers nor orders failed (an export with nothing new sends nothing). Each export is a workflow of its own, abandoned by
 * this one: the sync's result does not wait for PostHog, and an export still running from the previous
 * sync is left to finish (its id refuses a second run; the next sync starts the next one).
 */
async function startExportsAfterSync(source: string, results: TableResult[]): Promise<void> {
  const relevant = results.filter((r) => r.table === 'customers' || r.table === 'orders');
  if (relevant.length === 0 || relevant.some((r) => r.outcome === 'failed')) return;
  let names: string[];
  try {
    names = await exportsAfterSync(source);
  } catch {
    return; // the sync itself succeeded; `sluice export` or the next sync runs the export
  }
  for (const name of names) {
    try {
      await startChild(exportToPostHog, {
        workflowId: exportWorkflowId(name),
        args: [{ name, trigger: 'after_sync' }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        searchAttributes: { [SA.source]: [source], [SA.mode]: [EXPORT_MODE] },
        memo: { export: name, from: source, trigger: 'after_sync' },
        staticSummary: `Export ${name} to PostHog (after the sync of ${source})`,
        staticDetails: `Sends ${source}'s new and changed customers (as persons) and new orders (as events) to PostHog, exactly once.`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}

export { maintainWarehouse } from './maintenance-workflow';
export { exportToPostHog } from './export-workflow';
