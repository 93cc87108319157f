import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, sourceConfig, type ShipStationEmulator } from '@sluice/emulators/shipstation/index';
import { sluiceEnv, type SluiceEnv } from '@sluice/testing/harness';
import { startRedis, type TestRedis } from '../redis-server';

/**
 * Scale-out: two real `sluice worker` processes, each syncing its own source, both sources on ONE ShipStation
 * key pair (a short window: 10 requests per 2 s). With `redis:` configured the two workers spend the key's
 * budget in one shared window: the emulator serves zero 429s and never more than the limit in a window.
 * The same setup without `redis:` runs two independent budgets of one key, and the emulator refuses the excess.
 *
 * Each worker runs in its own environment (its own task queue, a config with only its source), so that
 * the two sources are certainly synced by two different processes.
 */
const LIMIT = 10;
const WINDOW_MS = 2000;

let ss: ShipStationEmulator;
let redis: TestRedis | undefined;
let skip = '';
const envs: SluiceEnv[] = [];

beforeAll(async () => {
  const r = await startRedis();
  if ('skip' in r) skip = r.skip;
  else redis = r;
  ss = await start({ seed: 41, rateLimit: { limit: LIMIT, windowMs: WINDOW_MS } });
  // Requests take a while, as real ones do: several are in flight when a window fills up.
  ss.latencyMs = 400;
});
afterAll(async () => {
  for (const e of envs) await e.close();
  await ss?.close();
  await redis?.stop();
});

/** Two environments with one worker process each, syncing `<prefix>_a` and `<prefix>_b` at once (full refresh). */
async function syncBoth(prefix: string, extra: Record<string, unknown>) {
  const pair: SluiceEnv[] = [];
  for (const side of ['a', 'b']) {
    const env = await sluiceEnv({ sources: [{ name: `${prefix}_${side}`, type: 'shipstation', config: { ...sourceConfig(ss), pageSize: 100 } }], extra, worker: false });
    envs.push(env);
    pair.push(env);
  }
  const workers = await Promise.all(pair.map((e) => e.workerProcess()));
  ss.resetRateLimit();
  const throttledBefore = ss.throttled();
  const windowsBefore = ss.windows().length;
  const results = await Promise.all(pair.map((e, i) => e.run('sync', `${prefix}_${i === 0 ? 'a' : 'b'}`, '--full-refresh', '--json')));
  for (const r of results) expect(r.code, r.stderr + r.stdout).toBe(0);
  const tables = results.flatMap((r) => (JSON.parse(r.stdout) as { tables: { table: string; outcome: string }[] }[]).flatMap((s) => s.tables));
  // Workers drain and exit on SIGTERM (the Redis connection does not hold them open).
  const exits = await Promise.all(workers.map((w) => new Promise<number | null>((resolve) => (w.exitCode !== null ? resolve(w.exitCode) : (w.once('exit', (code) => resolve(code)), w.kill('SIGTERM'))))));
  expect(exits).toEqual([0, 0]);
  const windows = ss.windows().slice(windowsBefore);
  return { tables, throttled: ss.throttled() - throttledBefore, windows, requests: windows.reduce((n, w) => n + w.count, 0) };
}

describe('scale-out: rate limits shared through redis', () => {
  it('two worker processes on one ShipStation key: zero 429s and at most the limit per window with redis:, 429s without', async (ctx) => {
    if (skip) return ctx.skip(skip);

    const shared = await syncBoth('scale_redis', { redis: { url: redis!.url } });
    expect(shared.tables.filter((t) => t.outcome !== 'succeeded'), 'tables that did not succeed').toEqual([]);
    expect(shared.tables).toHaveLength(14);
    expect(shared.requests, 'more requests than one window allows, or the test proves nothing').toBeGreaterThan(LIMIT);
    expect(shared.throttled, '429s served with redis:').toBe(0);
    expect(shared.windows.filter((w) => w.count > LIMIT), 'windows over the limit').toEqual([]);

    const alone = await syncBoth('scale_plain', {});
    expect(alone.tables.filter((t) => t.outcome !== 'succeeded'), 'tables that did not succeed').toEqual([]);
    // Two budgets of one key: together they ask for more than the window holds, and the vendor says 429.
    expect(alone.throttled, '429s served without redis:').toBeGreaterThan(0);

    console.info(
      `scale-out: with redis ${shared.requests} requests in ${shared.windows.length} windows (max ${Math.max(...shared.windows.map((w) => w.count))}/${LIMIT}), ${shared.throttled} 429s; ` +
        `without ${alone.requests} requests in ${alone.windows.length} windows, ${alone.throttled} 429s`,
    );
  });
});
