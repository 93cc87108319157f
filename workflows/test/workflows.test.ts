import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../src/worker';
import { tableWorkflowId, type CommitInput, type ExtractInput, type ExtractSummary, type SourceProgress, type SourceResult, type SyncSourceInput, type TablePlan, type TableProgress, type TableResult } from '../src/shared';
import type { Activities } from '../src/activities';

/**
 * The workflows (syncSource, syncTable) against mocked activities. The time-skipping test server is a
 * download (not available offline); the dev server the suite's global setup started serves instead, and
 * the mocked activities answer at once, so nothing waits on a timer.
 */
let env: TestWorkflowEnvironment;
let bundle: { code: string };

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress'), namespace: 'default' });
  bundle = await workflowBundle();
});
afterAll(async () => {
  await env?.teardown();
});

const plan = (source: string, table: string): TablePlan => ({ source, table, mode: 'incremental', effectiveMode: 'incremental', fullRefresh: false, cursorField: 'updatedAt', lookbackMs: 0 });

interface Calls {
  extracted: string[];
  committed: string[];
  recorded: (TablePlan & { error: string })[];
  alerted: (TablePlan & { error: string })[];
}

/** Mocked activities: every table succeeds unless `fail` names it; `gate` holds a table's extract until released. */
function mockActivities(tables: string[], opts: { fail?: string; gate?: Promise<void> } = {}): { activities: Partial<Activities>; calls: Calls } {
  const calls: Calls = { extracted: [], committed: [], recorded: [], alerted: [] };
  const activities: Partial<Activities> = {
    async planSource(input: SyncSourceInput) {
      return (input.tables ?? tables).map((t) => plan(input.source, t));
    },
    async extractTable(input: ExtractInput): Promise<ExtractSummary> {
      calls.extracted.push(input.table);
      if (opts.gate) await opts.gate;
      if (input.table === opts.fail) throw ApplicationFailure.create({ type: 'Sluice.auth', message: `401 from the vendor for ${input.table}`, nonRetryable: true });
      return { syncId: input.syncId, pages: 1, rows: 2, resumedPages: 0, belowBound: 0, staging: {}, durationMs: 1, waitedMs: 0, requests: 1 };
    },
    async commitTable(input: CommitInput): Promise<TableResult> {
      calls.committed.push(input.table);
      return { source: input.source, table: input.table, mode: input.mode, outcome: 'succeeded', rowsRead: input.extract.rows, rowsWritten: input.extract.rows, pages: input.extract.pages, schemaChanges: [], durationMs: 1 };
    },
    async recordTableFailure(input) {
      calls.recorded.push(input);
    },
    async alertTableFailure(input) {
      calls.alerted.push(input);
      return { sent: true, consecutiveFailures: 1 };
    },
  };
  return { activities, calls };
}

async function withWorker<T>(activities: Partial<Activities>, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `wf-test-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, namespace: 'default', taskQueue, workflowBundle: bundle, activities });
  return worker.runUntil(fn(taskQueue));
}

describe('syncSource / syncTable workflows (mocked activities)', () => {
  it('starts one syncTable child per planned table and succeeds when all do', async () => {
    const source = `wf${randomUUID().slice(0, 8)}`;
    const tables = ['orders', 'customers', 'products', 'refunds', 'payouts'];
    const { activities, calls } = mockActivities(tables);
    const result = await withWorker(activities, (taskQueue) =>
      env.client.workflow.execute('syncSource', { taskQueue, workflowId: `sluice:${source}`, args: [{ source, trigger: 'api' } satisfies SyncSourceInput] }),
    ) as SourceResult;
    expect(result.outcome).toBe('succeeded');
    // Results come back in plan order, whatever order the (4 at a time) children finished in.
    expect(result.tables.map((t) => [t.table, t.outcome, t.rowsWritten])).toEqual(tables.map((t) => [t, 'succeeded', 2]));
    expect(calls.extracted.sort()).toEqual([...tables].sort());
    expect(calls.committed.sort()).toEqual([...tables].sort());
    expect(calls.recorded).toEqual([]);
    for (const t of tables) {
      const child = await env.client.workflow.getHandle(tableWorkflowId(source, t)).describe();
      expect(child.type).toBe('syncTable');
      expect(child.status.name).toBe('COMPLETED');
      expect(child.parentExecution?.workflowId).toBe(`sluice:${source}`);
    }
  });

  it('a failing table fails the source result, not the other tables; the failure is recorded and alerted', async () => {
    const source = `wf${randomUUID().slice(0, 8)}`;
    const { activities, calls } = mockActivities(['orders', 'customers', 'products'], { fail: 'customers' });
    const result = await withWorker(activities, (taskQueue) =>
      env.client.workflow.execute('syncSource', { taskQueue, workflowId: `sluice:${source}`, args: [{ source, trigger: 'api' } satisfies SyncSourceInput] }),
    ) as SourceResult;
    expect(result.outcome).toBe('partial');
    expect(result.tables.map((t) => [t.table, t.outcome])).toEqual([['orders', 'succeeded'], ['customers', 'failed'], ['products', 'succeeded']]);
    expect(result.tables[1]!.error).toBe(`${source}.customers: 401 from the vendor for customers`);
    expect(calls.committed.sort()).toEqual(['orders', 'products']);
    // Not retried: the failure is non-retryable.
    expect(calls.extracted.filter((t) => t === 'customers')).toHaveLength(1);
    expect(calls.recorded).toHaveLength(1);
    expect(calls.recorded[0]).toMatchObject({ source, table: 'customers', mode: 'incremental', effectiveMode: 'incremental', error: '401 from the vendor for customers' });
    expect(calls.alerted).toHaveLength(1);
    expect(calls.alerted[0]).toMatchObject({ source, table: 'customers', error: '401 from the vendor for customers' });
    const child = await env.client.workflow.getHandle(tableWorkflowId(source, 'customers')).describe();
    expect(child.status.name).toBe('FAILED');
  });

  it('every table failing fails the source', async () => {
    const source = `wf${randomUUID().slice(0, 8)}`;
    const { activities } = mockActivities(['orders'], { fail: 'orders' });
    const result = await withWorker(activities, (taskQueue) =>
      env.client.workflow.execute('syncSource', { taskQueue, workflowId: `sluice:${source}`, args: [{ source, tables: ['orders'], trigger: 'api' } satisfies SyncSourceInput] }),
    ) as SourceResult;
    expect(result.outcome).toBe('failed');
  });

  it('the progress query answers while the tables sync and after', async () => {
    const source = `wf${randomUUID().slice(0, 8)}`;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { activities, calls } = mockActivities(['orders', 'customers'], { gate });
    await withWorker(activities, async (taskQueue) => {
      const handle = await env.client.workflow.start('syncSource', { taskQueue, workflowId: `sluice:${source}`, args: [{ source, trigger: 'api' } satisfies SyncSourceInput] });
      // Both extracts have started and are held at the gate.
      await waitFor(() => calls.extracted.length === 2);
      const during = await handle.query<SourceProgress>('progress');
      expect(during).toEqual({ source, phase: 'syncing', tables: [{ table: 'orders', phase: 'extracting' }, { table: 'customers', phase: 'extracting' }] });
      const table = await env.client.workflow.getHandle(tableWorkflowId(source, 'orders')).query<TableProgress>('progress');
      expect(table).toEqual({ table: 'orders', phase: 'extracting' });
      release();
      const result = (await handle.result()) as SourceResult;
      expect(result.outcome).toBe('succeeded');
      const after = await handle.query<SourceProgress>('progress');
      expect(after.phase).toBe('done');
      expect(after.tables.map((t) => [t.table, t.phase, t.result?.rowsWritten])).toEqual([['orders', 'succeeded', 2], ['customers', 'succeeded', 2]]);
    });
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}
