import { createHash } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { startWorker, type WorkerHandle } from '@sluice/workflows';
import { temporalDefaults } from './temporal.config';
import type { LoadedConfig } from './config';
import { runtimeOf } from './runtime';
import { startDevServer, type DevServer } from './temporal-server';

export class TemporalUnreachable extends Error {}

/**
 * The task queue of the embedded server for this config: every process of one warehouse shares the
 * server, and a process polls with the config it loaded. A `sluice dev` started before sluice.yaml was
 * edited must not run the activities of a `sluice sync` started after (old credentials, old tables), so
 * the queue is named by the resolved config: processes with the same config share work, others never
 * take each other's. (A configured cluster names its queue in `temporal.taskQueue`; workers there are
 * deployed with one config.)
 */
export function embeddedTaskQueue(cfg: LoadedConfig): string {
  return `${temporalDefaults.taskQueue}-${createHash('sha256').update(JSON.stringify(cfg.raw)).digest('hex').slice(0, 12)}`;
}

export interface TemporalSession {
  client: Client;
  address: string;
  namespace: string;
  taskQueue: string;
  uiUrl?: string;
  embedded: boolean;
  worker?: WorkerHandle;
  close(): Promise<void>;
}

/**
 * Connects to Temporal the way the config says: a configured cluster (client only, workers run as
 * `sluice worker`), or the embedded dev server, started on demand with an in-process worker.
 */
export async function openTemporal(cfg: LoadedConfig, opts: { worker: boolean; say?: (m: string) => void; keepServer?: boolean }): Promise<TemporalSession> {
  const say = opts.say ?? ((m) => process.stderr.write(`${m}\n`));
  let server: DevServer | undefined;
  let address: string;
  let namespace: string;
  let taskQueue: string;
  if (cfg.temporal) {
    ({ address, namespace, taskQueue } = cfg.temporal);
  } else {
    server = await startDevServer({ stateDir: cfg.warehouse.temporalState(), say });
    address = server.address;
    namespace = server.namespace;
    taskQueue = embeddedTaskQueue(cfg);
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: '5 seconds' });
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    await server?.release();
    throw new TemporalUnreachable(
      `cannot reach Temporal at ${address}${cfg.temporal ? ` (temporal.address in ${cfg.file})` : ''}: ${(err as Error).message.split('\n')[0]}. ` +
        (cfg.temporal ? 'Check that the cluster is running and the address is right, or remove the temporal: block to use the embedded dev server.' : ''),
    );
  }
  const client = new Client({ connection, namespace });
  let worker: WorkerHandle | undefined;
  // With a configured cluster, workers are separate processes (`sluice worker`) unless asked otherwise.
  if (opts.worker) worker = await startWorker({ rt: runtimeOf(cfg, server?.uiUrl), address, namespace, taskQueue });
  return {
    client,
    address,
    namespace,
    taskQueue,
    uiUrl: server?.uiUrl,
    embedded: Boolean(server),
    worker,
    async close() {
      await worker?.shutdown();
      await connection.close().catch(() => undefined);
      if (server && !opts.keepServer) await server.release();
    },
  };
}
