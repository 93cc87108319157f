/**
 * Names and types of the PostHog export workflow (`exports:` in sluice.yaml), shared by the workflow, its
 * activities, the worker and clients (the CLI, schedules, the sync workflow that starts it after a sync).
 * Workflow code imports this file: no Node built-ins, no I/O.
 */

/** One run of an export at a time (Temporal refuses a second run with the same id). */
export const exportWorkflowId = (name: string) => `sluice:export:${name}`;
export const EXPORT_WORKFLOW_TYPE = 'exportToPostHog';
/** The value of the SluiceMode search attribute on export runs (their SluiceSource is the `from:` source). */
export const EXPORT_MODE = 'export';

export interface ExportInput {
  name: string;
  trigger: 'cli' | 'schedule' | 'after_sync' | 'api';
}

/** Where an export stands in one of its streams: the (updated time, id) of the last record PostHog accepted. */
export interface StreamCursor {
  /** The record's updated time (Shopify `updatedAt`, commercetools `lastModifiedAt`), µs since the epoch. */
  updatedUs: number;
  id: string;
}

/** The export's cursor, committed to `sluice.exports` in the warehouse after each accepted batch. */
export interface ExportCursor {
  customers?: StreamCursor;
  orders?: StreamCursor;
}

/** What the export activity heartbeats (the CLI and the Temporal UI show it). */
export interface ExportHeartbeat {
  phase: 'reading' | 'persons' | 'orders' | 'done';
  persons: number;
  events: number;
  batches: number;
  /** Set while PostHog asked us to wait (429 Retry-After) or a retry is pending. */
  waiting?: string;
}

export interface ExportResult {
  name: string;
  from: string;
  outcome: 'succeeded' | 'failed';
  /** `$identify` events sent (one per new or changed customer). */
  persons: number;
  /** Every event sent, `$identify` included. */
  events: number;
  /** Batches PostHog accepted. */
  batches: number;
  /** HTTP requests made (retries included). */
  requests: number;
  cursorBefore: ExportCursor;
  cursorAfter: ExportCursor;
  durationMs: number;
  error?: string;
}

/** The `progress` query of an export run. */
export interface ExportProgress {
  name: string;
  phase: 'running' | 'succeeded' | 'failed';
  result?: ExportResult;
  error?: string;
}

export interface ExportFailureInput {
  name: string;
  runId: string;
  startedAt: string;
  error: string;
}

/** A cursor for people: "orders 2024-05-01T10:00:00.000Z / gid://…/Order/12". */
export function describeCursor(c: ExportCursor | undefined): string {
  if (!c || (!c.customers && !c.orders)) return 'none (the next run sends everything)';
  const one = (s: StreamCursor | undefined) => (s ? new Date(Math.floor(s.updatedUs / 1000)).toISOString() : 'none');
  return `customers ${one(c.customers)}, orders ${one(c.orders)}`;
}

export function describeExport(r: ExportResult): string {
  return `${r.persons} person(s), ${r.events} event(s) in ${r.batches} batch(es), ${r.requests} request(s)`;
}

type ExportSchedule = 'after_sync' | 'manual' | { every: string; jitter?: string; paused?: boolean } | { cron: string; jitter?: string; paused?: boolean };

/** An export as a worker knows it, from sluice.yaml (the project key stays in the worker: never in Temporal). */
export interface RuntimeExport {
  name: string;
  type: 'posthog';
  /** The shopify or commercetools source it reads, and that source's type. */
  from: string;
  sourceType: string;
  schedule: ExportSchedule;
  host: string;
  projectApiKey: string;
  events: { order: string; refunded: string; cancelled: string };
  distinctId: 'email' | 'customer_id';
  batchSize: number;
}
