import net from 'node:net';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';

/** A worker with `metrics: { port }` serves Sluice's and the Temporal SDK's Prometheus metrics at /metrics. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Value of one sample, e.g. value(text, 'sluice_rows_synced_total', { source: 'met', table: 'orders' }). */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

describe('metrics', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  let port: number;

  beforeAll(async () => {
    emu = await startDemo({ orders: 90, seed: 9 });
    port = await freePort();
    env = await sluiceEnv({
      sources: [{ name: 'met', type: 'demo', config: { baseUrl: emu.url, token: emu.token, pageSize: 30 }, tables: { orders: { mode: 'incremental' } } }],
      extra: { metrics: { port } },
    });
  });
  afterAll(async () => {
    await env.close();
    await emu.close();
  });

  it('exposes rows synced, requests, retries, rate-limit waits, durations and the Temporal SDK metrics', async () => {
    const before = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(value(before, 'sluice_rows_synced_total', { source: 'met' })).toBeUndefined();

    // One transient failure and one rate limit (Retry-After: 1 s) on the way.
    emu.faults.push({ times: 1, kind: { type: 'status', status: 503 } }, { times: 1, kind: { type: 'status', status: 429, headers: { 'retry-after': '1' }, body: { error: 'rate_limited' } } });
    const r = await env.run('sync', 'met');
    expect(r.code, r.stderr).toBe(0);

    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const l = { source: 'met', table: 'orders' };
    expect(value(text, 'sluice_rows_synced_total', l)).toBe(90);
    expect(value(text, 'sluice_rows_read_total', l)).toBe(90);
    expect(value(text, 'sluice_pages_total', l)).toBe(3);
    // 3 pages + the 2 answered with faults
    expect(value(text, 'sluice_http_requests_total', l)).toBe(5);
    expect(value(text, 'sluice_http_retries_total', l)).toBeGreaterThanOrEqual(1);
    expect(value(text, 'sluice_rate_limit_waits_total', l)).toBeGreaterThanOrEqual(1);
    expect(value(text, 'sluice_rate_limit_wait_seconds_total', l)).toBeGreaterThanOrEqual(0.9);
    expect(value(text, 'sluice_table_syncs_total', { ...l, outcome: 'succeeded' })).toBe(1);
    expect(value(text, 'sluice_sync_duration_seconds_count', { ...l, outcome: 'succeeded' })).toBe(1);
    expect(value(text, 'sluice_process_cpu_seconds_total')).toBeGreaterThan(0);
    // The Temporal SDK's own runtime metrics, served through the same endpoint.
    expect(text).toMatch(/^temporal_\w+/m);
    expect(text).toMatch(/temporal_activity_execution_latency\w*\{[^}]*activity_type="extractTable"/);

    // A failed sync counts as such.
    emu.faults.push({ times: 1, kind: { type: 'status', status: 401, body: { error: 'invalid_token' } } });
    const bad = await env.run('sync', 'met');
    expect(bad.code).toBe(1);
    const after = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(value(after, 'sluice_table_syncs_total', { ...l, outcome: 'failed' })).toBe(1);
    expect(value(after, 'sluice_rows_synced_total', l)).toBe(90);
  });
});
