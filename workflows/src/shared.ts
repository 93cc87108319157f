/**
 * Names and types shared by workflows, activities, the worker and clients. Workflow code imports only
 * this file (and @temporalio/workflow): no Node built-ins, no I/O, no vendor logic.
 */
import type { SyncMode } from '@sluice/core/connector';
import type { TableRunPlan } from '@sluice/core/plan';

export const DEFAULT_TASK_QUEUE = 'sluice';
/** Failure type of a reconciliation above `deletes.maxFraction` (not retried: it needs --confirm-deletes). */
export const DELETES_UNCONFIRMED = 'Sluice.deletes_unconfirmed';
/** `deletes: { detect: vendor }`: the saved feed cursor is older than the vendor keeps its events (not retried). */
export const DELETE_FEED_EXPIRED = 'Sluice.delete_feed_expired';
export const SEARCH_ATTRIBUTES = { source: 'SluiceSource', table: 'SluiceTable', mode: 'SluiceMode', outcome: 'SluiceOutcome' } as const;

export const sourceWorkflowId = (source: string) => `sluice:${source}`;
export const tableWorkflowId = (source: string, table: string) => `sluice:${source}:${table}`;
export const checkWorkflowId = (source: string) => `sluice:${source}:check`;

export interface SyncSourceInput {
  source: string;
  /** Subset of tables; undefined = every table configured for the source. */
  tables?: string[];
  fullRefresh?: boolean;
  /** `--since`/`--until`: re-read this window of each table's cursor (UTC ISO, inclusive) and merge it. */
  window?: { since: string; until?: string };
  /** `--confirm-deletes`: a reconciliation may delete more than its table's `deletes.maxFraction`. */
  confirmDeletes?: boolean;
  trigger: 'cli' | 'schedule' | 'api';
}

/** One table's run (computed once by `planTable` in the planSource activity), and its source. */
export interface TablePlan extends TableRunPlan {
  source: string;
}

export interface ExtractInput extends TablePlan {
  syncId: string;
}

export interface ExtractSummary {
  syncId: string;
  pages: number;
  rows: number;
  since?: string;
  maxCursor?: string;
  /** Pages a retried attempt found already staged (resumed, not re-read). */
  resumedPages: number;
  /** Records whose cursor was below the requested lower bound (vendor ordering problems). */
  belowBound: number;
  /** A window re-sync with --until: records read with a cursor after it, not staged. */
  afterUntil?: number;
  /** The staging state (pages, column types, max cursor) the commit reads the staged files with. */
  staging: unknown;
  /** The task queue of the worker whose disk holds the staged pages: the commit runs there. */
  stagedOn?: string;
  durationMs: number;
  waitedMs: number;
  requests: number;
}

export interface CommitInput extends TablePlan {
  syncId: string;
  startedAt: string;
  extract: ExtractSummary;
}

export interface TableResult {
  source: string;
  table: string;
  mode: SyncMode;
  outcome: 'succeeded' | 'failed' | 'skipped';
  rowsRead: number;
  rowsWritten: number;
  tableRows?: number;
  pages: number;
  cursorField?: string;
  cursorBefore?: string;
  cursorAfter?: string;
  schemaChanges: string[];
  /** Anomalies that did not fail the sync (e.g. stale versions ignored). */
  warnings?: string[];
  /** schema: discard_new_columns — new fields not written: column → non-null values dropped. */
  discardedColumns?: Record<string, number>;
  /** deletes: reconcile — rows marked deleted (soft) or removed (hard) by this sync's reconciliation. */
  rowsDeleted?: number;
  /** deletes: reconcile with `every` — not due this sync: when the table was last reconciled. */
  reconcileSkipped?: { lastReconciledAt: string };
  durationMs: number;
  error?: string;
}

export interface SourceResult {
  source: string;
  outcome: 'succeeded' | 'failed' | 'partial';
  tables: TableResult[];
  durationMs: number;
}

/** What an extract activity heartbeats: the resumable staging state plus what an operator wants to see. */
export interface ExtractHeartbeat {
  phase: 'extracting';
  pages: number;
  rows: number;
  cursor?: string;
  /** Set while the vendor's rate limit makes us wait. */
  waiting?: { reason: string; until: string };
  retries: number;
  staging: unknown;
}

/** The input of the reconcileTable activity: the table's run, after its commit. */
export interface ReconcileInput extends TablePlan {
  syncId: string;
}

export interface ReconcileSummary {
  /** Not due (`deletes.every` has not elapsed since the last reconciliation): nothing was read. */
  skipped?: { lastReconciledAt: string };
  rowsDeleted: number;
  rowsRestored: number;
  liveKeys: number;
  pages: number;
  durationMs: number;
}

/** What a reconcileTable activity heartbeats (the progress display shows its phase, pages and keys). */
export interface ReconcileHeartbeat {
  phase: 'reconciling';
  step: 'scanning keys' | 'confirming missing keys' | 'reading the delete feed' | 'applying';
  pages: number;
  /** Keys read so far (shown as rows). */
  rows: number;
}

export interface TableProgress {
  table: string;
  phase: 'pending' | 'extracting' | 'committing' | 'reconciling' | 'succeeded' | 'failed' | 'skipped';
  result?: TableResult;
}

export interface SourceProgress {
  source: string;
  phase: 'planning' | 'syncing' | 'done';
  tables: TableProgress[];
}

export interface CheckInput {
  source: string;
}
export interface CheckOutput {
  ok: boolean;
  message: string;
  warnings: string[];
}
