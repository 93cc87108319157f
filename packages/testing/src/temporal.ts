import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { createLogger } from '@sluice/core';
import { temporalLogger } from '@sluice/workflows/telemetry';
import type { Client } from '@temporalio/client';

/**
 * Temporal-side evidence for the conformance checks: the worker's log lines (activity and workflow
 * logs go through the Temporal Runtime logger) and the full event history of every workflow the
 * suite ran, payloads decoded, so they can be searched for secrets.
 */

export interface LogCapture {
  lines: string[];
  /** False when another piece of code installed the Temporal Runtime first in this process. */
  installed: boolean;
}

let capture: LogCapture | undefined;

/**
 * Installs the Temporal Runtime with the logger a worker uses in production (Sluice's redacting pino,
 * workflows/src/telemetry.ts), at debug level, writing into memory. Call before the first worker starts.
 */
export function captureTemporalLogs(): LogCapture {
  if (capture) return capture;
  const lines: string[] = [];
  let installed = false;
  try {
    const destination = { write: (s: string) => void lines.push(s) };
    Runtime.install({
      logger: temporalLogger(createLogger({ name: 'sluice-worker', level: 'debug', format: 'json', destination })),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
    });
    installed = true;
  } catch {
    installed = false;
  }
  capture = { lines, installed };
  return capture;
}

/** Every byte array in a history becomes text (payloads are JSON bytes), so a plain search finds secrets. */
export function historyText(history: unknown): string {
  return JSON.stringify(history, (_k, v) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return Buffer.from((v as { data: number[] }).data).toString('utf8');
    if (typeof v === 'bigint') return String(v);
    // protobufjs Long
    if (v && typeof v === 'object' && 'low' in v && 'high' in v && 'unsigned' in v) return String(v);
    return v;
  });
}

export interface WorkflowRun {
  workflowId: string;
  runId: string;
  type: string;
}

/** Workflows run on a task queue; waits (visibility is eventually consistent) until every expected id is listed. */
export async function listRuns(client: Client, taskQueue: string, expectIds: string[] = [], timeoutMs = 10_000): Promise<WorkflowRun[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs: WorkflowRun[] = [];
    for await (const w of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) runs.push({ workflowId: w.workflowId, runId: w.runId, type: w.type });
    const ids = new Set(runs.map((r) => r.workflowId));
    if (expectIds.every((id) => ids.has(id)) || Date.now() > deadline) return runs;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The decoded JSON results of a workflow's completed activities of one type (latest run of the id). */
export async function activityResults(client: Client, workflowId: string, activityType: string): Promise<unknown[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const types = new Map<string, string>();
  const out: unknown[] = [];
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) types.set(id, scheduled.activityType?.name ?? '');
    const done = e.activityTaskCompletedEventAttributes;
    if (done && types.get(String(done.scheduledEventId)) === activityType) {
      const data = done.result?.payloads?.[0]?.data;
      out.push(data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined);
    }
  }
  return out;
}

/** Attempt numbers of every activity a workflow started (latest run of the id), by activity type. */
export async function activityAttempts(client: Client, workflowId: string): Promise<{ type: string; attempt: number }[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const types = new Map<string, string>();
  const out: { type: string; attempt: number }[] = [];
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '');
    const started = e.activityTaskStartedEventAttributes;
    if (started) out.push({ type: types.get(String(started.scheduledEventId)) ?? '?', attempt: started.attempt ?? 1 });
  }
  return out;
}
