import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, SLUICE_BIN, type SluiceEnv } from '@sluice/testing/harness';
import { filesUnder, historyText } from '../leak-scan';

/**
 * Secrets are redacted by construction: a real sync through a separate `sluice worker` process (JSON
 * logs at debug level), with a vendor that echoes the token back in its error bodies, then a grep for
 * the token in every place an operator or a log shipper can read: worker and CLI output, error
 * messages, `sluice status --json`, manifests, Parquet and DuckDB files, and the Temporal histories.
 */
const SECRET = 'sk_live_SLUICE_REDACT_ME_4f9a2c7e1b';

describe('redaction: the token of a real sync appears nowhere', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  let worker: ChildProcess;
  let workerOut = '';
  const childEnv = { RED_TOKEN: SECRET, SLUICE_LOG_FORMAT: 'json', SLUICE_LOG_LEVEL: 'debug' };

  beforeAll(async () => {
    emu = await startDemo({ orders: 60, seed: 5, token: SECRET });
    process.env.RED_TOKEN = SECRET; // for the in-process CLI runs of the harness
    env = await sluiceEnv({ sources: [{ name: 'red', type: 'demo', config: { baseUrl: emu.url, token: '${RED_TOKEN}', pageSize: 20 }, tables: { orders: { mode: 'incremental' } } }], worker: false });
    worker = spawn(process.execPath, [SLUICE_BIN, '--config', env.configPath, 'worker'], { cwd: env.dir, env: { ...process.env, ...childEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (d) => (workerOut += d));
    worker.stderr!.on('data', (d) => (workerOut += d));
    for (let i = 0; i < 300 && !workerOut.includes('worker polling'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(workerOut).toContain('worker polling');
  });
  afterAll(async () => {
    if (worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
    await env.close();
    await emu.close();
    delete process.env.RED_TOKEN;
  });

  it('finds no secret in logs, errors, status, warehouse files or Temporal histories', async () => {
    const outputs: string[] = [];
    // 1. A good sync, during which the vendor twice answers 503 with the token echoed in the body (retried).
    emu.faults.push({ times: 2, kind: { type: 'status', status: 503, body: { error: 'unavailable', message: `upstream rejected credentials ${SECRET}; try again` } } });
    const ok = await env.spawnCli(['sync', 'red'], { env: childEnv, timeoutMs: 60_000 });
    outputs.push(ok.stdout, ok.stderr);
    expect(ok.code, ok.stderr).toBe(0);

    // 2. A failing sync: 403 with the token in the error body (a permission problem: not retried).
    emu.faults.push({ kind: { type: 'status', status: 403, body: { error: 'forbidden', message: `access_token=${SECRET} lacks the scope read_orders` } } });
    const bad = await env.spawnCli(['sync', 'red', '--verbose'], { env: childEnv, timeoutMs: 60_000 });
    emu.faults.length = 0;
    outputs.push(bad.stdout, bad.stderr);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('red.orders');
    // The echoed token was there, and was masked.
    expect(bad.stderr).toContain('access_token=***');

    const status = await env.spawnCli(['status', '--json'], { env: childEnv });
    outputs.push(status.stdout, status.stderr);
    const [row] = JSON.parse(status.stdout) as { outcome: string; error: string }[];
    expect(row).toMatchObject({ outcome: 'failed' });
    expect(row!.error).toContain('***');

    const check = await env.spawnCli(['check', 'red'], { env: { ...childEnv, RED_TOKEN: `${SECRET}-wrong` } });
    outputs.push(check.stdout, check.stderr);

    // Worker logs: JSON lines with source/table bindings; the retries were logged (redacted).
    await new Promise((r) => setTimeout(r, 300));
    const lines = workerOut.split('\n').filter((l) => l.startsWith('{'));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(5);
    expect(records.some((r) => r.source === 'red' && r.table === 'orders' && typeof r.workflowId === 'string' && String(r.msg).startsWith('retrying'))).toBe(true);
    expect(records.some((r) => String(JSON.stringify(r)).includes('***'))).toBe(true);

    // Warehouse: the DuckLake catalog (sync log, commit messages), Parquet, anything else written there.
    const files = filesUnder(env.warehouse);
    expect(files.some((f) => f.endsWith('catalog.sqlite'))).toBe(true);
    expect(files.some((f) => f.endsWith('.parquet'))).toBe(true);
    const leakingFiles = files.filter((f) => fs.readFileSync(f).includes(SECRET));

    // Temporal: every workflow of this task queue (source, tables, check), full histories.
    const histories: string[] = [];
    const ids: string[] = [];
    for await (const w of env.client.workflow.list({ query: `TaskQueue = "${env.taskQueue}"` })) {
      ids.push(w.workflowId);
      const h = await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      histories.push(historyText(h).join('\n'));
    }
    expect(ids).toEqual(expect.arrayContaining(['sluice:red', 'sluice:red:orders']));
    expect(histories.join('\n')).toContain('access_token=***');

    // The token really was used (the grep below would find it if it leaked).
    expect(emu.requests.some((r) => String(r.headers.authorization).includes(SECRET))).toBe(true);
    const places = { worker: workerOut, cli: outputs.join('\n'), histories: histories.join('\n') };
    for (const [where, text] of Object.entries(places)) expect(text.includes(SECRET), `secret found in ${where}`).toBe(false);
    expect(leakingFiles).toEqual([]);
  });
});
