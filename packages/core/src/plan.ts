import type { ResolvedTable, SyncMode } from './connector';
import { subtractMs } from './time';

/** What sluice.yaml says about one table; both may be left out. */
export interface TableSettings {
  mode?: SyncMode;
  /** The cursor field chosen (`cursor:`). */
  cursor?: string;
}

/** Choices of one run (the CLI's flags, a schedule's input). */
export interface RunFlags {
  /** Re-read everything and replace the table, whatever its mode. */
  fullRefresh?: boolean;
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
}

/** A setting the table does not accept; `allowed` is empty for a cursor on a table that has none. */
export interface PlanProblem {
  setting: 'mode' | 'cursor';
  value: string;
  allowed: readonly string[];
}

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
  return {
    plan: { table: spec.name, mode, effectiveMode: fullRefresh ? 'full_refresh' : mode, fullRefresh, cursorField, lookbackMs: lookbackOf(spec, sourceConfig) },
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
export function planLowerBound(plan: Pick<TableRunPlan, 'effectiveMode' | 'cursorField' | 'lookbackMs'>, saved: { cursor?: string; cursorField?: string } | undefined): string | undefined {
  if (plan.effectiveMode === 'full_refresh' || !saved?.cursor || saved.cursorField !== plan.cursorField) return undefined;
  return plan.lookbackMs > 0 ? subtractMs(saved.cursor, plan.lookbackMs) : saved.cursor;
}
