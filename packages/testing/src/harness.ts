import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { main } from '@sluice/cli/main';
import { loadConfig } from '@sluice/cli/config';
import { runtimeOf } from '@sluice/cli/runtime';
import { startWorker, type WorkerHandle } from '@sluice/workflows';
import type { Io } from '@sluice/cli/io';

/**
 * End-to-end harness: a warehouse directory, a sluice.yaml pointing at the shared Temporal dev server
 * (its own task queue), a real worker for it, and ways to drive the CLI exactly as an operator would:
 * in-process (`run`, fast) or as a child process (`spawnCli`, the real `sluice` binary).
 *
 * Source names must be unique across test files: workflow ids (`sluice:<source>`) are per namespace, and
 * test files run in parallel against the one shared server.
 *
 *   const env = await sluiceEnv({ sources: [{ name: 'my_test_shop', type: 'demo', config: {...}, tables: {...} }] });
 *   const r = await env.run('sync', 'shop');           // { code, stdout, stderr }
 *   const rows = await env.query('SELECT * FROM shop.orders');
 *   await env.close();
 */
export interface SourceYaml {
  name: string;
  type: string;
  config: Record<string, unknown>;
  tables?: Record<string, { mode?: string; cursor?: string } | null>;
  schedule?: { every: string } | { cron: string };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SluiceEnv {
  dir: string;
  configPath: string;
  warehouse: string;
  taskQueue: string;
  client: Client;
  /** Rewrites sluice.yaml (e.g. to change a mode) and restarts the worker on it. */
  writeConfig(sources: SourceYaml[], extra?: Record<string, unknown>): Promise<void>;
  run(...args: string[]): Promise<CliResult>;
  spawnCli(args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult>;
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  restartWorker(env?: NodeJS.ProcessEnv): Promise<void>;
  /** Runs `sluice worker` as a child process (to be killed by fault tests); resolves once it polls. */
  workerProcess(env?: NodeJS.ProcessEnv): Promise<ChildProcess>;
  close(): Promise<void>;
}

let counter = 0;
const ROOT = path.resolve(import.meta.dirname, '../../..');
export const SLUICE_BIN = path.join(ROOT, 'packages/cli/bin/sluice.js');

export async function sluiceEnv(opts: { sources: SourceYaml[]; extra?: Record<string, unknown>; worker?: boolean }): Promise<SluiceEnv> {
  const address = inject('temporalAddress');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-e2e-'));
  const taskQueue = `test-${process.pid}-${++counter}-${Date.now()}`;
  const configPath = path.join(dir, 'sluice.yaml');
  const write = (sources: SourceYaml[], extra: Record<string, unknown> = {}) =>
    fs.writeFileSync(configPath, stringify({ warehouse: { path: './warehouse' }, temporal: { address, namespace: 'default', taskQueue }, sources, ...extra }));
  write(opts.sources, opts.extra);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  let worker: WorkerHandle | undefined;
  const startW = async () => {
    const cfg = await loadConfig(configPath);
    worker = await startWorker({ rt: runtimeOf(cfg), address, namespace: 'default', taskQueue });
  };
  if (opts.worker !== false) await startW();
  const children: ChildProcess[] = [];

  const run = async (...args: string[]): Promise<CliResult> => {
    let stdout = '';
    let stderr = '';
    const sink = { write: (s: string) => ((stderr += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
    const io: Io = { out: (t) => void (stdout += `${t}\n`), info: (t) => void (stderr += `${t}\n`), error: (t) => void (stderr += `error: ${t}\n`), stderr: sink };
    const code = await main(['--config', configPath, ...args], io);
    return { code, stdout, stderr };
  };

  return {
    dir,
    configPath,
    warehouse: path.join(dir, 'warehouse'),
    taskQueue,
    client,
    async writeConfig(sources, extra) {
      write(sources, extra);
      await worker?.shutdown();
      await startW();
    },
    run,
    spawnCli: (args, o = {}) => spawnCli(['--config', configPath, ...args], { cwd: dir, ...o }),
    async query<T>(sql: string) {
      const r = await run('query', sql, '--format', 'json');
      if (r.code !== 0) throw new Error(`query failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as T[];
    },
    async restartWorker() {
      await worker?.shutdown();
      await startW();
    },
    workerProcess(env = {}) {
      const child = spawn(process.execPath, [SLUICE_BIN, '--config', configPath, 'worker'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      return new Promise((resolve, reject) => {
        let err = '';
        child.stderr!.on('data', (d) => {
          err += d;
          if (err.includes('worker polling')) resolve(child);
        });
        child.stdout!.resume();
        child.once('exit', (code) => reject(new Error(`worker exited (${code}) before polling: ${err}`)));
      });
    },
    async close() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await worker?.shutdown();
      await connection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the real `sluice` executable as a child process. */
export function spawnCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
