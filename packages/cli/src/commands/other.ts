import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporalDefaults } from '../temporal.config';
import { sourceWorkflowId, checkWorkflowId, startWorker, workflowBundle, type CheckOutput } from '@sluice/workflows';
import { ensureExtensions, extensionDirectory, listTables, queryWarehouse, QueryError } from '@sluice/warehouse';
import { connectorCatalogue, tableCatalogue } from '@sluice/core';
import { CONNECTORS } from '@sluice/connectors/registry';
import { loadConfig, type LoadedConfig } from '../config';
import { scheduleIntervalMs, startStalenessWatchdog, type ScheduledUnit } from '@sluice/workflows/watchdog';
import { openTemporal } from '../temporal';
import { runtimeOf } from '../runtime';
import { applySchedules, describeSchedule, nextRuns, type NextRun } from '../schedules';
import { findTemporalCli } from '../temporal-server';
import { csv, duration, textTable, toJsonRows } from '../format';
import { UsageError, type Io } from '../io';
import { checkExports, exportStatusRows, printExportStatus } from './export';

export async function validateCommand(opts: { config: string }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  const tables = cfg.sources.reduce((n, s) => n + s.tables.length, 0);
  io.out(`${path.relative(process.cwd(), cfg.file) || cfg.file} is valid: ${cfg.sources.length} source(s), ${tables} table(s)${cfg.exports.length ? `, ${cfg.exports.length} export(s)` : ''}; warehouse at ${cfg.warehouse.root}`);
  return 0;
}

export async function checkCommand(opts: { config: string; source?: string }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  const sources = opts.source ? cfg.sources.filter((s) => s.name === opts.source) : cfg.sources;
  if (opts.source && !sources.length && !cfg.exports.some((e) => e.name === opts.source))
    throw new UsageError(`unknown source "${opts.source}"; sources: ${cfg.sources.map((s) => s.name).join(', ')}${cfg.exports.length ? `; exports: ${cfg.exports.map((e) => e.name).join(', ')}` : ''}`);
  const session = await openTemporal(cfg, { worker: !cfg.temporal, say: io.info });
  let failed = 0;
  try {
    for (const s of sources) {
      let r: CheckOutput;
      try {
        r = await session.client.workflow.execute('checkSourceWorkflow', {
          workflowId: checkWorkflowId(s.name),
          taskQueue: session.taskQueue,
          args: [{ source: s.name }],
          workflowExecutionTimeout: '3 minutes',
          staticSummary: `Check credentials of ${s.name}`,
        });
      } catch (err) {
        let e: any = err;
        while (e?.cause) e = e.cause;
        r = { ok: false, message: e?.message ?? String(err), warnings: [] };
      }
      if (!r.ok) failed++;
      io.out(`${r.ok ? '✓' : '✗'} ${s.name} (${s.type}): ${r.message}`);
      for (const w of r.warnings) io.out(`  ⚠ ${w}`);
    }
    // Exports: PostHog verifies each project key (nothing is captured).
    failed += await checkExports(cfg, opts.source, io);
  } finally {
    await session.close();
  }
  return failed ? 1 : 0;
}

export async function queryCommand(opts: { config: string; sql: string; format: string }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  let r;
  try {
    r = await queryWarehouse(cfg.warehouse, opts.sql);
  } catch (err) {
    if (err instanceof QueryError) throw new UsageError(`query failed: ${err.message}`);
    throw err;
  }
  if (opts.format === 'json') io.out(JSON.stringify(toJsonRows(r.columns, r.rows, r.types)));
  else if (opts.format === 'csv') io.out(csv(r.columns, r.rows));
  else io.out(`${textTable(r.columns, r.rows)}\n(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`);
  return 0;
}

export async function statusCommand(opts: { config: string; json?: boolean }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  const tables = await listTables(cfg.warehouse);
  let next: Map<string, NextRun> | undefined;
  if (cfg.temporal) {
    try {
      const session = await openTemporal(cfg, { worker: false, say: () => undefined });
      next = await nextRuns(session.client, session.embedded ? undefined : session.taskQueue).finally(() => session.close());
    } catch {
      // status works offline; next runs need the cluster
    }
  } else {
    // Embedded: the schedules live in the dev server of `sluice dev`; ask it if it is running (never start one).
    next = await embeddedNextRuns(cfg.warehouse.temporalState());
  }
  // A table with a schedule of its own runs on it; the others on their source's.
  const nextRun = (s: (typeof cfg.sources)[number], t: (typeof s.tables)[number]): string => {
    const sch = t.schedule ?? s.schedule;
    if (!sch) return 'not scheduled';
    if (!next) return cfg.temporal ? 'unknown (Temporal unreachable)' : 'when `sluice dev` runs';
    const r = next.get(t.schedule ? `${s.name}:${t.name}` : s.name);
    if (!r) return 'not applied: run `sluice schedules apply`';
    return r.paused ? 'paused' : (r.next ?? 'none planned');
  };
  const rows = cfg.sources.flatMap((s) =>
    s.tables.map((t) => {
      const m = tables.find((x) => x.source === s.name && x.table === t.name);
      const last = m?.last;
      return {
        source: s.name,
        table: t.name,
        mode: t.mode,
        cursorField: t.cursorField ?? null,
        cursor: m?.cursor ?? null,
        lastRun: last?.finishedAt ?? null,
        outcome: last?.outcome ?? 'never synced',
        lastSucceededAt: m?.lastSucceeded?.finishedAt ?? null,
        rows: m?.rows ?? 0,
        snapshot: m?.snapshot ?? null,
        durationMs: last ? Date.parse(last.finishedAt) - Date.parse(last.startedAt) : null,
        schemaChanges: (last?.schemaChanges ?? []).map((c) => `${c.kind} ${c.column}${c.from ? ` ${c.from}→${c.to}` : ` ${c.to}`}`),
        error: last?.error ?? null,
        schedule: t.schedule ?? s.schedule ? describeSchedule((t.schedule ?? s.schedule)!) : null,
        nextRun: nextRun(s, t),
      };
    }),
  );
  const exportRows = await exportStatusRows(cfg, next);
  if (opts.json) {
    // Export rows (kind: "export") follow the table rows, only when exports are configured.
    io.out(JSON.stringify(exportRows.length ? [...rows, ...exportRows] : rows, null, 2));
    return 0;
  }
  for (const s of cfg.sources) {
    io.out(`\n${s.name} (${s.type})`);
    const mine = rows.filter((r) => r.source === s.name);
    io.out(
      textTable(
        ['table', 'mode', 'cursor field', 'cursor', 'last run', 'outcome', 'rows', 'snapshot', 'took', 'schema changes', 'next run'],
        mine.map((r) => [r.table, r.mode, r.cursorField, r.cursor, r.lastRun, r.error ? `${r.outcome}: ${r.error}` : r.outcome, r.rows, r.snapshot, duration(r.durationMs ?? undefined), r.schemaChanges.join('; '), r.nextRun]),
      ),
    );
  }
  printExportStatus(exportRows, io);
  return 0;
}

async function embeddedNextRuns(stateDir: string): Promise<Map<string, NextRun> | undefined> {
  let info: { pid: number; address: string };
  try {
    info = JSON.parse(fs.readFileSync(path.join(stateDir, 'server.json'), 'utf8')) as typeof info;
    process.kill(info.pid, 0);
  } catch {
    return undefined;
  }
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address: info.address, connectTimeout: '2 seconds' });
    return await nextRuns(new Client({ connection, namespace: temporalDefaults.namespace }));
  } catch {
    return undefined;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export async function connectorsCommand(opts: { name?: string; json?: boolean }, io: Io): Promise<number> {
  const names = opts.name ? [opts.name] : Object.keys(CONNECTORS).sort();
  if (opts.name && !CONNECTORS[opts.name]) throw new UsageError(`unknown connector "${opts.name}"; connectors: ${Object.keys(CONNECTORS).sort().join(', ')}`);
  const all = await Promise.all(names.map(async (n) => ({ name: n, c: await CONNECTORS[n]!() })));
  if (opts.json) {
    io.out(JSON.stringify(all.map(({ c }) => connectorCatalogue(c)), null, 2));
    return 0;
  }
  for (const { c } of all) {
    io.out(`\n${c.type}: ${c.description}`);
    io.out(textTable(['table', 'primary key', 'partition by', 'cursor (default)', 'modes', 'vendor delete feed'], c.tables.map((t) => [t.name, t.primaryKey.join(', '), t.partitionBy ?? '', t.cursor ? t.cursor.fields.map((f) => (f === t.cursor!.default ? `${f}*` : f)).join(', ') : '', t.modes.map((m) => (m === t.defaultMode ? `${m}*` : m)).join(', '), t.deleteFeed ? 'yes' : ''])));
    // One connector asked for: how each table is read too (what `--json` and schemas/connectors/ hold).
    if (opts.name) for (const t of c.tables.map(tableCatalogue)) io.out(`\n${t.name}\n${readDetails(t).map(([k, v]) => `  ${k.padEnd(10)} ${v}`).join('\n')}`);
  }
  return 0;
}

function readDetails(t: ReturnType<typeof tableCatalogue>): [string, string][] {
  const out: [string, string][] = [];
  if (t.endpoint) out.push(['endpoint', t.endpoint]);
  if (t.paging) {
    const { kind, pageSize, ...rest } = t.paging;
    const size = pageSize === undefined ? '' : typeof pageSize === 'object' ? `, page size from config.${pageSize.config}` : `, page size ${pageSize}`;
    const extra = Object.entries(rest).map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    out.push(['paging', `${kind}${size}${extra.length ? ` (${extra.join('; ')})` : ''}`]);
  }
  if (t.cursor?.filter) out.push(['filter', typeof t.cursor.filter === 'string' ? t.cursor.filter : Object.entries(t.cursor.filter).map(([f, v]) => `${f}: ${v}`).join('; ')]);
  if (t.cursor?.lookbackSetting) out.push(['lookback', `config.${t.cursor.lookbackSetting.key} (default ${Math.round((t.cursor.lookbackMs ?? 0) / 1000)} s)`]);
  else if (t.cursor?.lookbackMs) out.push(['lookback', `${Math.round(t.cursor.lookbackMs / 1000)} s`]);
  if (t.requires) out.push(['requires', t.requires]);
  // `deletes: { detect: vendor }` is accepted on these tables only.
  out.push(['deletes', t.deleteFeed ? `vendor feed: ${t.deleteFeed.describe}${t.deleteFeed.requires ? `, requires ${t.deleteFeed.requires}` : ''}${t.deleteFeed.retentionMs ? `, kept ${Math.round(t.deleteFeed.retentionMs / 86_400_000)} days` : ''}${t.reconcileRefusal ? '' : '; or reconcile'}` : t.reconcileRefusal ? `none: no vendor delete feed, and cannot reconcile (${t.reconcileRefusal})` : 'reconcile (no vendor delete feed)']);
  out.push(['key scan', t.keyScan ? `${t.keyScan.endpoint} (${t.keyScan.paging.kind}, keys only)` : 'the full read above']);
  return out;
}

const waitForSignal = () =>
  new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });

export async function workerCommand(opts: { config: string }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  if (!cfg.temporal) throw new UsageError(`sluice worker needs a temporal: block with the cluster's address in ${cfg.file}; for a local setup use \`sluice dev\``);
  const rt = runtimeOf(cfg);
  const w = await startWorker({ rt, address: cfg.temporal.address, namespace: cfg.temporal.namespace, taskQueue: cfg.temporal.taskQueue });
  const stopWatchdog = startStalenessWatchdog(rt, scheduledUnits(cfg));
  io.info(`worker polling task queue "${cfg.temporal.taskQueue}" on ${cfg.temporal.address} (namespace ${cfg.temporal.namespace}); Ctrl-C to stop`);
  if (w.metricsUrl) io.info(`metrics: ${w.metricsUrl} (Prometheus, all interfaces; Sluice's and the Temporal SDK's)`);
  if (cfg.raw.redis) io.info('rate limits: shared with the other workers through redis: (see README, "Scale-out")');
  await Promise.race([waitForSignal(), w.run]);
  io.info('draining the worker…');
  stopWatchdog();
  await w.shutdown();
  return 0;
}

/** Every scheduled unit (a source, or a table with its own schedule) and its interval, for the staleness watchdog. */
export function scheduledUnits(cfg: LoadedConfig): ScheduledUnit[] {
  const units: ScheduledUnit[] = [];
  for (const s of cfg.sources) {
    if (s.schedule && !s.schedule.paused) units.push({ source: s.name, intervalMs: scheduleIntervalMs(s.schedule) });
    for (const t of s.tables) if (t.schedule && !t.schedule.paused) units.push({ source: s.name, table: t.name, intervalMs: scheduleIntervalMs(t.schedule) });
  }
  return units;
}

export async function devCommand(opts: { config: string }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  const session = await openTemporal(cfg, { worker: true, say: io.info });
  try {
    const changes = await applySchedules(session.client, cfg, session.taskQueue, { embedded: session.embedded });
    for (const c of changes) io.info(`schedule ${c.target}${c.schedule ? ` (${c.schedule})` : ''}: ${c.action}`);
    io.out(`Sluice dev is running.\n  Temporal: ${session.address}\n  Web UI:   ${session.uiUrl ?? '(configured cluster)'}\n  Worker:   task queue "${session.taskQueue}"${session.worker?.metricsUrl ? `\n  Metrics:  ${session.worker.metricsUrl}` : ''}\nPress Ctrl-C to stop.`);
    const stopWatchdog = startStalenessWatchdog(runtimeOf(cfg, session.uiUrl), scheduledUnits(cfg));
    await Promise.race([waitForSignal(), session.worker!.run]);
    stopWatchdog();
    io.info('stopping…');
  } finally {
    await session.close();
  }
  return 0;
}

export async function schedulesApplyCommand(opts: { config: string }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  const session = await openTemporal(cfg, { worker: false, say: io.info, keepServer: false });
  try {
    const changes = await applySchedules(session.client, cfg, session.taskQueue, { embedded: session.embedded });
    io.out(changes.length ? textTable(['schedule of', 'when', 'change'], changes.map((c) => [c.target, c.schedule ?? '', c.action])) : 'no schedules in the config and none to delete');
  } finally {
    await session.close();
  }
  return 0;
}

export async function setupCommand(_opts: unknown, io: Io): Promise<number> {
  const cli = await findTemporalCli(io.info);
  io.info(`Temporal CLI: ${cli}`);
  // DuckDB's extensions of exactly this DuckDB version: from DuckDB's repository, else PyPI.
  const ext = await ensureExtensions({ say: io.info });
  io.info(`DuckDB extensions: ${Object.entries(ext).map(([n, from]) => `${n} (${from === 'installed' ? 'cached' : from})`).join(', ')} in ${extensionDirectory()}`);
  await workflowBundle();
  io.info('workflow bundle: ready');
  return 0;
}

export { sourceWorkflowId };
