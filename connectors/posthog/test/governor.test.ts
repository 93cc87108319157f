import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '@sluice/core';
import { slidingWindowBudget } from '@sluice/core/http/sliding-window';
import { throttleWaitMs } from '../src/client';

describe('sliding-window budget (the HogQL query governor)', () => {
  it('admits `limit` requests per rolling window, then waits for the oldest to leave it', async () => {
    const g = slidingWindowBudget({ limit: 2, windowMs: 300 });
    const events: ProgressEvent[] = [];
    const t0 = Date.now();
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 5 }, () => g.schedule(async () => void starts.push(Date.now() - t0), { report: (e) => events.push(e) })));
    starts.sort((a, b) => a - b);
    expect(starts[1]!).toBeLessThan(100);
    expect(starts[2]!).toBeGreaterThanOrEqual(295);
    expect(starts[4]!).toBeGreaterThanOrEqual(595);
    // Never more than two starts inside any 300 ms.
    for (let i = 2; i < starts.length; i++) expect(starts[i]! - starts[i - 2]!).toBeGreaterThanOrEqual(295);
    expect(events.filter((e) => e.type === 'wait').length).toBeGreaterThan(0);
  });

  it('lets cost-0 requests through without spending, and holds everything after a 429 names a wait', async () => {
    const g = slidingWindowBudget({ limit: 1, windowMs: 10_000, blockFor: throttleWaitMs });
    await g.schedule(async () => 1, {});
    const t0 = Date.now();
    await g.schedule(async () => 1, { cost: 0 });
    expect(Date.now() - t0).toBeLessThan(50);
    expect(g.used()).toBe(1);

    const h = slidingWindowBudget({ limit: 100, windowMs: 10_000, blockFor: throttleWaitMs });
    h.observe!({ status: 429, headers: {}, body: { type: 'throttled_error', detail: 'Request was throttled. Expected available in 1 second.' } });
    expect(h.waitMs()).toBeGreaterThan(900);
    const t1 = Date.now();
    await h.schedule(async () => 1, {});
    expect(Date.now() - t1).toBeGreaterThanOrEqual(950);
  });

  it('reads the wait from the throttle detail, else from Retry-After', () => {
    expect(throttleWaitMs({ status: 429, headers: {}, body: { detail: 'Request was throttled. Expected available in 37 seconds.' } })).toBe(37_000);
    expect(throttleWaitMs({ status: 429, headers: { 'retry-after': '12' }, body: { detail: 'slow down' } })).toBe(12_000);
    expect(throttleWaitMs({ status: 200, headers: { 'retry-after': '12' }, body: {} })).toBeUndefined();
  });
});
