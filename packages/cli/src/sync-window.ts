import { planTable } from '@sluice/core';
import { parseWindowBound } from '@sluice/core/policies/window';
import type { LoadedConfig } from './config';
import { UsageError } from './io';

/**
 * `sluice sync SOURCE --table T --since A [--until B]`: the window, checked before anything starts. Each
 * table it applies to must be able to re-read a window (a cursor; incremental or append_only; not with
 * --full-refresh); `planTable` says why not, and the error names the table.
 */
export function windowOf(
  cfg: LoadedConfig,
  targets: { source: string; tables?: string[] }[],
  opts: { since?: string; until?: string; fullRefresh: boolean },
): { since: string; until?: string } | undefined {
  if (opts.since === undefined) {
    if (opts.until !== undefined) throw new UsageError('--until needs --since: a window re-sync reads from --since to --until');
    return undefined;
  }
  if (opts.fullRefresh) throw new UsageError('--since re-reads a window and merges it, --full-refresh replaces whole tables: use one or the other');
  const since = parseWindowBound(opts.since);
  if (!since) throw new UsageError(`--since ${JSON.stringify(opts.since)}: expected a date (2024-01-01, midnight UTC) or an ISO 8601 instant with an offset (2024-01-01T09:00:00Z)`);
  const until = opts.until === undefined ? undefined : parseWindowBound(opts.until);
  if (opts.until !== undefined && !until) throw new UsageError(`--until ${JSON.stringify(opts.until)}: expected a date (2024-01-31, midnight UTC) or an ISO 8601 instant with an offset`);
  if (until && Date.parse(until) < Date.parse(since)) throw new UsageError(`--until ${until} is before --since ${since}`);
  const window = { since, ...(until ? { until } : {}) };
  for (const t of targets) {
    const src = cfg.sources.find((s) => s.name === t.source)!;
    for (const name of t.tables ?? src.tables.map((x) => x.name)) {
      const spec = src.connector.tables.find((x) => x.name === name)!;
      const configured = src.tables.find((x) => x.name === name);
      const refused = planTable(spec, { mode: configured?.mode, cursor: configured?.cursorField }, { window }).problems.find((p) => p.setting === 'window');
      if (refused) throw new UsageError(`--since: ${src.name}.${name}: ${refused.reason}`);
    }
  }
  return window;
}
