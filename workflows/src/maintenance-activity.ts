import { ApplicationFailure, Context } from '@temporalio/activity';
import { errorMessage, redact } from '@sluice/core';
import { maintainLake, type MaintenanceProgress } from '@sluice/warehouse';
import type { Runtime } from './runtime';
import type { MaintenanceHeartbeat, MaintenanceInput, MaintenanceOutcome } from './maintenance-shared';

/**
 * The maintenance activity (registered by the worker next to createActivities): runs maintainLake on the
 * worker's warehouse, heartbeating its current step (and on a timer while one long DuckDB call runs).
 */
export function createMaintenanceActivities(rt: Runtime) {
  return {
    async maintainWarehouseActivity(input: MaintenanceInput): Promise<MaintenanceOutcome> {
      const ctx = Context.current();
      let current: MaintenanceHeartbeat = { step: 'starting', message: 'opening the lake' };
      const beat = () => ctx.heartbeat(current);
      beat();
      const timer = setInterval(beat, 10_000);
      try {
        const result = await maintainLake(rt.warehouse, {
          retentionDays: input.retentionDays,
          onProgress: (p: MaintenanceProgress) => {
            current = { step: p.step, message: p.message, ...(p.total !== undefined ? { done: p.done, total: p.total } : {}) };
            beat();
            // The steps are in the heartbeat (UI, `sluice maintenance`); the log keeps the outcome.
            if (p.step === 'done') ctx.log.info(`maintenance: ${p.message}`);
            else ctx.log.debug(`maintenance: ${p.message}`);
          },
          onRetry: (attempt, err) => ctx.log.warn(`maintenance: catalog busy (attempt ${attempt}), retrying: ${errorMessage(err)}`),
        });
        return { ...result };
      } catch (err) {
        // DuckDB's internal errors carry a native stack trace: keep the message (Temporal limits a failure's size).
        const message = redact(errorMessage(err).split(/\n\s*Stack Trace:/)[0]!.trim().slice(0, 2000));
        // A refusal to delete (the data path does not match the catalog's) needs an operator: never retried.
        if (/refused to delete/.test(message)) throw ApplicationFailure.create({ type: 'Sluice.maintenance-refused', message, nonRetryable: true });
        throw ApplicationFailure.create({ type: 'Sluice.maintenance', message, nonRetryable: false });
      } finally {
        clearInterval(timer);
      }
    },
  };
}

export type MaintenanceActivities = ReturnType<typeof createMaintenanceActivities>;
