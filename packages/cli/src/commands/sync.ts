import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { SEARCH_ATTRIBUTES as SA, sourceWorkflowId, type SourceResult, type SyncSourceInput } from '@sluice/workflows';
import { loadConfig, type LoadedConfig } from '../config';
import { openTemporal } from '../temporal';
import { ProgressDisplay, snapshot } from '../progress';
import { duration, textTable } from '../format';
import { UsageError, type Io } from '../io';
import { windowOf } from '../sync-window';

export interface SyncOptions {
  config: string;
  source?: string;
  table: string[];
  fullRefresh: boolean;
  /** `--since`/`--until`: a window re-sync (sync-window.ts). */
  since?: string;
  until?: string;
  /** `--confirm-deletes`: a reconciliation may delete more than its table's deletes.maxFraction. */
  confirmDeletes?: boolean;
  json?: boolean;
}

/** Which sources and tables a `sync` invocation means, refusing unknown names before anything runs. */
export function selectTargets(cfg: LoadedConfig, source: string | undefined, tables: string[]): { source: string; tables?: string[] }[] {
  const sources = source ? cfg.sources.filter((s) => s.name === source) : cfg.sources;
  if (source && sources.length === 0) throw new UsageError(`unknown source "${source}" in ${cfg.file}; sources: ${cfg.sources.map((s) => s.name).join(', ') || 'none'}`);
  if (sources.length === 0) throw new UsageError(`no sources in ${cfg.file}: add one under sources:`);
  const out: { source: string; tables?: string[] }[] = [];
  for (const t of tables) {
    if (!sources.some((s) => s.connector.tables.some((x) => x.name === t))) {
      const known = [...new Set(sources.flatMap((s) => s.connector.tables.map((x) => x.name)))];
      throw new UsageError(`unknown table "${t}"${source ? ` for source ${source}` : ''}; tables: ${known.join(', ')}`);
    }
  }
  for (const s of sources) {
    if (tables.length === 0) out.push({ source: s.name });
    else {
      const mine = tables.filter((t) => s.connector.tables.some((x) => x.name === t));
      if (mine.length) out.push({ source: s.name, tables: mine });
    }
  }
  return out;
}

export async function syncCommand(opts: SyncOptions, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  // A confirmation is about one table's deletion that the operator has looked at, not every table's.
  if (opts.confirmDeletes && (!opts.source || opts.table.length === 0)) throw new UsageError('--confirm-deletes confirms one table\'s deletions: name the source and the table (sluice sync SOURCE --table T --confirm-deletes)');
  const targets = selectTargets(cfg, opts.source, opts.table);
  const window = windowOf(cfg, targets, opts);
  const session = await openTemporal(cfg, { worker: !cfg.temporal, say: io.info });
  try {
    if (session.uiUrl) io.info(`Temporal UI: ${session.uiUrl}/namespaces/${session.namespace}/workflows`);
    if (window)
      io.info(`re-syncing the window ${window.since} … ${window.until ?? 'now'} (cursor); the saved cursor only moves forward${window.until ? '; records after --until are read and dropped before staging' : ''}`);
    const handles = await Promise.all(
      targets.map(async (t) => {
        const input: SyncSourceInput = { source: t.source, tables: t.tables, fullRefresh: opts.fullRefresh, ...(window ? { window } : {}), ...(opts.confirmDeletes ? { confirmDeletes: true } : {}), trigger: 'cli' };
        try {
          return await session.client.workflow.start('syncSource', {
            workflowId: sourceWorkflowId(t.source),
            taskQueue: session.taskQueue,
            args: [input],
            searchAttributes: { [SA.source]: [t.source] },
            memo: { trigger: 'cli', tables: t.tables ?? 'all', fullRefresh: opts.fullRefresh },
            staticSummary: `Sync source ${t.source}${t.tables ? ` (${t.tables.join(', ')})` : ''}${opts.fullRefresh ? ', full refresh' : ''}${window ? `, window ${window.since} … ${window.until ?? 'now'}` : ''}`,
          });
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) {
            io.info(`a sync of ${t.source} is already running; following it instead of starting another`);
            return session.client.workflow.getHandle(sourceWorkflowId(t.source));
          }
          throw err;
        }
      }),
    );
    if (!session.worker) await warnIfNoWorker(session, io);
    const display = new ProgressDisplay(io.stderr);
    let finished = false;
    const poll = (async () => {
      while (!finished) {
        display.update(await snapshot(session.client, targets.map((t) => t.source)).catch(() => []));
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const results: SourceResult[] = [];
    let failedSources = 0;
    for (const h of handles) {
      try {
        results.push((await h.result()) as SourceResult);
      } catch (err) {
        failedSources++;
        io.error(err instanceof WorkflowFailedError ? `${h.workflowId} failed: ${innermost(err)}` : String(err));
      }
    }
    finished = true;
    await poll;
    display.update(await snapshot(session.client, targets.map((t) => t.source)).catch(() => []));
    const rows = results.flatMap((r) => r.tables.map((t) => [t.source, t.table, t.mode, t.outcome, t.rowsRead, t.rowsWritten, t.tableRows ?? '', t.cursorAfter ?? '', duration(t.durationMs), t.error ?? [t.schemaChanges.length ? `schema: ${t.schemaChanges.join('; ')}` : '', t.rowsDeleted !== undefined ? `deleted at the vendor: ${t.rowsDeleted}` : '', ...(t.warnings ?? []).map((w) => `⚠ ${w}`)].filter(Boolean).join(' | ')]));
    if (opts.json) io.out(JSON.stringify(results, null, 2));
    else io.out(textTable(['source', 'table', 'mode', 'outcome', 'read', 'written', 'table rows', 'cursor', 'took', 'note'], rows));
    const failedTables = results.flatMap((r) => r.tables).filter((t) => t.outcome === 'failed');
    for (const t of failedTables) io.error(`✗ ${t.source}.${t.table}: ${t.error}`);
    return failedTables.length || failedSources ? 1 : 0;
  } finally {
    await session.close();
  }
}

/** With a configured cluster the work waits for a `sluice worker`: say so instead of hanging silently. */
async function warnIfNoWorker(session: Awaited<ReturnType<typeof openTemporal>>, io: Io): Promise<void> {
  try {
    const r = await session.client.workflowService.describeTaskQueue({ namespace: session.namespace, taskQueue: { name: session.taskQueue }, taskQueueType: 1 });
    if (!r.pollers?.length) io.info(`no worker is polling task queue "${session.taskQueue}" on ${session.address}: start one with \`sluice worker\` (the sync waits for it)`);
  } catch {
    // best effort
  }
}

function innermost(err: unknown): string {
  let e: any = err;
  while (e?.cause) e = e.cause;
  return e?.message ?? String(err);
}
