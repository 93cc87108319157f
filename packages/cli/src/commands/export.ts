import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { redact } from '@sluice/core';
import {
  EXPORT_MODE,
  EXPORT_WORKFLOW_TYPE,
  SEARCH_ATTRIBUTES as SA,
  describeCursor,
  describeExport,
  exportWorkflowId,
  type ExportCursor,
  type ExportHeartbeat,
  type ExportInput,
  type ExportResult,
  type RuntimeExport,
} from '@sluice/workflows';
import { CaptureClient } from '@sluice/workflows/export-capture';
import { WarehouseMissingError, withLake } from '@sluice/warehouse';
import { readExportStates, type ExportState } from '@sluice/warehouse/exports';
import { loadConfig, type LoadedConfig } from '../config';
import type { NextRun } from '../schedules';
import { openTemporal, type TemporalSession } from '../temporal';
import { duration, textTable } from '../format';
import { UsageError, type Io } from '../io';

/**
 * `sluice export [NAME]`: runs exports (`exports:` in sluice.yaml) now, through Temporal, one after the
 * other, with their progress (persons, events, batches); exits non-zero if one failed. An export already
 * running (after a sync, or from its schedule) is followed instead of started twice.
 */
export function registerExportCommand(program: Command, ctx: { config: () => string; run: (fn: () => Promise<number>) => () => Promise<void>; io: Io }): void {
  program
    .command('export [name]')
    .description('send commerce data to PostHog now (exports: in sluice.yaml): new and changed customers as persons, new orders as events, exactly once')
    .option('--json', 'print the results as JSON')
    .action((name: string | undefined, o: { json?: boolean }) => ctx.run(() => exportCommand({ config: ctx.config(), name, ...o }, ctx.io))());
}

export async function exportCommand(opts: { config: string; name?: string; json?: boolean }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  const chosen = opts.name ? cfg.exports.filter((e) => e.name === opts.name) : cfg.exports;
  if (opts.name && chosen.length === 0) throw new UsageError(`unknown export "${opts.name}" in ${cfg.file}; exports: ${cfg.exports.map((e) => e.name).join(', ') || 'none (add one under exports:)'}`);
  if (chosen.length === 0) throw new UsageError(`no exports in ${cfg.file}: add one under exports: (see README, "Exports to PostHog")`);
  const session = await openTemporal(cfg, { worker: !cfg.temporal, say: io.info });
  if (!session.worker) await warnIfNoWorker(session, io);
  const results: ExportResult[] = [];
  let failed = 0;
  try {
    for (const e of chosen) {
      const id = exportWorkflowId(e.name);
      if (session.uiUrl) io.info(`Temporal UI: ${session.uiUrl}/namespaces/${session.namespace}/workflows/${encodeURIComponent(id)}`);
      let handle: WorkflowHandle;
      try {
        const input: ExportInput = { name: e.name, trigger: 'cli' };
        handle = await session.client.workflow.start(EXPORT_WORKFLOW_TYPE, {
          workflowId: id,
          taskQueue: session.taskQueue,
          args: [input],
          searchAttributes: { [SA.source]: [e.from], [SA.mode]: [EXPORT_MODE] },
          memo: { export: e.name, from: e.from, trigger: 'cli' },
          staticSummary: `Export ${e.name} to PostHog (from ${e.from})`,
          staticDetails: `Sends ${e.from}'s new and changed customers (as persons) and new orders (as events) to PostHog, exactly once.`,
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        io.info(`export ${e.name} is already running; following it instead of starting another`);
        handle = session.client.workflow.getHandle(id);
      }
      let finished = false;
      let last = '';
      const poll = (async () => {
        while (!finished) {
          const line = await currentProgress(e.name, handle).catch(() => undefined);
          if (line && line !== last) io.info(line);
          if (line) last = line;
          await new Promise((r) => setTimeout(r, 300));
        }
      })();
      try {
        const r = (await handle.result()) as ExportResult;
        results.push(r);
        if (!opts.json) io.info(`✓ export ${e.name}: ${describeExport(r)}; cursor ${describeCursor(r.cursorAfter)}`);
      } catch (err) {
        let x: any = err;
        while (x?.cause) x = x.cause;
        const message = redact(String(x?.message ?? err));
        failed++;
        results.push({ name: e.name, from: e.from, outcome: 'failed', persons: 0, events: 0, batches: 0, requests: 0, cursorBefore: {}, cursorAfter: {}, durationMs: 0, error: message });
        io.error(err instanceof WorkflowFailedError ? `export ${e.name} failed: ${message}` : message);
      } finally {
        finished = true;
        await poll;
      }
    }
  } finally {
    await session.close();
  }
  if (opts.json) io.out(JSON.stringify(results, null, 2));
  else
    io.out(
      textTable(
        ['export', 'from', 'outcome', 'persons', 'events', 'batches', 'requests', 'took', 'cursor'],
        results.map((r) => [r.name, r.from, r.error ? `failed: ${r.error}` : r.outcome, r.persons, r.events, r.batches, r.requests, duration(r.durationMs), r.error ? '(unchanged)' : describeCursor(r.cursorAfter)]),
      ),
    );
  return failed ? 1 : 0;
}

/** On a configured cluster the export waits for a worker: say so when none polls the task queue. */
async function warnIfNoWorker(session: TemporalSession, io: Io): Promise<void> {
  try {
    const r = await session.client.workflowService.describeTaskQueue({ namespace: session.namespace, taskQueue: { name: session.taskQueue }, taskQueueType: 1 });
    if (!r.pollers?.length) io.info(`no worker is polling task queue "${session.taskQueue}" on ${session.address}: start one with \`sluice worker\` (the export waits for it)`);
  } catch {
    // best effort
  }
}

async function currentProgress(name: string, handle: WorkflowHandle): Promise<string | undefined> {
  const d = await handle.describe();
  const act = d.raw.pendingActivities?.[0];
  const payload = act?.heartbeatDetails?.payloads?.[0];
  if (!payload) return act ? `export ${name}: starting` : undefined;
  const hb = defaultPayloadConverter.fromPayload<ExportHeartbeat>(payload);
  const retry = act?.lastFailure?.message && (act.attempt ?? 1) > 1 ? ` (attempt ${act.attempt}: ${act.lastFailure.message.slice(0, 80)})` : '';
  return `export ${name}: ${hb.phase}: ${hb.persons} person(s), ${hb.events} event(s), ${hb.batches} batch(es)${hb.waiting ? `; ${hb.waiting}` : ''}${retry}`;
}

/** `sluice check`: each export's project key, verified by PostHog without capturing anything. Returns the failures. */
export async function checkExports(cfg: LoadedConfig, only: string | undefined, io: Io): Promise<number> {
  let failed = 0;
  for (const e of cfg.exports.filter((x) => !only || x.name === only || x.from === only)) {
    const client = new CaptureClient({ host: e.host, projectApiKey: e.projectApiKey, name: e.name, retries: 2, minRetryDelayMs: 200 });
    let r: { ok: boolean; message: string };
    try {
      r = await client.verify();
    } catch (err) {
      r = { ok: false, message: `PostHog at ${e.host} could not be reached: ${(err as Error).message}` };
    } finally {
      await client.close().catch(() => undefined);
    }
    if (!r.ok) failed++;
    io.out(redact(`${r.ok ? '✓' : '✗'} export ${e.name} (posthog, from ${e.from}): ${r.message}`));
  }
  return failed;
}

export interface ExportStatusRow {
  kind: 'export';
  export: string;
  from: string;
  schedule: string;
  cursor: ExportCursor | null;
  cursorText: string;
  lastRun: string | null;
  outcome: string;
  persons: number | null;
  events: number | null;
  batches: number | null;
  error: string | null;
  nextRun: string;
}

const scheduleText = (e: RuntimeExport) => (typeof e.schedule === 'string' ? e.schedule : 'every' in e.schedule ? `every ${e.schedule.every}` : `cron ${e.schedule.cron}`);

/** `sluice status`: each export's cursor and last outcome, from `sluice.exports` in the warehouse. */
export async function exportStatusRows(cfg: LoadedConfig, next?: Map<string, NextRun>): Promise<ExportStatusRow[]> {
  if (cfg.exports.length === 0) return [];
  let states = new Map<string, ExportState>();
  try {
    states = await withLake(cfg.warehouse, { readOnly: true }, ({ conn }) => readExportStates(conn));
  } catch (err) {
    if (!(err instanceof WarehouseMissingError)) throw err;
  }
  return cfg.exports.map((e) => {
    const s = states.get(e.name);
    const cursor = (s?.cursor as ExportCursor | undefined) ?? null;
    return {
      kind: 'export',
      export: e.name,
      from: e.from,
      schedule: scheduleText(e),
      cursor,
      cursorText: describeCursor(cursor ?? undefined),
      lastRun: s?.last?.finishedAt ?? null,
      outcome: s?.last?.outcome ?? (s?.latest ? 'running or interrupted' : 'never exported'),
      persons: s?.last?.persons ?? null,
      events: s?.last?.events ?? null,
      batches: s?.last?.batches ?? null,
      error: s?.last?.error ?? null,
      nextRun: nextRunOf(e, next),
    };
  });
}

function nextRunOf(e: RuntimeExport, next: Map<string, NextRun> | undefined): string {
  if (e.schedule === 'after_sync') return `after each sync of ${e.from}`;
  if (e.schedule === 'manual') return 'on `sluice export`';
  if (!next) return 'unknown (Temporal not reachable)';
  const r = next.get(`sluice:export:${e.name}`);
  if (!r) return 'not applied: run `sluice schedules apply`';
  return r.paused ? 'paused' : (r.next ?? 'none planned');
}

export function printExportStatus(rows: ExportStatusRow[], io: Io): void {
  if (rows.length === 0) return;
  io.out('\nexports (PostHog)');
  io.out(
    textTable(
      ['export', 'from', 'schedule', 'cursor', 'last run', 'outcome', 'persons', 'events', 'batches', 'next run'],
      rows.map((r) => [r.export, r.from, r.schedule, r.cursorText, r.lastRun, r.error ? `${r.outcome}: ${r.error}` : r.outcome, r.persons, r.events, r.batches, r.nextRun]),
    ),
  );
}
