import type { ResolvedTable, SyncMode } from './connector';
import { subtractMs } from './time';
import { EMPTY_COLUMN_POLICY, columnPolicyProblems, protectedFields, type ColumnPolicy } from './policies/columns';
import type { DeletesPolicy } from './policies/deletes';

/** `schema:` of a table: what a commit does when the vendor's records no longer fit the table's columns. */
export const SCHEMA_CONTRACTS = ['evolve', 'freeze', 'discard_new_columns'] as const;
export type SchemaContract = (typeof SCHEMA_CONTRACTS)[number];

/** What sluice.yaml says about one table; both may be left out. */
export interface TableSettings {
  mode?: SyncMode;
  /** The cursor field chosen (`cursor:`). */
  cursor?: string;
  /** `columns:` — fields excluded or hashed before staging. */
  columns?: ColumnPolicy;
  /** `schema:` — the table's schema contract (default evolve). */
  schema?: SchemaContract;
  /** `deletes:` — how rows deleted at the vendor are found and handled. */
  deletes?: DeletesPolicy;
}

/** Choices of one run (the CLI's flags, a schedule's input). */
export interface RunFlags {
  /** Re-read everything and replace the table, whatever its mode. */
  fullRefresh?: boolean;
  /** `--since`/`--until`: re-read this window of the cursor (UTC ISO, both inclusive) and merge it. */
  window?: { since: string; until?: string };
  /** `--confirm-deletes`: a reconciliation may delete more than its table's `deletes.maxFraction`. */
  confirmDeletes?: boolean;
}

/**
 * How one sync runs one table, computed once by {@link planTable} from the table's declaration, its settings
 * and the run's flags. Config validation, the planSource/extract/commit activities, alerts and the CLI read
 * it instead of re-deriving any of it. JSON-serialisable: it travels in workflow inputs.
 */
export interface TableRunPlan {
  table: string;
  /** The configured mode, or the table's default. */
  mode: SyncMode;
  /** What this run does: `full_refresh` when forced by {@link RunFlags.fullRefresh}, otherwise {@link mode}. */
  effectiveMode: SyncMode;
  /** The run was forced to a full refresh. */
  fullRefresh: boolean;
  /** The cursor field in use; undefined for a table without a cursor. */
  cursorField: string | undefined;
  /** How far the lower bound moves back from the saved cursor (late-arriving data); 0 for none. */
  lookbackMs: number;
  /**
   * Fields excluded or hashed before staging (field names only: the hash key stays with the worker).
   * Optional like {@link schemaContract}: a workflow started before they existed carries neither.
   */
  columns?: ColumnPolicy;
  /** What the commit does with new columns and type changes (absent = evolve). */
  schemaContract?: SchemaContract;
  /**
   * A window re-sync: read from `since` (not the saved cursor) and merge; records whose cursor is after
   * `until` are dropped before staging (no connector bounds its read above yet). The saved cursor only
   * moves forward.
   */
  window?: { since: string; until?: string };
  /**
   * `deletes:` — set when this run reconciles deletions after its commit (not on a forced full refresh or a
   * window re-sync: the former is exact already, the latter is about one window).
   */
  deletes?: DeletesPolicy;
  /** `--confirm-deletes`: the reconciliation may go above `deletes.maxFraction`. */
  confirmDeletes?: boolean;
}

/** A setting the table does not accept; `allowed` is empty for a cursor on a table that has none. */
export type PlanProblem =
  | { setting: 'mode' | 'cursor'; value: string; allowed: readonly string[] }
  /** A column policy path the table cannot accept (a key, cursor or partition field; a malformed path). */
  | { setting: 'columns'; list: 'exclude' | 'hash'; index: number; value: string; reason: string }
  /** A window the table cannot re-sync (no cursor, a full-refresh table, --full-refresh). */
  | { setting: 'window'; value: string; reason: string }
  /** A `deletes:` the table cannot honour (no primary key, full_refresh mode, hard on append_only). */
  | { setting: 'deletes'; field: 'detect' | 'handle'; value: string; reason: string };

/**
 * The one place a table's run is decided. A setting the table does not accept is reported in `problems`
 * (config validation shows them all at once); the plan then keeps the configured mode and the default cursor.
 * `sourceConfig` (the source's parsed config) supplies the lookback of a cursor with a `lookbackSetting`.
 */
export function planTable(spec: ResolvedTable, settings: TableSettings = {}, flags: RunFlags = {}, sourceConfig?: unknown): { plan: TableRunPlan; problems: PlanProblem[] } {
  const problems: PlanProblem[] = [];
  const mode = settings.mode ?? spec.defaultMode;
  if (!spec.modes.includes(mode)) problems.push({ setting: 'mode', value: mode, allowed: spec.modes });
  let cursorField = spec.cursor?.default;
  if (settings.cursor !== undefined) {
    if (!spec.cursor) problems.push({ setting: 'cursor', value: settings.cursor, allowed: [] });
    else if (!spec.cursor.fields.includes(settings.cursor)) problems.push({ setting: 'cursor', value: settings.cursor, allowed: spec.cursor.fields });
    else cursorField = settings.cursor;
  }
  const fullRefresh = Boolean(flags.fullRefresh);
  const columns = settings.columns ?? EMPTY_COLUMN_POLICY;
  for (const p of columnPolicyProblems(columns, protectedFields(spec, cursorField))) problems.push({ setting: 'columns', list: p.list, index: p.index, value: p.path, reason: p.reason });
  const window = flags.window;
  if (window) {
    const value = `${window.since}${window.until ? ` … ${window.until}` : ''}`;
    if (fullRefresh) problems.push({ setting: 'window', value, reason: '--since re-reads a window and merges it; --full-refresh replaces the whole table: choose one' });
    else if (!cursorField) problems.push({ setting: 'window', value, reason: `${spec.name} has no cursor, so it has no window to re-read (sync it without --since)` });
    else if (mode === 'full_refresh') problems.push({ setting: 'window', value, reason: `${spec.name} is synced in full_refresh mode, which replaces the whole table; a window re-sync needs incremental or append_only` });
  }
  const deletes = settings.deletes;
  if (deletes) {
    if (spec.primaryKey.length === 0) problems.push({ setting: 'deletes', field: 'detect', value: deletes.detect, reason: `${spec.name} has no primary key, so a stored row cannot be matched with the vendor's live records` });
    else if (mode === 'full_refresh') problems.push({ setting: 'deletes', field: 'detect', value: deletes.detect, reason: `${spec.name} is synced in full_refresh mode, which replaces the whole table on every sync: deleted records are already gone (remove deletes:)` });
    else if (deletes.detect === 'reconcile' && spec.reconcileRefusal) problems.push({ setting: 'deletes', field: 'detect', value: deletes.detect, reason: `${spec.name} cannot reconcile: ${spec.reconcileRefusal}` });
    else if (deletes.detect === 'vendor' && !spec.deleteFeed)
      problems.push({ setting: 'deletes', field: 'detect', value: deletes.detect, reason: `${spec.name} has no vendor delete feed (detect: reconcile finds its deletions by comparing keys)` });
    else if (mode === 'append_only' && deletes.handle === 'hard')
      problems.push({ setting: 'deletes', field: 'handle', value: deletes.handle, reason: `${spec.name} is append_only: its rows are a history of versions that Sluice never removes, so a deletion can only be marked (handle: soft)` });
  }
  // Reconcile after an ordinary sync only: a forced full refresh replaced the table with exactly what the
  // vendor has, and a window re-sync is about one window.
  const reconcile = deletes && !fullRefresh && !window && mode !== 'full_refresh' && spec.primaryKey.length > 0 && (deletes.detect === 'vendor' ? spec.deleteFeed !== undefined : !spec.reconcileRefusal);
  return {
    plan: {
      table: spec.name,
      mode,
      effectiveMode: fullRefresh ? 'full_refresh' : mode,
      fullRefresh,
      cursorField,
      lookbackMs: lookbackOf(spec, sourceConfig),
      columns,
      schemaContract: settings.schema ?? 'evolve',
      ...(window ? { window } : {}),
      ...(reconcile ? { deletes, ...(flags.confirmDeletes ? { confirmDeletes: true } : {}) } : {}),
    },
    problems,
  };
}

function lookbackOf(spec: ResolvedTable, sourceConfig: unknown): number {
  const setting = spec.cursor?.lookbackSetting;
  const chosen = setting && sourceConfig && typeof sourceConfig === 'object' ? (sourceConfig as Record<string, unknown>)[setting.key] : undefined;
  if (setting && typeof chosen === 'number' && Number.isFinite(chosen)) return chosen * setting.unitMs;
  return spec.cursor?.lookbackMs ?? 0;
}

/**
 * The inclusive lower bound a run reads from: the saved cursor moved back by the lookback, when the run is
 * incremental and the cursor was kept for the same field; otherwise undefined (read everything).
 */
export function planLowerBound(plan: Pick<TableRunPlan, 'effectiveMode' | 'cursorField' | 'lookbackMs' | 'window'>, saved: { cursor?: string; cursorField?: string } | undefined): string | undefined {
  // A window re-sync reads from where the operator said, whatever the saved cursor.
  if (plan.window && plan.effectiveMode !== 'full_refresh') return plan.window.since;
  if (plan.effectiveMode === 'full_refresh' || !saved?.cursor || saved.cursorField !== plan.cursorField) return undefined;
  return plan.lookbackMs > 0 ? subtractMs(saved.cursor, plan.lookbackMs) : saved.cursor;
}
