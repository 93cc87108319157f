/**
 * Names and types of the warehouse maintenance workflow, shared by the workflow, its activity, the worker
 * and clients (the CLI, schedules). Workflow code imports this file: no Node built-ins, no I/O (the
 * warehouse's types only, erased at build time).
 */
import type { MaintenanceResult } from '@sluice/warehouse/maintenance';

/** One maintenance at a time per warehouse (Temporal refuses a second run with the same id). */
export const MAINTENANCE_WORKFLOW_ID = 'sluice:maintenance';
export const MAINTENANCE_WORKFLOW_TYPE = 'maintainWarehouse';
export const DEFAULT_MAINTENANCE_RETENTION_DAYS = 7;

export interface MaintenanceInput {
  /** Snapshots older than this are expired (time travel reaches back this far). Default 7. */
  retentionDays?: number;
  trigger?: 'cli' | 'schedule' | 'api';
}

/** Heartbeat details of the maintenance activity: its current step (the CLI and the UI show them). */
export interface MaintenanceHeartbeat {
  step: string;
  message: string;
  done?: number;
  total?: number;
}

/** What one maintenance did (plain data: it travels in workflow history). */
export type MaintenanceOutcome = MaintenanceResult;

/** The `progress` query of a maintenance run. */
export interface MaintenanceProgress {
  phase: 'running' | 'succeeded' | 'failed';
  retentionDays: number;
  result?: MaintenanceOutcome;
  error?: string;
}

/** One line for the UI's details and the CLI. */
export function describeMaintenance(r: MaintenanceOutcome): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  return [
    `files ${r.filesBefore} → ${r.filesAfter} (${r.filesMerged} merged into ${r.filesCreated})`,
    `${r.snapshotsExpired} snapshot(s) expired, ${r.snapshotsKept} kept${r.oldestSnapshot ? ` (oldest ${r.oldestSnapshot.id} at ${r.oldestSnapshot.time})` : ''}`,
    `${r.filesDeleted} file(s) deleted (${r.orphansDeleted} orphaned), ${mb(r.bytesFreed)} freed`,
    ...(r.filesAwaitingDeletion ? [`${r.filesAwaitingDeletion} merged-away file(s) deleted by the next run`] : []),
  ].join('; ');
}
