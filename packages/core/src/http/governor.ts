import Bottleneck from 'bottleneck';
import type { ProgressEvent } from '../types';
import type { RateScope } from './shared-rates';

/**
 * A rate governor decides when a request may go out. One governor per source (vendor account) per
 * worker, shared by every table of the source. Kinds: a plain concurrency/spacing limiter (here), a
 * fixed-window budget driven by rate-limit headers (window-budget.ts), a sliding-window request budget
 * (sliding-window.ts) and a cost bucket (cost-bucket.ts).
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
  /** Extra Bottleneck options: passed through to Bottleneck. */
  bottleneck?: Bottleneck.ConstructorOptions;
  /**
   * Share the limits with every worker process (`ctx.rates?.scope(account)`): the limiter clusters through
   * Bottleneck's Redis datastore, so `maxConcurrent` and `minTimeMs` hold across all workers together.
   */
  shared?: RateScope;
}

export function concurrencyLimiter(opts: LimiterOptions = {}): RateGovernor {
  const settings: Bottleneck.ConstructorOptions = { maxConcurrent: opts.maxConcurrent ?? 4, minTime: opts.minTimeMs ?? 0, ...opts.bottleneck };
  if (!opts.shared) {
    const limiter = new Bottleneck(settings);
    return { schedule: (fn) => limiter.schedule(fn) };
  }
  const shared = opts.shared;
  const limiter = new Bottleneck(shared.bottleneck('concurrency', settings));
  // While Redis cannot be reached, the process keeps its own limits.
  const local = new Bottleneck(settings);
  return {
    async schedule(fn) {
      if (!shared.reachable()) return local.schedule(fn);
      let started = false;
      try {
        // A worker that dies mid-request must not hold its slot forever: jobs expire (well past any HTTP timeout).
        return await limiter.schedule({ expiration: 15 * 60_000 }, () => ((started = true), fn()));
      } catch (err) {
        if (started || !shared.unavailable(err)) throw err;
        return local.schedule(fn);
      }
    },
  };
}
