import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createActivities } from './activities';
import { createMaintenanceActivities } from './maintenance-activity';
import { createExportActivities } from './export-activity';
import { serveMetrics } from './metrics';
import { installTemporalRuntime } from './telemetry';
import type { Runtime } from './runtime';

const here = path.dirname(fileURLToPath(import.meta.url));
const WORKFLOWS = path.join(here, 'workflows.ts');

/**
 * The workflow bundle is built once per version of the workflow sources and cached: bundling with
 * webpack takes seconds, and every `sluice sync` starts an in-process worker.
 */
export async function workflowBundle(): Promise<{ code: string }> {
  const dir = path.join(os.homedir(), '.cache', 'sluice', 'bundles');
  const file = path.join(dir, `workflows-${workflowBundleKey()}.js`);
  if (fs.existsSync(file)) return { code: fs.readFileSync(file, 'utf8') };
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: silentLogger() });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, bundle.code);
  fs.renameSync(`${file}.tmp`, file);
  return bundle;
}

/**
 * The bundle's cache key: the content of every source file the workflow entry reaches through its
 * imports (see {@link workflowSourceFiles}), with their paths, and the version of the workflow SDK.
 */
export function workflowBundleKey(entry: string = WORKFLOWS): string {
  const hash = crypto.createHash('sha256');
  for (const f of workflowSourceFiles(entry)) hash.update(`${path.relative(path.dirname(entry), f)}\0`).update(fs.readFileSync(f)).update('\0');
  hash.update(JSON.parse(fs.readFileSync(require_resolve('@temporalio/workflow/package.json'), 'utf8')).version);
  return hash.digest('hex').slice(0, 16);
}

// `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`. Whole-statement type-only
// imports (`import type`, `export type`) are skipped: the bundler erases them.
const IMPORT_RE = /(?:^|[;\n}])\s*(import|export)\s+(type\s+)?(?:[\w*{}\s,$]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/**
 * The source files of the workflow bundle: the entry and every file it imports, recursively, through
 * relative imports and `@sluice/*` workspace packages. Other packages (the Temporal SDK) are covered by
 * their version. Sorted, so the key does not depend on the order of the imports.
 */
export function workflowSourceFiles(entry: string = WORKFLOWS): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[3] ?? m[4];
      if (!spec || m[2]) continue;
      const resolved = resolveSource(spec, file);
      if (resolved) visit(resolved);
    }
  };
  visit(fs.realpathSync(entry));
  return [...seen].sort();
}

function resolveSource(spec: string, from: string): string | undefined {
  if (spec.startsWith('.')) {
    const base = path.resolve(path.dirname(from), spec);
    const stem = base.replace(/\.(js|mjs|cjs)$/, '');
    for (const candidate of [base, `${stem}.ts`, `${stem}.tsx`, path.join(base, 'index.ts')]) {
      if (/\.(ts|tsx|js|mjs|cjs|json)$/.test(candidate) && fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return fs.realpathSync(candidate);
    }
    return undefined; // not a source file (or a commented-out import): the bundler reports real ones
  }
  if (spec.startsWith('@sluice/')) return fs.realpathSync(createRequire(from).resolve(spec));
  return undefined;
}

function require_resolve(spec: string): string {
  return createRequire(import.meta.url).resolve(spec);
}

function silentLogger() {
  const noop = () => undefined;
  return { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop } as never;
}

export interface WorkerHandle {
  worker: Worker;
  run: Promise<void>;
  /** Where this process serves Prometheus metrics, when `metrics:` is configured. */
  metricsUrl?: string;
  shutdown(): Promise<void>;
}

/** Creates and starts a worker on the given connection; `shutdown` drains it. */
export async function startWorker(opts: { rt: Runtime; address: string; namespace: string; taskQueue: string; identity?: string }): Promise<WorkerHandle> {
  // Sluice's logger and (with `metrics:`) the SDK's Prometheus exporter, once per process.
  const telemetry = await installTemporalRuntime({ metrics: Boolean(opts.rt.metrics) });
  const metrics = opts.rt.metrics ? await serveMetrics({ port: opts.rt.metrics.port, temporalMetricsUrl: telemetry.temporalMetricsUrl }) : undefined;
  const connection = await NativeConnection.connect({ address: opts.address });
  const identity = opts.identity ?? `sluice@${os.hostname()}:${process.pid}`;
  // This worker's own queue: commits of the pages it staged on its disk come back to it.
  const stagingQueue = `${opts.taskQueue}/${os.hostname()}/${process.pid}/${crypto.randomUUID().slice(0, 8)}`;
  const activities = { ...createActivities(opts.rt, { stagingQueue }), ...createMaintenanceActivities(opts.rt), ...createExportActivities(opts.rt) };
  const common = {
    connection,
    namespace: opts.namespace,
    activities,
    identity,
    shutdownGraceTime: '10 seconds',
    // Heartbeats carry the extract checkpoint: send them often, so a killed worker re-reads few pages.
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '2 seconds',
  } as const;
  const worker = await Worker.create({ ...common, taskQueue: opts.taskQueue, workflowBundle: await workflowBundle(), maxConcurrentActivityTaskExecutions: 16 });
  // Only commits come here; they wait for a commit slot inside the activity (heartbeating), so a commit
  // is always started at once and a commit that is not means this worker is gone.
  const local = await Worker.create({ ...common, taskQueue: stagingQueue, maxConcurrentActivityTaskExecutions: 200 });
  const run = Promise.all([worker.run(), local.run()]).then(() => undefined);
  return {
    worker,
    run,
    metricsUrl: metrics?.url,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      if (local.getState() === 'RUNNING') local.shutdown();
      await run.catch(() => undefined);
      await connection.close().catch(() => undefined);
      await metrics?.close();
      await opts.rt.close?.().catch(() => undefined);
    },
  };
}
