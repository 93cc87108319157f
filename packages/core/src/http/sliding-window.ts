import type { ProgressEvent } from '../types';
import type { RateGovernor } from './governor';
import { viaRedis, type RateScope } from './shared-rates';

/**
 * The shared form (scale-out): the start times of admitted requests are a Redis sorted set and the vendor's
 * "hold everything until" a key, both under the account's scope; admission is one atomic script on Redis's
 * clock. Returns 0 (admitted, `cost` entries added) or the milliseconds to wait.
 */
const SHARED_ADMIT = `
local z, b = KEYS[1], KEYS[2]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost, limit, windowMs, token = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('zremrangebyscore', z, '-inf', now - windowMs)
local ms = math.max(0, (tonumber(redis.call('get', b)) or 0) - now)
local n = redis.call('zcard', z)
if n + cost > limit and n > 0 then
  local idx = math.min(n - 1, n + cost - limit - 1)
  local e = redis.call('zrange', z, idx, idx, 'WITHSCORES')
  ms = math.max(ms, tonumber(e[2]) + windowMs - now)
end
if ms > 0 then return ms end
for i = 1, cost do redis.call('zadd', z, now, token .. ':' .. i) end
redis.call('pexpire', z, windowMs + 60000)
return 0
`;
const SHARED_BLOCK = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilAt = now + tonumber(ARGV[1])
if untilAt > (tonumber(redis.call('get', KEYS[1])) or 0) then redis.call('set', KEYS[1], untilAt, 'PX', tonumber(ARGV[1]) + 1000) end
return 0
`;

/**
 * A request budget of `limit` per rolling `windowMs` (PostHog: 120 HogQL queries an hour per key), kept
 * locally because the vendor sends no budget headers. Requests with `cost: 0` pass without spending (other
 * endpoints of the same vendor). When the vendor still says 429 (another client spends the same key),
 * `blockFor` (called from `observe`) holds every request until the time the vendor named.
 */
export interface SlidingWindowOptions {
  limit: number;
  windowMs: number;
  maxConcurrent?: number;
  /** Milliseconds to hold all requests after this response (e.g. a 429's "available in N seconds"). */
  blockFor?: (response: { status: number; headers: Record<string, string>; body: unknown }) => number | undefined;
  /** For wait messages: "PostHog query budget (120/hour)". */
  label?: string;
  /** Share the budget with every worker process through Redis (`ctx.rates?.scope(account)`); concurrency stays per process. */
  shared?: RateScope;
}

export interface SlidingWindowGovernor extends RateGovernor {
  /** Spent in the current window. */
  used(): number;
  /** Milliseconds until one more request may start (0 = now). */
  waitMs(): number;
}

export function slidingWindowBudget(opts: SlidingWindowOptions): SlidingWindowGovernor {
  const starts: number[] = []; // start times of admitted requests, oldest first
  let blockedUntil = 0;
  let running = 0;
  const waiters: (() => void)[] = [];
  let admission: Promise<void> = Promise.resolve();
  let requests = 0;
  let waitedMs = 0;
  const maxConcurrent = opts.maxConcurrent ?? 2;
  const label = opts.label ?? `budget (${opts.limit} per ${Math.round(opts.windowMs / 1000)} s)`;

  const prune = (now: number) => {
    while (starts.length > 0 && starts[0]! <= now - opts.windowMs) starts.shift();
  };
  const waitMs = (cost: number) => {
    const now = Date.now();
    prune(now);
    let ms = Math.max(0, blockedUntil - now);
    if (starts.length + cost > opts.limit && starts.length > 0) {
      const idx = Math.min(starts.length - 1, starts.length + cost - opts.limit - 1);
      ms = Math.max(ms, starts[idx]! + opts.windowMs - now);
    }
    return ms;
  };
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

  async function admit(cost: number, report?: (e: ProgressEvent) => void) {
    // While Redis cannot be reached, the process's own log of starts stands in for the shared one.
    const shared = await viaRedis(opts.shared, async (scope) => {
      const token = scope.token();
      for (;;) {
        const ms = Number(await scope.eval(SHARED_ADMIT, ['sliding', 'sliding:blocked'], [cost, opts.limit, opts.windowMs, token]));
        if (ms <= 0) break;
        waitedMs += ms;
        report?.({ type: 'wait', ms, reason: `${label} spent, resuming in ${Math.ceil(ms / 1000)} s` });
        await sleep(Math.min(ms, 60_000) + 5);
      }
    });
    for (;;) {
      if (shared) break;
      const ms = waitMs(cost);
      if (ms <= 0) break;
      waitedMs += ms;
      report?.({ type: 'wait', ms, reason: `${label} spent, resuming in ${Math.ceil(ms / 1000)} s` });
      await sleep(Math.min(ms, 60_000) + 5);
    }
    const now = Date.now();
    for (let i = 0; i < cost; i++) starts.push(now);
  }

  async function slot(): Promise<void> {
    if (running < maxConcurrent) {
      running++;
      return;
    }
    await new Promise<void>((r) => waiters.push(r));
    running++;
  }
  function release() {
    running--;
    waiters.shift()?.();
  }

  return {
    async schedule(fn, { report, cost }) {
      const c = cost ?? 1;
      if (c <= 0) return fn();
      await slot();
      try {
        // Admission is serialised so that concurrent callers cannot overspend the window.
        const mine = admission.then(() => admit(c, report));
        admission = mine.catch(() => undefined);
        await mine;
        requests++;
        return await fn();
      } finally {
        release();
      }
    },
    observe(response) {
      const ms = opts.blockFor?.(response);
      if (ms !== undefined && ms > 0) {
        blockedUntil = Math.max(blockedUntil, Date.now() + ms);
        void opts.shared?.eval(SHARED_BLOCK, ['sliding:blocked'], [ms]).catch(() => undefined);
      }
    },
    stats: () => ({ requests, waitedMs, used: starts.length }),
    used: () => {
      prune(Date.now());
      return starts.length;
    },
    waitMs: () => waitMs(1),
  };
}
