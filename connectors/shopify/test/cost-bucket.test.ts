import { describe, expect, it } from 'vitest';
import { costBucket } from '@sluice/core/http/cost-bucket';
import { shopifyCostReport } from '../src/cost-report';

const status = (currentlyAvailable: number, requested = 10, actual = 10, maximumAvailable = 1000, restoreRate = 50) => ({
  status: 200,
  headers: {},
  body: { data: {}, extensions: { cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: { maximumAvailable, currentlyAvailable, restoreRate } } } },
});

describe('cost bucket governor', () => {
  it('models the bucket from throttleStatus and refills at the restore rate', () => {
    let now = 0;
    const b = costBucket({ read: shopifyCostReport, clock: () => now });
    expect(b.observed()).toBe(false);
    b.observe!(status(100));
    expect(b.observed()).toBe(true);
    expect(b.available()).toBe(100);
    expect(b.waitMs(300)).toBe(4000); // (300 − 100) / 50 per second
    now = 2000;
    expect(b.available()).toBe(200);
    now = 60_000;
    expect(b.available()).toBe(1000); // never above the maximum
    expect(b.waitMs(5000)).toBe(0); // a cost above the bucket is capped (the caller shrinks the page)
  });

  it('sizes pages to what is available, or to the best page when waiting is unavoidable', () => {
    const now = 0;
    const b = costBucket({ read: shopifyCostReport, clock: () => now });
    b.observe!(status(1000));
    const page = { fixed: 2, perItem: 10, maxItems: 250, maxCost: 1000 };
    expect(b.fit(page)).toBe(99); // (1000 − 2) / 10, under the single-query limit
    b.observe!(status(600));
    expect(b.fit(page)).toBe(59); // fits now, above half the best page
    b.observe!(status(100));
    expect(b.fit(page)).toBe(99); // would be a tiny page: wait for a full one instead
    expect(b.costOf(page, 99)).toBe(992);
  });

  it('waits (cost − available) / restoreRate before a request that would not fit, once, without polling', async () => {
    const b = costBucket({ read: shopifyCostReport, maximumAvailable: 100, restoreRate: 1000 });
    b.observe!(status(0, 10, 10, 100, 1000));
    const waits: number[] = [];
    const t0 = Date.now();
    await b.schedule(async () => 'ok', { cost: 80, report: (e) => e.type === 'wait' && waits.push(e.ms) });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(70);
    expect(waits[0]).toBeLessThanOrEqual(80);
  });

  it('concurrent requests reserve their cost in turn: together they never overdraw the model', async () => {
    const b = costBucket({ read: shopifyCostReport, maximumAvailable: 100, restoreRate: 500 });
    b.observe!(status(100, 0, 0, 100, 500));
    const starts: number[] = [];
    const t0 = Date.now();
    await Promise.all([1, 2, 3, 4].map(() => b.schedule(async () => starts.push(Date.now() - t0), { cost: 50 })));
    starts.sort((x, y) => x - y);
    // 100 points for the first two, then 50 points per 100 ms
    expect(starts[1]!).toBeLessThan(50);
    expect(starts[2]!).toBeGreaterThanOrEqual(90);
    expect(starts[3]!).toBeGreaterThanOrEqual(190);
    expect(b.stats()['costWaits']).toBe(2);
  });
});
