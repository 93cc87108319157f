import Bottleneck from 'bottleneck';
import type { ProgressEvent } from '../connector';

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
  /** Bottleneck clustering (Redis) for scale-out: passed through to Bottleneck. */
  bottleneck?: Bottleneck.ConstructorOptions;
}

export function concurrencyLimiter(opts: LimiterOptions = {}): RateGovernor {
  const limiter = new Bottleneck({ maxConcurrent: opts.maxConcurrent ?? 4, minTime: opts.minTimeMs ?? 0, ...opts.bottleneck });
  return { schedule: (fn) => limiter.schedule(fn) };
}
