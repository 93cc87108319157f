import { ApplicationFailure, defineQuery, proxyActivities, setCurrentDetails, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { failureMessage, failureType } from './failure';
import type { MaintenanceActivities } from './maintenance-activity';
import { DEFAULT_MAINTENANCE_RETENTION_DAYS, describeMaintenance, type MaintenanceInput, type MaintenanceOutcome, type MaintenanceProgress } from './maintenance-shared';
import { SEARCH_ATTRIBUTES as SA } from './shared';

/**
 * `maintainWarehouse` (id `sluice:maintenance`, scheduled from `maintenance:` in sluice.yaml, default
 * daily; `sluice maintenance` runs it now): merges small files, expires old snapshots, deletes files no
 * snapshot needs. One activity does the work and heartbeats its step; the outcome goes into the memo,
 * the search attribute SluiceOutcome and the run's current details, for the Temporal UI.
 */
export const maintenanceProgressQuery = defineQuery<MaintenanceProgress>('progress');

const { maintainWarehouseActivity } = proxyActivities<MaintenanceActivities>({
  // Merging a large lake can take a while; liveness is the heartbeat.
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '30 seconds', backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: ['Sluice.maintenance-refused'] },
});

export async function maintainWarehouse(input: MaintenanceInput = {}): Promise<MaintenanceOutcome> {
  const retentionDays = input.retentionDays ?? DEFAULT_MAINTENANCE_RETENTION_DAYS;
  const progress: MaintenanceProgress = { phase: 'running', retentionDays };
  setHandler(maintenanceProgressQuery, () => progress);
  setCurrentDetails(`Maintenance running: retention ${retentionDays} day(s)`);
  try {
    const result = await maintainWarehouseActivity({ ...input, retentionDays });
    progress.phase = 'succeeded';
    progress.result = result;
    upsertMemo({ ...result, oldestSnapshot: result.oldestSnapshot ?? null, retentionDays });
    upsertSearchAttributes({ [SA.outcome]: ['succeeded'] });
    setCurrentDetails(`Maintenance done: ${describeMaintenance(result)}`);
    return result;
  } catch (err) {
    const message = failureMessage(err);
    progress.phase = 'failed';
    progress.error = message;
    upsertMemo({ error: message, retentionDays });
    upsertSearchAttributes({ [SA.outcome]: ['failed'] });
    setCurrentDetails(`Maintenance failed: ${message}`);
    throw ApplicationFailure.create({ message: `maintenance: ${message}`, type: failureType(err, 'Sluice.maintenance'), nonRetryable: true });
  }
}
