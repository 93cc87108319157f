import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, expect } from 'vitest';
import { createLogger } from '@sluice/core';
import { WarehousePaths, insertSyncSql, withLake, withLakeRetry } from '@sluice/warehouse';
import { scheduleIntervalMs, startStalenessWatchdog, type StaleAlert } from '../../workflows/src/watchdog';
import type { Runtime } from '../../workflows/src/runtime';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A schedule that has not succeeded for N intervals alerts, even when no sync runs at all. */
describe('staleness watchdog', () => {
  it('knows the interval of every and cron schedules', () => {
    expect(scheduleIntervalMs({ every: '30m' })).toBe(30 * 60_000);
    expect(scheduleIntervalMs({ cron: '0 * * * *' })).toBe(3_600_000);
    expect(scheduleIntervalMs({ cron: '*/15 * * * *' })).toBe(15 * 60_000);
    expect(scheduleIntervalMs({ cron: '0 9 * * 1-5' })).toBe(86_400_000);
  });

  it('alerts once per stale period, and not while syncs succeed', async () => {
    const received: StaleAlert[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const wh = new WarehousePaths(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-stale-')));
    // (the watchdog's reads hold the SQLite catalog for a moment: writers retry, as commits do)
    const success = (table: string, at: number) =>
      withLakeRetry(() => withLake(wh, {}, ({ conn }) =>
        conn.run(insertSyncSql({ source: 'fresh', table, syncId: `s${at}`, mode: 'incremental', fullRefresh: false, startedAt: new Date(at).toISOString(), finishedAt: new Date(at).toISOString(), outcome: 'succeeded', rowsRead: 1, rowsWritten: 1, pages: 1, schemaChanges: [] })),
      ));
    await success('orders', Date.now());
    const table = (name: string) => ({ name, mode: 'incremental' as const });
    const rt = {
      warehouse: wh,
      sources: new Map([
        ['idle', { name: 'idle', type: 'demo', connector: {} as never, config: {}, tables: [table('orders')] }],
        ['fresh', { name: 'fresh', type: 'demo', connector: {} as never, config: {}, tables: [table('orders')] }],
      ]),
      log: createLogger({ level: 'silent' }),
      alerts: { webhook: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, afterFailedIntervals: 2 },
      views: () => [],
    } satisfies Runtime;
    // "idle" never ran; "fresh" keeps succeeding (its last success is moved forward as time passes)
    let clock = Date.now();
    const stop = startStalenessWatchdog(rt, [{ source: 'idle', intervalMs: 1000 }, { source: 'fresh', intervalMs: 1000 }], { checkEveryMs: 50, now: () => clock });
    try {
      for (let step = 0; step < 10; step++) {
        clock += 500;
        await success('orders', clock);
        await new Promise((r) => setTimeout(r, 80));
      }
      expect(received.map((a) => [a.event, a.source, a.table, a.lastSucceededAt])).toEqual([['sluice.schedule_stale', 'idle', null, null]]);
      expect(received[0]!.text).toContain('has not synced successfully for 2 scheduled interval(s)');
    } finally {
      stop();
      server.close();
    }
  });
});
