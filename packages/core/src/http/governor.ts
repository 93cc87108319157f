import Bottleneck from 'bottleneck';
import type { ProgressEvent } from '../connector';

/**
 * A rate governor decides when a request may go out. One governor per source (vendor account) per
 * worker, shared by every table of the source. Kinds implemented here: a plain concurrency/spacing
 * limiter, and a budget driven by the vendor's rate-limit headers. Cost-based budgets (Shopify) are
 * built on the same interface.
 */
export interface RateGovernor {
  /** Runs `fn` when the budget allows; `report` hears about waits. */
  schedule<T>(fn: () => Promise<T>, opts: { report?: (e: ProgressEvent) => void; cost?: number }): Promise<T>;
  /** Learns from every response (headers, cost extensions). */
  observe?(response: { status: number; headers: Record<string, string>; body: unknown }): void;
  /** Statistics for benchmarks and progress displays. */
  stats?(): Record<string, number>;
}

export interface LimiterOptions {
  maxConcurrent?: number;
  /** Minimum spacing between request starts. */
  minTimeMs?: number;
  /** Bottleneck clustering (Redis) for scale-out: passed through to Bottleneck. */
  bottleneck?: Bottleneck.ConstructorOptions;
}

export function concurrencyLimiter(opts: LimiterOptions = {}): RateGovernor {
  const limiter = new Bottleneck({ maxConcurrent: opts.maxConcurrent ?? 4, minTime: opts.minTimeMs ?? 0, ...opts.bottleneck });
  return { schedule: (fn) => limiter.schedule(fn) };
}

export interface HeaderBudgetOptions {
  /** Requests per window when no header has been seen yet. */
  limit: number;
  windowMs: number;
  limitHeader: string;
  remainingHeader: string;
  /** Header carrying the seconds until the window resets. */
  resetHeader: string;
  maxConcurrent?: number;
  bottleneck?: Bottleneck.ConstructorOptions;
}

/**
 * Spends the whole budget the vendor advertises, then waits exactly until the window resets. The
 * vendor's headers are the truth (another client may share the key); our own count covers the time
 * before the first response and requests still in flight.
 */
export function headerBudget(opts: HeaderBudgetOptions): RateGovernor {
  const limiter = new Bottleneck({ maxConcurrent: opts.maxConcurrent ?? 2, reservoir: opts.limit, ...opts.bottleneck });
  let limit = opts.limit;
  let resetAt = Date.now() + opts.windowMs;
  let refill: NodeJS.Timeout | undefined;
  let requests = 0;
  let waitedMs = 0;

  const armRefill = () => {
    if (refill) clearTimeout(refill);
    refill = setTimeout(() => {
      refill = undefined;
      void limiter.updateSettings({ reservoir: limit });
      resetAt = Date.now() + opts.windowMs;
    }, Math.max(0, resetAt - Date.now()) + 50);
    refill.unref();
  };

  return {
    async schedule(fn, { report }) {
      const reservoir = await limiter.currentReservoir();
      if (reservoir !== null && reservoir <= 0) {
        const ms = Math.max(0, resetAt - Date.now());
        waitedMs += ms;
        report?.({ type: 'wait', ms, reason: `rate limited, resuming in ${Math.ceil(ms / 1000)} s` });
        if (!refill) armRefill();
      }
      return limiter.schedule(async () => {
        requests++;
        return fn();
      });
    },
    observe({ headers }) {
      const l = Number(headers[opts.limitHeader.toLowerCase()]);
      const remaining = Number(headers[opts.remainingHeader.toLowerCase()]);
      const reset = Number(headers[opts.resetHeader.toLowerCase()]);
      if (Number.isFinite(l) && l > 0) limit = l;
      if (Number.isFinite(reset)) {
        resetAt = Date.now() + reset * 1000;
        if (Number.isFinite(remaining)) {
          // Requests already admitted but not answered also spend budget.
          void limiter.running().then((running) => limiter.updateSettings({ reservoir: Math.max(0, remaining - Math.max(0, running - 1)) }));
          armRefill();
        }
      }
    },
    stats: () => ({ requests, waitedMs }),
  };
}
