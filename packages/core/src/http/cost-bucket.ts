import type { ProgressEvent } from '../types';
import type { RateGovernor } from './governor';
import { sleep } from './client';
import { viaRedis, type RateScope } from './shared-rates';

/**
 * The shared form (scale-out): the bucket model (available points, when, maximum, restore rate) is a Redis hash
 * and the reservations in flight a sorted set (`token:cost`, scored by a deadline so a dead worker's expire),
 * under the account's scope. RESERVE takes `cost` points or says how many ms until they are there; OBSERVE
 * resets the model from the vendor's throttle status minus every worker's reservations still in flight.
 */
const SHARED_RESERVE = `
local h, z = KEYS[1], KEYS[2]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local c, keep, defMax, defRate, member, flightMs, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('zremrangebyscore', z, '-inf', now)
local s = redis.call('hmget', h, 'avail', 'at', 'max', 'rate')
local max = tonumber(s[3]) or defMax
local rate = tonumber(s[4]) or defRate
local avail = tonumber(s[1]) or max
local at = tonumber(s[2]) or now
local est = math.min(max, avail + (now - at) / 1000 * rate)
c = math.min(c, max - keep)
local need = c - (est - keep)
if need > 0 then return math.ceil(need / rate * 1000) end
redis.call('hset', h, 'avail', tostring(est - c), 'at', now, 'max', max, 'rate', rate)
redis.call('zadd', z, now + flightMs, member)
redis.call('pexpire', h, ttl)
redis.call('pexpire', z, ttl)
return 0
`;
const SHARED_OBSERVE = `
local h, z = KEYS[1], KEYS[2]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max, cur, rate, requested, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('zremrangebyscore', z, '-inf', now)
local sum = 0
for _, m in ipairs(redis.call('zrange', z, 0, -1)) do sum = sum + (tonumber(string.match(m, ':([%d%.]+)$')) or 0) end
local others = math.max(0, sum - requested)
redis.call('hset', h, 'avail', tostring(math.min(max, cur) - others), 'at', now, 'max', max, 'rate', rate)
redis.call('pexpire', h, ttl)
return 0
`;
const SHARED_DONE = `redis.call('zrem', KEYS[1], ARGV[1]) return 0`;

/**
 * A governor for cost-based rate limits (Shopify's GraphQL Admin API, and any API that reports a leaky
 * bucket of points with every response). It keeps a model of the vendor's bucket:
 * - every response's throttle status (maximum, currently available, restore rate) resets the model;
 *   between responses the model refills at the restore rate;
 * - each request reserves its planned cost; a request whose cost exceeds what is available waits
 *   exactly `(cost − available) / restoreRate` first (one computed sleep, never a polling loop);
 * - `fit` sizes a page so its cost fits what is available now (or the whole bucket, when waiting is
 *   unavoidable anyway);
 * - `waitMs` tells a throttled caller how long until its cost is available again.
 * One instance per vendor account per worker, shared by every table of the source.
 */
export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface CostReport {
  requested?: number;
  actual?: number;
  throttle?: ThrottleStatus;
  throttled?: boolean;
}

export interface CostBucketOptions {
  /** Assumed before the first response tells the truth. */
  maximumAvailable?: number;
  restoreRate?: number;
  /** Reads the vendor's cost report from a response body (Shopify's `extensions.cost`: connectors/shopify). */
  read: (body: unknown) => CostReport | undefined;
  /** Cost of a request that does not say (`HttpRequest.cost`). */
  defaultCost?: number;
  /** Keep this many points in hand (other clients of the same account, clock skew). */
  reserve?: number;
  clock?: () => number;
  /**
   * Share the bucket with every worker process through Redis (`ctx.rates?.scope(account)`): reservations and
   * the vendor's reports of all workers update one model. `fit`/`available`/`waitMs` read this process's copy.
   */
  shared?: RateScope;
}

export interface PageCost {
  /** Cost of the request without items (connection overhead, other fields). */
  fixed: number;
  /** Cost of each item requested. */
  perItem: number;
  /** Vendor's page size limit. */
  maxItems: number;
  /** Vendor's single-request cost limit. */
  maxCost?: number;
  /** Smallest page worth sending now rather than waiting for a full one (default half the best page). */
  minItems?: number;
}

export interface CostBucket extends RateGovernor {
  /** Whether a vendor report has been seen (before that, the model runs on the assumed defaults). */
  observed(): boolean;
  /** Points the model says are available now. */
  available(): number;
  readonly maximumAvailable: number;
  readonly restoreRate: number;
  /** Milliseconds until `cost` points are available (0 when they are). */
  waitMs(cost: number): number;
  /** Items per page: as many as fit what is available now, or the largest page when none fit. */
  fit(page: PageCost): number;
  /** The cost of `n` items of a page (for `HttpRequest.cost`). */
  costOf(page: PageCost, n: number): number;
  stats(): Record<string, number>;
}

export function costBucket(opts: CostBucketOptions): CostBucket {
  const clock = opts.clock ?? (() => Date.now());
  const read = opts.read;
  const keep = opts.reserve ?? 0;
  let max = opts.maximumAvailable ?? 1000;
  let rate = opts.restoreRate ?? 50;
  let avail = max;
  let at = clock();
  let inflight = 0;
  let admission: Promise<unknown> = Promise.resolve();
  let seen = false;
  const s = { requests: 0, waits: 0, waitedMs: 0, throttled: 0, requestedCost: 0, actualCost: 0, firstAt: 0, lastAt: 0, startAvailable: 0 };

  const estimate = () => Math.min(max, avail + ((clock() - at) / 1000) * rate);
  const usable = () => estimate() - keep;
  const waitMs = (cost: number) => {
    const need = Math.min(cost, max - keep) - usable();
    return need <= 0 ? 0 : Math.ceil((need / rate) * 1000);
  };
  const costOf = (p: PageCost, n: number) => Math.ceil(p.fixed + p.perItem * n);

  const bucket: CostBucket = {
    get maximumAvailable() {
      return max;
    },
    get restoreRate() {
      return rate;
    },
    observed: () => seen,
    available: () => Math.max(0, usable()),
    waitMs,
    costOf,
    fit(p) {
      const ceiling = Math.min(max - keep, p.maxCost ?? Infinity);
      const best = Math.max(1, Math.min(p.maxItems, Math.floor((ceiling - p.fixed) / Math.max(p.perItem, 1e-9))));
      const now = Math.min(best, Math.floor((usable() - p.fixed) / Math.max(p.perItem, 1e-9)));
      const min = Math.max(1, p.minItems ?? Math.ceil(best / 2));
      return now >= min ? now : best;
    },
    async schedule(fn, { report, cost }) {
      const c = Math.max(0, Math.min(cost ?? opts.defaultCost ?? 1, max - keep));
      // Admission is serial (FIFO): the wait is computed from the model, slept once, then re-checked in
      // case another table of the source reserved points meanwhile.
      const member = opts.shared ? `${opts.shared.token()}:${c}` : '';
      const turn = admission.then(async () => {
        // While Redis cannot be reached, the process's own model of the bucket stands in for the shared one.
        const shared = await viaRedis(opts.shared, async (scope) => {
          for (;;) {
            const ms = Number(await scope.eval(SHARED_RESERVE, ['bucket', 'bucket:inflight'], [c, keep, max, rate, member, 10 * 60_000, 24 * 3600_000]));
            if (ms <= 0) break;
            s.waits++;
            s.waitedMs += ms;
            report?.({ type: 'wait', ms, reason: `cost budget (shared): need ${c} points, refilling at ${rate}/s` } satisfies ProgressEvent);
            await sleep(Math.max(ms, 10));
          }
        });
        for (let ms = shared ? 0 : waitMs(c); ms > 0; ms = waitMs(c)) {
          s.waits++;
          s.waitedMs += ms;
          report?.({ type: 'wait', ms, reason: `cost budget: need ${c} points, ${Math.floor(Math.max(0, usable()))} available, refilling at ${rate}/s` } satisfies ProgressEvent);
          await sleep(Math.max(ms, 10));
        }
        avail = estimate() - c;
        at = clock();
        inflight += c;
      });
      admission = turn.catch(() => undefined);
      await turn;
      s.requests++;
      try {
        return await fn();
      } finally {
        inflight -= c;
        if (opts.shared) await opts.shared.eval(SHARED_DONE, ['bucket:inflight'], [member]).catch(() => undefined);
      }
    },
    observe(res) {
      const r = read(res.body);
      if (!r) return;
      s.lastAt = clock();
      if (r.throttle && !s.firstAt) {
        // The budget of the run starts with what the vendor first said was available (before this request).
        s.firstAt = s.lastAt;
        s.startAvailable = r.throttle.currentlyAvailable + (r.actual ?? 0);
      }
      if (r.throttled) s.throttled++;
      if (r.requested !== undefined && !r.throttled) s.requestedCost += r.requested;
      if (r.actual !== undefined) s.actualCost += r.actual;
      if (r.throttle) {
        seen = true;
        max = r.throttle.maximumAvailable;
        rate = r.throttle.restoreRate;
        // The vendor's figure already counts this request; requests still in flight are not in it yet.
        const others = Math.max(0, inflight - (r.requested ?? 0));
        avail = Math.min(max, r.throttle.currentlyAvailable) - others;
        at = clock();
        void opts.shared
          ?.eval(SHARED_OBSERVE, ['bucket', 'bucket:inflight'], [max, r.throttle.currentlyAvailable, rate, r.requested ?? 0, 24 * 3600_000])
          .catch(() => undefined);
      }
    },
    stats() {
      const seconds = s.lastAt > s.firstAt ? (s.lastAt - s.firstAt) / 1000 : 0;
      const budget = s.startAvailable + seconds * rate;
      return {
        costRequests: s.requests,
        costWaits: s.waits,
        costWaitedMs: s.waitedMs,
        throttled: s.throttled,
        requestedCost: s.requestedCost,
        actualCost: s.actualCost,
        maximumAvailable: max,
        restoreRate: rate,
        budgetUsed: budget > 0 ? s.actualCost / budget : 0,
      };
    },
  };
  return bucket;
}
