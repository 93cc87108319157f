import { syncHistory } from '@sluice/warehouse';
import { redact } from '@sluice/core';
import type { Runtime } from './runtime';
import type { TablePlan } from './shared';

/**
 * Failure alerts (`alerts: { webhook, afterFailedIntervals }` in sluice.yaml): when a table's sync fails,
 * the syncTable workflow runs the `alertTableFailure` activity, which POSTs a JSON payload to the webhook
 * once the table has failed `afterFailedIntervals` times in a row (by its sync history in sluice.syncs;
 * for a scheduled table that is N scheduled intervals without a success). Messages are redacted.
 */
export interface FailureAlert {
  event: 'sluice.table_sync_failed';
  source: string;
  table: string;
  mode: string;
  error: string;
  /** Failed syncs in a row, this one included. */
  consecutiveFailures: number;
  afterFailedIntervals: number;
  lastSucceededAt: string | null;
  failedAt: string;
  workflowId: string;
  runId: string;
  namespace: string;
  /** The failed workflow in the Temporal Web UI, when its address is known. */
  url: string | null;
  /** Human-readable one-liner (for chat webhooks). */
  text: string;
}

export interface AlertContext {
  workflowExecution: { workflowId: string; runId: string };
  workflowNamespace: string;
}

export function workflowUiUrl(uiUrl: string | undefined, namespace: string, workflowId: string, runId: string): string | null {
  if (!uiUrl) return null;
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

export async function sendFailureAlert(rt: Runtime, input: TablePlan & { syncId: string; error: string }, ctx: AlertContext): Promise<{ sent: boolean; consecutiveFailures: number }> {
  const alerts = rt.alerts;
  if (!alerts) return { sent: false, consecutiveFailures: 0 };
  const syncs = await syncHistory(rt.warehouse, input.source, input.table); // newest first
  let consecutive = syncs.findIndex((s) => s.outcome !== 'failed');
  if (consecutive < 0) consecutive = syncs.length;
  // The failure being reported is recorded before the alert runs; count it if it is not (yet) there.
  if (!syncs.some((s) => s.syncId === input.syncId)) consecutive++;
  if (consecutive < alerts.afterFailedIntervals) return { sent: false, consecutiveFailures: consecutive };
  const { workflowId, runId } = ctx.workflowExecution;
  const error = redact(input.error);
  const payload: FailureAlert = {
    event: 'sluice.table_sync_failed',
    source: input.source,
    table: input.table,
    mode: input.effectiveMode,
    error,
    consecutiveFailures: consecutive,
    afterFailedIntervals: alerts.afterFailedIntervals,
    lastSucceededAt: syncs.find((s) => s.outcome === 'succeeded')?.finishedAt ?? null,
    failedAt: new Date().toISOString(),
    workflowId,
    runId,
    namespace: ctx.workflowNamespace,
    url: workflowUiUrl(rt.uiUrl, ctx.workflowNamespace, workflowId, runId),
    text: `Sluice: sync of ${input.source}.${input.table} failed${consecutive > 1 ? ` (${consecutive} times in a row)` : ''}: ${error}`,
  };
  const res = await fetch(alerts.webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'sluice-alerts' },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer().catch(() => undefined);
  // A failing webhook is retried by the activity's retry policy.
  if (!res.ok) throw new Error(`alert webhook answered HTTP ${res.status}`);
  return { sent: true, consecutiveFailures: consecutive };
}
