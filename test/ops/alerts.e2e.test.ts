import http from 'node:http';
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { start as startDemo, type DemoEmulator } from '../../packages/emulators/src/demo/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';
import type { FailureAlert } from '../../workflows/src/alerts';

/** `alerts: { webhook, afterFailedIntervals }`: a failing table sync POSTs a JSON payload to the webhook. */
describe('failure alerts', () => {
  let emu: DemoEmulator;
  let env: SluiceEnv;
  let receiver: http.Server;
  let webhook: string;
  const received: { path: string; contentType?: string; body: FailureAlert }[] = [];

  beforeAll(async () => {
    emu = await startDemo({ orders: 30, seed: 2 });
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(body) as FailureAlert });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    webhook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/sluice`;
    const sources = [{ name: 'al', type: 'demo', config: { baseUrl: emu.url, token: emu.token }, tables: { orders: { mode: 'incremental' } } }];
    env = await sluiceEnv({ sources, worker: false });
    await env.writeConfig(sources, {
      temporal: { address: inject('temporalAddress'), namespace: 'default', taskQueue: env.taskQueue, uiUrl: inject('temporalUiUrl') },
      alerts: { webhook, afterFailedIntervals: 2 },
    });
  });
  afterAll(async () => {
    await env.close();
    await emu.close();
    await new Promise((r) => receiver.close(r));
  });

  const failOnce = () => emu.faults.push({ times: 1, kind: { type: 'status', status: 401, body: { error: 'invalid_token', message: 'The access token is invalid' } } });

  it('posts after N failed syncs in a row, with source, table, error, workflow id and a UI link', async () => {
    failOnce();
    expect((await env.run('sync', 'al')).code).toBe(1);
    // One failure is below afterFailedIntervals: 2.
    expect(received).toHaveLength(0);

    failOnce();
    expect((await env.run('sync', 'al')).code).toBe(1);
    expect(received).toHaveLength(1);
    const [a] = received;
    expect(a!.path).toBe('/hooks/sluice');
    expect(a!.contentType).toBe('application/json');
    expect(a!.body).toMatchObject({ event: 'sluice.table_sync_failed', source: 'al', table: 'orders', mode: 'incremental', workflowId: 'sluice:al:orders', namespace: 'default', consecutiveFailures: 2, afterFailedIntervals: 2, lastSucceededAt: null });
    expect(a!.body.error).toContain('invalid_token');
    expect(a!.body.text).toContain('al.orders failed (2 times in a row)');
    // The workflow the alert names is the failed run, and the link opens it in the Temporal UI.
    const desc = await env.client.workflow.getHandle(a!.body.workflowId, a!.body.runId).describe();
    expect(desc.status.name).toBe('FAILED');
    expect(a!.body.url).toBe(`${inject('temporalUiUrl')}/namespaces/default/workflows/sluice%3Aal%3Aorders/${a!.body.runId}/history`);
    expect((await fetch(a!.body.url!)).status).toBe(200);

    // A success resets the count; the next single failure stays quiet.
    expect((await env.run('sync', 'al')).code).toBe(0);
    failOnce();
    expect((await env.run('sync', 'al')).code).toBe(1);
    expect(received).toHaveLength(1);
  });
});
