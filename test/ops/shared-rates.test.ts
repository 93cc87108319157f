import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concurrencyLimiter, costBucket, redisRates, slidingWindowBudget, windowBudget, type RedisRates, type RateGovernor } from '@sluice/core';
import { shopifyCostReport } from '../../connectors/shopify/src/cost-report';
import { startRedis, type TestRedis } from '../redis-server';
import type { Logger } from '@sluice/core';

/**
 * The shared (Redis) forms of the rate governors, two "worker processes" at a time: each side has its own
 * Redis connections (its own `redisRates`), as two `sluice worker` processes would. The end-to-end proof with
 * real worker processes is scale-out.e2e.test.ts.
 */
let redis: TestRedis | undefined;
let skip = '';
const opened: RedisRates[] = [];
const prefix = `test:${process.pid}:${Date.now()}`;
const rates = () => {
  const r = redisRates({ url: redis!.url, prefix });
  opened.push(r);
  return r;
};

beforeAll(async () => {
  const r = await startRedis();
  if ('skip' in r) skip = r.skip;
  else redis = r;
});
afterAll(async () => {
  for (const r of opened) await r.close();
  await redis?.stop();
});

/** A vendor with ShipStation's fixed window: `limit` per window, the window starting at the first request after the last one ended. */
function fixedWindowVendor(limit: number, windowMs: number, o: { rounding?: 'ceil' | 'floor'; headers?: boolean; latency?: () => number } = {}) {
  let w: { start: number; end: number; count: number } | undefined;
  const windows: { start: number; end: number; count: number }[] = [];
  let throttled = 0;
  return {
    windows,
    throttled: () => throttled,
    async call() {
      await new Promise((r) => setTimeout(r, 3));
      const now = Date.now();
      if (!w || now >= w.end) windows.push((w = { start: now, end: now + windowMs, count: 0 }));
      const left = (w.end - now) / 1000;
      const reset = String(o.rounding === 'floor' ? Math.floor(left) : Math.ceil(left));
      const ok = w.count < limit;
      if (ok) w.count++;
      else throttled++;
      const headers: Record<string, string> = o.headers === false ? {} : { 'x-rate-limit-limit': String(limit), 'x-rate-limit-remaining': String(limit - w.count), 'x-rate-limit-reset': reset };
      await new Promise((r) => setTimeout(r, o.latency?.() ?? 3));
      return { status: ok ? 200 : 429, headers };
    },
  };
}

const budget = (shared?: ReturnType<RedisRates['forSource']>, account = 'vendor-account-1', assumed = { limit: 40, windowMs: 60_000 }) =>
  windowBudget({
    ...assumed,
    limitHeader: 'X-Rate-Limit-Limit',
    remainingHeader: 'X-Rate-Limit-Remaining',
    resetHeader: 'X-Rate-Limit-Reset',
    maxConcurrent: 3,
    shared: shared?.scope(account),
  });

/** Sends `n` requests through each governor, 3 at a time per governor; a 429 is retried (as HttpClient would). */
async function drive(govs: RateGovernor[], vendor: ReturnType<typeof fixedWindowVendor>, n: number) {
  await Promise.all(
    govs.map(async (g) => {
      let left = n;
      const lane = async () => {
        while (left > 0) {
          left--;
          for (let i = 0; i < 10; i++) {
            const res = await g.schedule(() => vendor.call(), {});
            if (res.status !== 429) break;
          }
        }
      };
      await Promise.all([lane(), lane(), lane()]);
    }),
  );
}

describe('rate governors shared through Redis', () => {
  it('two processes share one fixed window: zero 429s, never over the limit; unshared they collide', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const vendor = fixedWindowVendor(5, 1000);
    await drive([budget(rates().forSource('a')), budget(rates().forSource('b'))], vendor, 10);
    expect(vendor.throttled()).toBe(0);
    expect(vendor.windows.filter((w) => w.count > 5)).toEqual([]);
    expect(vendor.windows.reduce((s, w) => s + w.count, 0)).toBe(20);

    const alone = fixedWindowVendor(5, 1000);
    await drive([budget(), budget()], alone, 10);
    expect(alone.throttled(), 'two per-process budgets of one account exceed it').toBeGreaterThan(0);
  });

  it('shared window: random latency, a reset rounded down (one early 429, then a shared margin), no headers at all', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const jittery = fixedWindowVendor(6, 1000, { latency: () => 5 + Math.random() * 60 });
    await drive([budget(rates().forSource('a'), 'jitter'), budget(rates().forSource('b'), 'jitter')], jittery, 7);
    expect(jittery.throttled()).toBe(0);
    expect(jittery.windows.filter((w) => w.count > 6)).toEqual([]);

    const floor = fixedWindowVendor(5, 1500, { rounding: 'floor' });
    const pair = [budget(rates().forSource('a'), 'floor'), budget(rates().forSource('b'), 'floor')];
    await drive(pair, floor, 5);
    expect(floor.throttled(), 'at most one early 429 while the margin is learnt').toBeLessThanOrEqual(1);
    const before = floor.throttled();
    await drive(pair, floor, 3);
    expect(floor.throttled(), 'none once the margin is shared').toBe(before);

    const silent = fixedWindowVendor(6, 800, { headers: false });
    await drive([budget(rates().forSource('a'), 'silent', { limit: 6, windowMs: 800 }), budget(rates().forSource('b'), 'silent', { limit: 6, windowMs: 800 })], silent, 7);
    expect(silent.throttled()).toBe(0);
    expect(silent.windows.filter((w) => w.count > 6)).toEqual([]);
  });

  it('another application spends the same key: the workers keep to what the vendor says is left, and a 429 holds them until the reset', async (ctx) => {
    if (skip) return ctx.skip(skip);
    // It spent 3 of the 6 at the start of the window: Remaining says so, and phantom slots keep ours to 3.
    const half = fixedWindowVendor(6, 1000);
    for (let i = 0; i < 3; i++) await half.call();
    await drive([budget(rates().forSource('a'), 'half'), budget(rates().forSource('b'), 'half')], half, 6);
    expect(half.throttled(), '429s served to the workers').toBe(0);
    expect(half.windows.filter((w) => w.count > 6)).toEqual([]);
    expect(half.windows.reduce((s, w) => s + w.count, 0)).toBe(15);

    // It spent the whole window: the first answers are 429s, and no request of ours reaches the vendor again
    // before that window ends (the reset it announced).
    const all = fixedWindowVendor(6, 1500);
    for (let i = 0; i < 6; i++) await all.call();
    const firstEnd = all.windows[0]!.start + 1500;
    const sent: number[] = [];
    const spy = { ...all, call: async () => (sent.push(Date.now()), all.call()) };
    await drive([budget(rates().forSource('a'), 'all'), budget(rates().forSource('b'), 'all')], spy, 4);
    expect(all.throttled(), 'only the requests in flight when the first 429 came back').toBeLessThanOrEqual(3);
    const throttledAt = sent.slice(all.throttled());
    expect(throttledAt.filter((t) => t < firstEnd), 'requests sent during the hold').toEqual([]);
    expect(all.windows.reduce((s, w) => s + w.count, 0)).toBe(6 + 8);
  });

  it('a clustered concurrencyLimiter holds maxConcurrent across processes', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const run = async (govs: RateGovernor[]) => {
      let now = 0;
      let max = 0;
      const task = async () => {
        max = Math.max(max, ++now);
        await new Promise((r) => setTimeout(r, 30));
        now--;
      };
      await Promise.all(govs.flatMap((g) => Array.from({ length: 6 }, () => g.schedule(task, {}))));
      return max;
    };
    const shared = await run([concurrencyLimiter({ maxConcurrent: 2, shared: rates().forSource('s').scope() }), concurrencyLimiter({ maxConcurrent: 2, shared: rates().forSource('s').scope() })]);
    expect(shared).toBe(2);
    expect(await run([concurrencyLimiter({ maxConcurrent: 2 }), concurrencyLimiter({ maxConcurrent: 2 })])).toBe(4);
  });

  it('a shared cost bucket spends one bucket across processes', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const admittedAtOnce = async (shared: boolean) => {
      // Two workers (their own Redis connections), one shop.
      const g = ['c', 'd'].map((source) => costBucket({ read: shopifyCostReport, maximumAvailable: 100, restoreRate: 200, shared: shared ? rates().forSource(source).scope('shop-x') : undefined }));
      const t0 = Date.now();
      const at: number[] = [];
      await Promise.all(g.flatMap((b) => [0, 1, 2].map(() => b.schedule(async () => void at.push(Date.now() - t0), { cost: 40 }))));
      return at.filter((t) => t < 100).length;
    };
    // 100 points hold two requests of 40 at once, whichever worker asks; two private buckets let four through.
    expect(await admittedAtOnce(true)).toBe(2);
    expect(await admittedAtOnce(false)).toBe(4);
  });

  it('a shared sliding window admits `limit` per window across processes', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const shared = rates().forSource('p').scope('posthog-key');
    const mk = () => slidingWindowBudget({ limit: 4, windowMs: 800, maxConcurrent: 2, shared });
    // The budget admits on Redis's clock; this process's clock after the round trip would add jitter. Each
    // request, once admitted, reads the window's members (its own is there for a whole window), so the union
    // holds every admission with the time Redis gave it.
    const admitted = new Map<string, number>();
    const record = async () => {
      const flat = (await shared.eval(`return redis.call('zrange', KEYS[1], 0, -1, 'WITHSCORES')`, ['sliding'], [])) as string[];
      for (let i = 0; i + 1 < flat.length; i += 2) admitted.set(flat[i]!, Number(flat[i + 1]));
    };
    const g = [mk(), mk()];
    await Promise.all(g.flatMap((x) => Array.from({ length: 5 }, () => x.schedule(record, {}))));
    const starts = [...admitted.values()].sort((a, b) => a - b);
    expect(starts).toHaveLength(10);
    // Any 5 consecutive admissions span at least a window: never 5 in one window (both sides together).
    for (let i = 0; i + 4 < starts.length; i++) expect(starts[i + 4]! - starts[i]!).toBeGreaterThanOrEqual(800);
  });

  it('redis going away: every shared governor falls back to its own budget within seconds (one warning), and shares again when redis is back', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const own = (await startRedis()) as TestRedis;
    const said: string[] = [];
    const log: Logger = { debug() {}, info: (m) => said.push(`info: ${m}`), warn: (m) => said.push(`warn: ${m}`), error: (m) => said.push(`error: ${m}`) };
    const r = redisRates({ url: own.url, prefix, log });
    opened.push(r);
    const scope = r.forSource('down').scope('acct');
    const vendor = fixedWindowVendor(5, 1000);
    const win = budget(undefined, '', { limit: 5, windowMs: 1000 });
    const shared = windowBudget({ limit: 5, windowMs: 1000, limitHeader: 'X-Rate-Limit-Limit', remainingHeader: 'X-Rate-Limit-Remaining', resetHeader: 'X-Rate-Limit-Reset', shared: scope });
    const govs: [string, RateGovernor][] = [
      ['window', shared],
      ['concurrency', concurrencyLimiter({ maxConcurrent: 2, shared: scope })],
      ['sliding', slidingWindowBudget({ limit: 100, windowMs: 1000, shared: scope })],
      ['bucket', costBucket({ read: shopifyCostReport, maximumAvailable: 100, restoreRate: 50, shared: scope })],
    ];
    const round = () => Promise.all(govs.map(([name, g]) => g.schedule(async () => (name === 'window' ? vendor.call() : { status: 200, headers: {} }), {})));
    await round();
    expect(Number(await scope.eval(`return redis.call('exists', KEYS[1])`, ['window:slots'], [])), 'the window budget lives in redis').toBe(1);
    void win;

    await own.stop();
    const t0 = Date.now();
    await round();
    await round();
    expect(Date.now() - t0, 'requests wait at most one command timeout for a dead redis').toBeLessThan(6000);
    expect(said.filter((m) => m.startsWith('warn')), 'one warning per outage').toHaveLength(1);
    expect(said[0]).toMatch(/unreachable.*each worker keeps its own rate budgets/);
    expect(shared.stats().localRequests).toBe(2);

    const back = (await startRedis(own.port)) as TestRedis;
    try {
      await expect.poll(() => scope.reachable(), { timeout: 15_000, interval: 100 }).toBe(true);
      await round();
      expect(shared.stats().localRequests, 'shared again').toBe(2);
      expect(said.some((m) => m.startsWith('info') && /back/.test(m))).toBe(true);
    } finally {
      await r.close();
      await back.stop();
    }
  });
});
