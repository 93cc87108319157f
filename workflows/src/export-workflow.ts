import { ApplicationFailure, defineQuery, proxyActivities, setCurrentDetails, setHandler, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { failureMessage, failureType } from './failure';
import { NON_RETRYABLE_FAILURE_TYPES } from '@sluice/core/errors';
import type { ExportActivities } from './export-activity';
import { describeCursor, describeExport, type ExportInput, type ExportProgress, type ExportResult } from './export-shared';
import { SEARCH_ATTRIBUTES as SA } from './shared';

/**
 * `exportToPostHog` (id `sluice:export:<name>`): sends a shopify or commercetools source's new and changed
 * customers (as persons) and new orders (as events) from the warehouse to PostHog. Started by
 * `sluice export`, by the sync of its source (schedule `after_sync`), or by its own Temporal Schedule.
 * One activity does the work, heartbeating persons/events/batches; its cursor is committed in the
 * warehouse batch by batch, so a retried attempt (a dead worker) carries on from the last accepted batch.
 */
export const exportProgressQuery = defineQuery<ExportProgress>('progress');

const { runExport } = proxyActivities<ExportActivities>({
  // A large backfill (or PostHog asking us to wait) takes a while; liveness is the heartbeat.
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 6, nonRetryableErrorTypes: NON_RETRYABLE_FAILURE_TYPES },
});

const { recordExportFailure } = proxyActivities<ExportActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

export async function exportToPostHog(input: ExportInput): Promise<ExportResult> {
  const progress: ExportProgress = { name: input.name, phase: 'running' };
  setHandler(exportProgressQuery, () => progress);
  const info = workflowInfo();
  const startedAt = new Date(Date.now()).toISOString();
  setCurrentDetails(`Export ${input.name} running (${input.trigger})`);
  try {
    const result = await runExport(input);
    progress.phase = 'succeeded';
    progress.result = result;
    upsertMemo({ persons: result.persons, events: result.events, batches: result.batches, requests: result.requests, durationMs: result.durationMs, cursor: describeCursor(result.cursorAfter) });
    upsertSearchAttributes({ [SA.outcome]: ['succeeded'] });
    setCurrentDetails(`Export ${input.name} done: ${describeExport(result)}; cursor ${describeCursor(result.cursorAfter)}`);
    return result;
  } catch (err) {
    const message = failureMessage(err);
    progress.phase = 'failed';
    progress.error = message;
    upsertMemo({ error: message });
    upsertSearchAttributes({ [SA.outcome]: ['failed'] });
    setCurrentDetails(`Export ${input.name} failed: ${message}`);
    await recordExportFailure({ name: input.name, runId: info.runId, startedAt, error: message }).catch(() => undefined);
    throw ApplicationFailure.create({ message: `export ${input.name}: ${message}`, type: failureType(err, 'Sluice.export'), nonRetryable: true });
  }
}
