import type { ProgressEvent } from '../connector';
import type { RateScope } from './shared-rates';
import type { WindowBudgetGovernor, WindowBudgetOptions } from './window-budget';

/**
 * The fixed-window budget of window-budget.ts with its state in Redis, so that every worker process
 * spending one vendor account's budget counts against the same window (scale-out).
 *
 * Why not a Bottleneck reservoir: a reservoir refreshes on its own clock, while the vendor's window starts
 * with the first request after the previous one ended and its end is learnt from the reset header; a
 * reservoir refreshed mid-window would let a second budget in before the vendor's window ends.
 *
 * The same rules as the in-process governor, applied atomically by Lua scripts on Redis's clock:
 * - `acquire`: rolls to a new window when the estimated reset has passed (requests still in flight count in
 *   the new window), admits a request while budget and the in-flight cap allow, otherwise says how long to
 *   wait (until the reset, or a short poll while a slot or a first answer is pending). Right after a reset
 *   wait one request probes the new window before the rest follow.
 * - `learn`: every answer sets the window's count to what the vendor counted plus every request of ours
 *   still in flight (the vendor may not have counted them yet), and the reset estimate to the earliest
 *   "now + reset seconds + margin"; answers to requests of an earlier window, or older than one already
 *   applied, are ignored. A 429 right after a reset wait grows the shared margin by `marginStepMs`.
 * - Requests in flight are members of a sorted set scored by a deadline: a worker that dies mid-request
 *   frees its slots when the deadline passes.
 */
const ACQUIRE = `
local h, z = KEYS[1], KEYS[2]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local defLimit, windowMs, margin0, cap0 = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local token, flightMs, ttl, pollMs = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
redis.call('zremrangebyscore', z, '-inf', now)
local s = redis.call('hmget', h, 'limit', 'epoch', 'granted', 'resetAt', 'margin', 'startedAt', 'firstAt', 'afterWait', 'seq')
local limit = tonumber(s[1]) or defLimit
local epoch = tonumber(s[2]) or 0
local granted = tonumber(s[3]) or 0
local resetAt = tonumber(s[4])
local margin = tonumber(s[5]) or margin0
local startedAt = tonumber(s[6]) or now
local firstAt = tonumber(s[7])
local afterWait = s[8] == '1'
local seq = tonumber(s[9]) or 0
local inflight = redis.call('zcard', z)
if resetAt and now >= resetAt then
  afterWait = granted >= limit
  epoch = epoch + 1
  startedAt = now
  firstAt = nil
  resetAt = nil
  granted = math.min(limit, inflight)
  redis.call('hdel', h, 'resetAt', 'firstAt')
end
local cap = cap0
if afterWait and not firstAt then cap = 1 end
local out
if granted < limit and inflight < cap then
  granted = granted + 1
  seq = seq + 1
  redis.call('zadd', z, now + flightMs, token)
  out = {0, epoch, seq, limit - granted}
elseif granted < limit then
  out = {1, pollMs, 0, limit - granted}
elseif resetAt then
  out = {2, resetAt - now, 0, 0}
elseif inflight > 0 then
  out = {1, pollMs, 0, 0}
else
  resetAt = (firstAt or startedAt) + windowMs + margin
  out = {2, resetAt - now, 0, 0}
end
redis.call('hset', h, 'limit', limit, 'epoch', epoch, 'granted', granted, 'margin', margin, 'startedAt', startedAt, 'afterWait', afterWait and 1 or 0, 'seq', seq)
if resetAt then redis.call('hset', h, 'resetAt', resetAt) end
redis.call('pexpire', h, ttl)
redis.call('pexpire', z, ttl)
table.insert(out, margin)
table.insert(out, inflight)
if resetAt then table.insert(out, resetAt - now) else table.insert(out, -1) end
return out
`;

const LEARN = `
local h, z = KEYS[1], KEYS[2]
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token, fepoch, fseq, status = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local l, r, k = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local windowMs, stepMs, maxMargin, ttl = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
redis.call('zrem', z, token)
if status == 0 then return 0 end
local s = redis.call('hmget', h, 'limit', 'epoch', 'granted', 'resetAt', 'margin', 'firstAt', 'afterWait', 'applied')
local limit = tonumber(s[1])
if not limit then return 0 end
local epoch = tonumber(s[2]) or 0
local granted = tonumber(s[3]) or 0
local resetAt = tonumber(s[4])
local margin = tonumber(s[5]) or 0
local firstAt = tonumber(s[6])
local afterWait = s[7] == '1'
local applied = tonumber(s[8]) or 0
if l and l > 0 then limit = l end
if fepoch == epoch and not firstAt then firstAt = now end
if status == 429 then
  if fepoch == epoch and afterWait then
    margin = math.min(maxMargin, margin + stepMs)
    afterWait = false
  end
  granted = limit
  local untilAt = now + (k and k * 1000 or windowMs) + margin
  if (not resetAt) or fepoch == epoch then resetAt = untilAt else resetAt = math.min(resetAt, untilAt) end
elseif r and k and fseq >= applied then
  local estimate = now + k * 1000 + margin
  if fepoch == epoch then
    applied = fseq
    granted = math.max(0, math.min(limit, limit - r + redis.call('zcard', z)))
    if resetAt and estimate > resetAt + 1000 then
      -- The vendor's window ends a whole rounding step later than ours: it already began a new one (a
      -- request of ours reached it after its reset). Follow it: a new epoch that ends when the vendor's does.
      epoch = epoch + 1
      firstAt = now
      afterWait = false
      resetAt = estimate
      redis.call('hset', h, 'epoch', epoch, 'startedAt', now)
    elseif (not resetAt) or estimate < resetAt then
      resetAt = estimate
    end
  end
end
redis.call('hset', h, 'limit', limit, 'granted', granted, 'margin', margin, 'afterWait', afterWait and 1 or 0, 'applied', applied)
if firstAt then redis.call('hset', h, 'firstAt', firstAt) end
if resetAt then redis.call('hset', h, 'resetAt', resetAt) end
redis.call('pexpire', h, ttl)
return 1
`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function sharedWindowBudget(opts: WindowBudgetOptions, scope: RateScope): WindowBudgetGovernor {
  const maxConcurrent = Math.max(1, opts.maxConcurrent ?? 2);
  const stepMs = opts.marginStepMs ?? 1000;
  const maxMarginMs = opts.maxMarginMs ?? 2000;
  const marginMs = opts.marginMs ?? 0;
  const keys = ['window', 'window:inflight'];
  /** A request in flight longer than this is presumed lost with its worker. */
  const flightMs = 10 * 60_000;
  const ttlMs = Math.max(opts.windowMs * 10, 3600_000);
  const pollMs = 50;
  const counters = { requests: 0, waits: 0, waitedMs: 0, throttled: 0, earlyResets: 0 };
  let view = { limit: opts.limit, remaining: opts.limit, resetInMs: undefined as number | undefined, marginMs, inflight: 0 };

  function header(headers: Record<string, string>, name: string): number | undefined {
    const raw = headers[name.toLowerCase()];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }

  async function acquire(token: string, report?: (e: ProgressEvent) => void): Promise<{ epoch: number; seq: number }> {
    let reportedUntil: number | undefined;
    for (;;) {
      const [code, a, b, remaining, margin, inflight, resetIn] = (await scope.eval(ACQUIRE, keys, [opts.limit, opts.windowMs, marginMs, maxConcurrent, token, flightMs, ttlMs, pollMs])) as number[];
      view = { limit: view.limit, remaining: remaining!, resetInMs: resetIn! < 0 ? undefined : resetIn, marginMs: margin!, inflight: inflight! };
      if (code === 0) return { epoch: a!, seq: b! };
      if (code === 2) {
        const until = Date.now() + a!;
        // One report per window wait (the estimate moves by a few ms between polls of other workers).
        if (reportedUntil === undefined || Math.abs(until - reportedUntil) > 500) {
          reportedUntil = until;
          counters.waits++;
          counters.waitedMs += a!;
          report?.({ type: 'wait', ms: a!, reason: `rate limited, resuming in ${Math.ceil(a! / 1000)} s` });
        }
      }
      await sleep(Math.max(1, a!));
    }
  }

  async function learn(token: string, flight: { epoch: number; seq: number }, res: { status: number; headers: Record<string, string> } | undefined) {
    if (res?.status === 429) counters.throttled++;
    const h = res?.headers ?? {};
    const l = res ? header(h, opts.limitHeader) : undefined;
    if (l !== undefined && l > 0) view.limit = l;
    await scope.eval(LEARN, keys, [
      token,
      flight.epoch,
      flight.seq,
      res?.status ?? 0,
      l ?? '',
      res ? (header(h, opts.remainingHeader) ?? '') : '',
      res ? (header(h, opts.resetHeader) ?? '') : '',
      opts.windowMs,
      stepMs,
      maxMarginMs,
      ttlMs,
    ]);
  }

  return {
    async schedule(fn, { report }) {
      const token = scope.token();
      const flight = await acquire(token, report);
      counters.requests++;
      let res: { status: number; headers: Record<string, string> } | undefined;
      try {
        const result = await fn();
        const r = result as unknown as { status?: unknown; headers?: unknown };
        if (r && typeof r.status === 'number' && r.headers && typeof r.headers === 'object') res = r as { status: number; headers: Record<string, string> };
        return result;
      } finally {
        await learn(token, flight, res).catch(() => undefined);
      }
    },
    stats: () => ({ ...counters, marginMs: view.marginMs }),
    state: () => ({ ...view }),
  };
}
