import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createActivities } from './activities';
import { createMaintenanceActivities } from './maintenance-activity';
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
  const sources = [WORKFLOWS, path.join(here, 'shared.ts'), path.join(here, 'maintenance-workflow.ts'), path.join(here, 'maintenance-shared.ts')];
  const hash = crypto.createHash('sha256');
  for (const f of sources) hash.update(fs.readFileSync(f));
  hash.update(JSON.parse(fs.readFileSync(require_resolve('@temporalio/workflow/package.json'), 'utf8')).version);
  const dir = path.join(os.homedir(), '.cache', 'sluice', 'bundles');
  const file = path.join(dir, `workflows-${hash.digest('hex').slice(0, 16)}.js`);
  if (fs.existsSync(file)) return { code: fs.readFileSync(file, 'utf8') };
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: silentLogger() });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, bundle.code);
  fs.renameSync(`${file}.tmp`, file);
  return bundle;
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
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: { ...createActivities(opts.rt), ...createMaintenanceActivities(opts.rt) },
    identity: opts.identity ?? `sluice@${os.hostname()}:${process.pid}`,
    maxConcurrentActivityTaskExecutions: 16,
    shutdownGraceTime: '10 seconds',
    // Heartbeats carry the extract checkpoint: send them often, so a killed worker re-reads few pages.
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '2 seconds',
  });
  const run = worker.run();
  return {
    worker,
    run,
    metricsUrl: metrics?.url,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await run.catch(() => undefined);
      await connection.close().catch(() => undefined);
      await metrics?.close();
      await opts.rt.close?.().catch(() => undefined);
    },
  };
}
