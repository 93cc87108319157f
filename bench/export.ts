/**
 * `npm run bench -- export [--export-n N] [--export-batch B]`: a PostHog export of N orders (default
 * 10,000) and N/5 customers from Shopify-shaped lake tables to the PostHog emulator's capture API, through
 * the export's own code path (exportOnce: lake reads in key order, mapping, /batch/ requests, a cursor
 * commit to sluice.exports after each accepted batch). Measures events/s, requests per 1,000 events, the
 * cost of the per-batch cursor commits, and a second run that has nothing to send. Then the same export
 * through Temporal as an operator runs it (`sluice export`, embedded dev server, in-process worker) into a
 * fresh PostHog project: the workflow's own duration and the command's wall time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createLogger } from '@sluice/core';
import { WarehousePaths, withLake } from '@sluice/warehouse';
import { exportOnce } from '../workflows/src/export-activity';
import type { Runtime } from '../workflows/src/runtime';
import type { RuntimeExport } from '../workflows/src/export-shared';
import { start as startPostHog, PostHogProject } from '../packages/emulators/src/posthog/index';
import { stringify } from 'yaml';
import { main } from '../packages/cli/src/main';
import type { Io } from '../packages/cli/src/io';
import { round, say, table } from './lib/measure';
import type { ScenarioResult, TargetCheck } from './lib/types';

const KEY = 'phc_benchExportKey0123456789abcdefghijklmnopq';
const PROJECT = 7001;
const KEY_TEMPORAL = 'phc_benchExportTemporalKey0123456789abcdefgh';
const PROJECT_TEMPORAL = 7002;

/** `sluice export` through Temporal (embedded dev server + in-process worker) on the seeded lake. */
async function throughTemporal(work: string, phUrl: string, batchSize: number): Promise<{ wallMs: number; workflowMs: number; events: number; requests: number }> {
  const config = path.join(work, 'sluice.yaml');
  fs.writeFileSync(
    config,
    stringify({
      warehouse: { path: './wh' },
      // The source is only what the export reads from: the bench never syncs it.
      sources: [{ name: 'bench_shop', type: 'shopify', config: { shop: 'bench-shop', accessToken: 'shpat_bench0123456789', baseUrl: 'http://127.0.0.1:9' }, tables: { customers: null, orders: null } }],
      exports: [{ name: 'bench_export_temporal', type: 'posthog', from: 'bench_shop', schedule: 'manual', config: { host: phUrl, projectApiKey: KEY_TEMPORAL, batchSize } }],
    }),
  );
  let out = '';
  const io: Io = { out: (t) => void (out += `${t}\n`), info: () => undefined, error: (t) => say(`export (temporal): ${t}`), stderr: process.stderr };
  const t = performance.now();
  const code = await main(['--config', config, 'export', '--json'], io);
  const wallMs = performance.now() - t;
  if (code !== 0) throw new Error(`sluice export failed (exit ${code})`);
  const [r] = JSON.parse(out) as { durationMs: number; events: number; requests: number }[];
  return { wallMs, workflowMs: r!.durationMs, events: r!.events, requests: r!.requests };
}

/** Shopify-shaped customers and orders (the columns the export reads), generated in the lake by SQL. */
async function seed(paths: WarehousePaths, orders: number, customers: number): Promise<void> {
  await withLake(paths, {}, async ({ conn }) => {
    await conn.run('CREATE SCHEMA IF NOT EXISTS bench_shop');
    await conn.run(`CREATE TABLE bench_shop.customers AS SELECT
        'gid://shopify/Customer/' || i AS id, 'customer' || i || '@example.com' AS email, 'First' || i AS "firstName", 'Last' || i AS "lastName",
        '+1555' || lpad(CAST(i AS VARCHAR), 7, '0') AS phone, CAST(i % 9 AS BIGINT) AS "numberOfOrders", CAST((i % 500) * 1.5 AS DECIMAL(18,2)) AS "amountSpent", 'USD' AS "amountSpentCurrency",
        TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * 60) AS "createdAt", TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * 60 + 30) AS "updatedAt"
      FROM range(${customers}) t(i)`);
    await conn.run(`CREATE TABLE bench_shop.orders AS SELECT
        'gid://shopify/Order/' || i AS id, '#' || (1000 + i) AS name,
        CASE WHEN i % 10 = 0 THEN NULL ELSE 'customer' || (i % ${customers}) || '@example.com' END AS email,
        CASE WHEN i % 10 = 0 THEN NULL ELSE 'gid://shopify/Customer/' || (i % ${customers}) END AS "customerId",
        TIMESTAMPTZ '2024-02-01 00:00:00+00' + to_seconds(i * 20) AS "createdAt", TIMESTAMPTZ '2024-02-01 00:00:00+00' + to_seconds(i * 20 + 5) AS "updatedAt",
        CASE WHEN i % 50 = 0 THEN TIMESTAMPTZ '2024-02-01 00:00:00+00' + to_seconds(i * 20 + 5) END AS "cancelledAt",
        CAST(10 + (i % 300) AS DECIMAL(18,2)) AS "totalPrice", CAST(CASE WHEN i % 40 = 0 THEN 5 ELSE 0 END AS DECIMAL(18,2)) AS "totalRefunded", 'USD' AS "currencyCode",
        CAST('[{"id":1},{"id":2}]' AS JSON) AS "lineItems"
      FROM range(${orders}) t(i)`);
  });
}

export async function runExport(opts: { n: number; batchSize: number; work: string }): Promise<ScenarioResult> {
  fs.rmSync(opts.work, { recursive: true, force: true });
  const paths = new WarehousePaths(path.join(opts.work, 'wh'));
  const customers = Math.max(1, Math.round(opts.n / 5));
  say(`export: seeding ${opts.n.toLocaleString()} orders and ${customers.toLocaleString()} customers`);
  await seed(paths, opts.n, customers);
  const ph = await startPostHog({ events: 0, customers: [] });
  ph.projects.set(PROJECT, new PostHogProject(PROJECT, 'bench', 1));
  ph.capture.tokens.set(KEY, PROJECT);
  ph.projects.set(PROJECT_TEMPORAL, new PostHogProject(PROJECT_TEMPORAL, 'bench temporal', 2));
  ph.capture.tokens.set(KEY_TEMPORAL, PROJECT_TEMPORAL);
  const exp: RuntimeExport = {
    name: 'bench_export',
    type: 'posthog',
    from: 'bench_shop',
    sourceType: 'shopify',
    schedule: 'manual',
    host: ph.url,
    projectApiKey: KEY,
    events: { order: 'order completed', refunded: 'order refunded', cancelled: 'order cancelled' },
    distinctId: 'email',
    batchSize: opts.batchSize,
  };
  const rt: Runtime = { warehouse: paths, sources: new Map(), log: createLogger({ name: 'bench', level: 'warn' }), views: () => [], exports: new Map([[exp.name, exp]]) };
  try {
    say(`export: first run (batches of ${opts.batchSize})`);
    const t0 = performance.now();
    const first = await exportOnce(rt, exp, { runId: 'bench-1', heartbeat: () => undefined });
    const firstMs = performance.now() - t0;
    const project = ph.projects.get(PROJECT)!;
    if (project.events.length !== first.events) throw new Error(`PostHog holds ${project.events.length} events; the export sent ${first.events}`);
    say('export: second run (nothing new)');
    const t1 = performance.now();
    const second = await exportOnce(rt, exp, { runId: 'bench-2', heartbeat: () => undefined });
    const secondMs = performance.now() - t1;
    const captureRequests = ph.requests.filter((r) => r.path.startsWith('/batch')).length;
    say('export: through Temporal (sluice export, embedded dev server)');
    const temporal = await throughTemporal(opts.work, ph.url, opts.batchSize);
    if (ph.projects.get(PROJECT_TEMPORAL)!.events.length !== first.events) throw new Error('the export through Temporal did not send what the direct run sent');
    const metrics = {
      orders: opts.n,
      customers,
      batchSize: opts.batchSize,
      events: first.events,
      persons: first.persons,
      batches: first.batches,
      requests: first.requests,
      durationMs: round(firstMs),
      eventsPerSecond: round(first.events / (firstMs / 1000)),
      requestsPer1000Events: round((first.requests / first.events) * 1000, 2),
      msPerBatch: round(firstMs / Math.max(1, first.batches), 1),
      secondRunMs: round(secondMs),
      secondRunEvents: second.events,
      personsInPostHog: project.persons.size,
      captureRequestsSeen: captureRequests,
      temporalWorkflowMs: round(temporal.workflowMs),
      temporalEventsPerSecond: round(temporal.events / (temporal.workflowMs / 1000)),
      temporalCommandWallMs: round(temporal.wallMs),
      temporalRequestsPer1000Events: round((temporal.requests / temporal.events) * 1000, 2),
    };
    const targets: TargetCheck[] = [
      { name: 'export: events/s at 10k orders', value: String(metrics.eventsPerSecond), target: '≥ 1,000', met: metrics.eventsPerSecond >= 1000 },
      { name: 'export: requests per 1,000 events', value: String(metrics.requestsPer1000Events), target: `≤ ${round(1000 / opts.batchSize + 0.5, 1)}`, met: metrics.requestsPer1000Events <= 1000 / opts.batchSize + 0.5 },
      { name: 'export: second run sends nothing', value: String(second.events), target: '0', met: second.events === 0 },
    ];
    return { scenario: 'export', metrics, report: table(['export', 'value'], Object.entries(metrics).map(([k, v]) => [k, v])), targets };
  } finally {
    await ph.close();
  }
}
