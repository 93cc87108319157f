import type { ProgressEvent } from '../types';
import { viaRedis, type RateScope } from './shared-rates';
import type { WindowBudgetGovernor, WindowBudgetOptions } from './window-budget-types';

/**
 * The fixed-window budget of window-budget.ts with its state in Redis, so that every worker process
 * spending one vendor account's budget counts against the same window (scale-out).
 *
 * Why not estimate "the" window and roll over at its reset, as the in-process governor does: with several
 * processes and network latency, a request sent before our estimated reset can reach the vendor after its
 * real one and open the vendor's next window early; rolling over at our estimate then hands out a fresh
 * budget while the vendor is already counting. That let one request in two runs meet a 429.
 *
 * Instead every request holds a slot from the moment it is admitted until the window that counted it has
 * certainly ended: while in flight, and after its answer until "answer time + X-Rate-Limit-Reset seconds"
 * (or + the window length when the vendor sends no headers), plus a learnt margin. Every request the vendor
 * counts in a window arrived during it, so all of them still hold a slot at any moment of that window: a
 * window can never count more than `limit` of ours, whatever the latency, the order of answers or the
 * number of processes. The cost is at most one round trip per window (the first slot frees when the first
 * answer of the window says the window is over), not a rounding step: slots free one by one as their own
 * estimates pass, and the earliest is exact to a round trip.
 *
 * What the slots cannot know is learnt from the vendor:
 * - `X-Rate-Limit-Limit` replaces the assumed limit.
 * - A `Remaining` lower than our free slots means another application spends the same key: its requests
 *   hold phantom slots until the reset the vendor announced.
 * - A 429 holds every request until the reset it announces, and grows the shared margin by `marginStepMs`
 *   (the header's resolution; a vendor rounding the reset down is early by up to that much), once per 429
 *   burst and at most to `maxMarginMs`. After the budget was full, the first freed slot lets one request
 *   probe the new window before the others follow, so an early estimate costs one 429, not one per slot.
 *
 * State (Redis, under the account's scope; times on Redis's clock, so the workers' clocks need not agree):
 * `window` hash (limit, margin, hold, probe, full, grownAt), `window:slots` sorted set (every slot by the
 * raw time it frees; the margin is applied on reading, so a grown margin also holds the slots already
 * taken) and `window:inflight` (requests in flight by a deadline: a worker that dies mid-request frees its
 * slot after `flightMs`).
 */
const ACQUIRE = `
local h, z, f = KEYS[1], KEYS[2], KEYS[3]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local defLimit, margin0, cap, token, flightMs, ttl, pollMs, windowMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local s = redis.call('hmget', h, 'limit', 'margin', 'hold', 'probe', 'full')
local limit = tonumber(s[1]) or defLimit
local margin = tonumber(s[2]) or margin0
local hold = tonumber(s[3]) or 0
local probe = s[4]
local full = s[5] == '1'
for _, m in ipairs(redis.call('zrangebyscore', f, '-inf', now)) do
  -- lost with its worker: it may have reached the vendor, so its slot stays for a window
  redis.call('zrem', f, m)
  redis.call('zadd', z, now + windowMs, m)
end
redis.call('zremrangebyscore', z, '-inf', now - margin)
if probe and not redis.call('zscore', f, probe) then
  redis.call('hdel', h, 'probe')
  probe = false
end
local used = redis.call('zcard', z)
local flying = redis.call('zcard', f)
local out
if now < hold then
  out = {2, hold - now}
elseif used < limit and flying < cap and not probe then
  redis.call('zadd', z, now + flightMs, token)
  redis.call('zadd', f, now + flightMs, token)
  if full then
    redis.call('hset', h, 'probe', token)
    redis.call('hdel', h, 'full')
  end
  out = {0, now}
  used = used + 1
  flying = flying + 1
elseif used < limit then
  out = {1, pollMs}
else
  redis.call('hset', h, 'full', 1)
  local first = redis.call('zrange', z, 0, 0, 'WITHSCORES')
  if redis.call('zscore', f, first[1]) then
    out = {1, pollMs}
  else
    out = {2, math.max(1, tonumber(first[2]) + margin - now)}
  end
end
redis.call('hset', h, 'limit', limit, 'margin', margin)
for _, k in ipairs(KEYS) do redis.call('pexpire', k, ttl) end
table.insert(out, limit)
table.insert(out, limit - used)
table.insert(out, margin)
table.insert(out, flying)
return out
`;

const LEARN = `
local h, z, f = KEYS[1], KEYS[2], KEYS[3]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token, admittedAt, status = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local l, r, k = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local windowMs, stepMs, maxMargin, ttl, defLimit, margin0, flightMs = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
redis.call('zrem', f, token)
local s = redis.call('hmget', h, 'limit', 'margin', 'hold', 'probe', 'grownAt')
local limit = tonumber(s[1]) or defLimit
local margin = tonumber(s[2]) or margin0
local hold = tonumber(s[3]) or 0
local grownAt = tonumber(s[5]) or 0
if s[4] == token then redis.call('hdel', h, 'probe') end
if l and l > 0 then limit = l end
local grew = 0
if status == 429 then
  -- Refused, so not counted: the slot frees. Our slots said there was room, so either our estimate of a
  -- window's end was early or another application spends the key. Once per burst: requests admitted
  -- before the last growth were sent on the old estimate.
  redis.call('zrem', z, token)
  if admittedAt >= grownAt and margin < maxMargin then
    margin = math.min(maxMargin, margin + stepMs)
    redis.call('hset', h, 'grownAt', now)
    grew = 1
  end
  hold = math.max(hold, now + (k and k * 1000 or windowMs) + margin)
  redis.call('hset', h, 'hold', hold)
else
  -- Answered (or lost on the way: it may have been counted): the slot frees when its window has ended.
  local frees = now + ((status > 0 and k) and k * 1000 or windowMs)
  redis.call('zadd', z, frees, token)
  if status > 0 and r and k then
    -- The vendor has counted limit - r. Held slots that are not in flight (answered, or phantoms already)
    -- and requests of ours in flight admitted before this one (probably counted already) explain part;
    -- the rest is another application's.
    local flying = redis.call('zcard', f)
    local held = redis.call('zcount', z, now - margin, '+inf') - flying
    local earlier = redis.call('zcount', f, '-inf', '(' .. tostring(admittedAt + flightMs))
    for i = 1, (limit - r) - held - earlier do redis.call('zadd', z, frees, 'x:' .. token .. ':' .. i) end
  end
end
redis.call('hset', h, 'limit', limit, 'margin', margin)
for _, key in ipairs(KEYS) do redis.call('pexpire', key, ttl) end
return grew
`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `local` spends the process's own budget while Redis cannot be reached (see RedisUnavailableError). */
export function sharedWindowBudget(opts: WindowBudgetOptions, scope: RateScope, local: WindowBudgetGovernor): WindowBudgetGovernor {
  const maxConcurrent = Math.max(1, opts.maxConcurrent ?? 2);
  const stepMs = opts.marginStepMs ?? 1000;
  const maxMarginMs = opts.maxMarginMs ?? 2000;
  const marginMs = opts.marginMs ?? 0;
  const keys = ['window', 'window:slots', 'window:inflight'];
  /** A request in flight longer than this is presumed lost with its worker. */
  const flightMs = 10 * 60_000;
  const ttlMs = Math.max(opts.windowMs * 10, 3600_000);
  const pollMs = 25;
  const counters = { requests: 0, waits: 0, waitedMs: 0, throttled: 0, earlyResets: 0 };
  let view = { limit: opts.limit, remaining: opts.limit, resetInMs: undefined as number | undefined, marginMs, inflight: 0 };

  function header(headers: Record<string, string>, name: string): number | undefined {
    const raw = headers[name.toLowerCase()];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  }

  /** Waits for a slot; returns the Redis time of admission. */
  async function acquire(token: string, report?: (e: ProgressEvent) => void): Promise<number> {
    let reportedUntil: number | undefined;
    for (;;) {
      const [code, a, limit, remaining, margin, inflight] = (await scope.eval(ACQUIRE, keys, [opts.limit, marginMs, maxConcurrent, token, flightMs, ttlMs, pollMs, opts.windowMs])) as number[];
      view = { limit: limit!, remaining: remaining!, resetInMs: code === 2 ? a : undefined, marginMs: margin!, inflight: inflight! };
      if (code === 0) return a!;
      if (code === 2) {
        const until = Date.now() + a!;
        // One report per wait for a window (the next slot's time moves as other workers take slots).
        if (reportedUntil === undefined || until - reportedUntil > 500) {
          reportedUntil = until;
          counters.waits++;
          counters.waitedMs += a!;
          report?.({ type: 'wait', ms: a!, reason: `rate limited, resuming in ${Math.ceil(a! / 1000)} s` });
        }
      }
      await sleep(Math.max(1, a!));
    }
  }

  async function learn(token: string, admittedAt: number, res: { status: number; headers: Record<string, string> } | undefined) {
    if (res?.status === 429) counters.throttled++;
    const h = res?.headers ?? {};
    const grew = await scope.eval(LEARN, keys, [
      token,
      admittedAt,
      res?.status ?? 0,
      (res && header(h, opts.limitHeader)) ?? '',
      (res && header(h, opts.remainingHeader)) ?? '',
      (res && header(h, opts.resetHeader)) ?? '',
      opts.windowMs,
      stepMs,
      maxMarginMs,
      ttlMs,
      opts.limit,
      marginMs,
      flightMs,
    ]);
    if (grew === 1) counters.earlyResets++;
  }

  return {
    async schedule(fn, ctx) {
      const token = scope.token();
      const admitted = await viaRedis(scope, () => acquire(token, ctx.report));
      if (!admitted) return local.schedule(fn, ctx);
      const admittedAt = admitted.value;
      counters.requests++;
      let res: { status: number; headers: Record<string, string> } | undefined;
      try {
        const result = await fn();
        const r = result as unknown as { status?: unknown; headers?: unknown };
        if (r && typeof r.status === 'number' && r.headers && typeof r.headers === 'object') res = r as { status: number; headers: Record<string, string> };
        return result;
      } finally {
        await learn(token, admittedAt, res).catch(() => undefined);
      }
    },
    stats: () => ({ ...counters, marginMs: view.marginMs, localRequests: local.stats().requests ?? 0 }),
    state: () => ({ ...view }),
  };
}
