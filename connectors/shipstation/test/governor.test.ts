import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '@sluice/core';
import { windowBudget } from '@sluice/core/http/window-budget';

/**
 * The header-driven window budget against an in-process vendor: a fixed window that starts with the
 * first request after the previous one ended (ShipStation-like), random latency, out-of-order answers.
 */
function vendor(o: { limit: number; windowMs: number; rounding?: 'ceil' | 'floor'; headers?: boolean; latency?: () => number }) {
  let w: { start: number; end: number; count: number } | undefined;
  const windows: { start: number; count: number }[] = [];
  let throttled = 0;
  const call = async () => {
    await new Promise((r) => setTimeout(r, 2)); // one way
    const now = Date.now();
    if (!w || now >= w.end) {
      w = { start: now, end: now + o.windowMs, count: 0 };
      windows.push(w);
    }
    const left = (w.end - now) / 1000;
    const reset = String(o.rounding === 'floor' ? Math.floor(left) : Math.ceil(left));
    const ok = w.count < o.limit;
    if (ok) w.count++;
    else throttled++;
    const headers: Record<string, string> = o.headers === false ? {} : { 'x-rate-limit-limit': String(o.limit), 'x-rate-limit-remaining': String(o.limit - w.count), 'x-rate-limit-reset': reset };
    await new Promise((r) => setTimeout(r, o.latency?.() ?? 5)); // processing + way back
    return { status: ok ? 200 : 429, headers, body: undefined };
  };
  return { call, windows, throttled: () => throttled };
}

const governor = (o: { limit?: number; windowMs?: number; maxConcurrent?: number } = {}) =>
  windowBudget({ limit: o.limit ?? 40, windowMs: o.windowMs ?? 60_000, limitHeader: 'X-Rate-Limit-Limit', remainingHeader: 'X-Rate-Limit-Remaining', resetHeader: 'X-Rate-Limit-Reset', maxConcurrent: o.maxConcurrent ?? 4 });

/** `callers` concurrent loops sharing one governor, `total` requests in all; 429s are retried after the reset like HttpClient does. */
async function drive(g: ReturnType<typeof governor>, v: ReturnType<typeof vendor>, total: number, callers = 5) {
  let left = total;
  const events: ProgressEvent[] = [];
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (left > 0) {
        left--;
        for (;;) {
          const res = await g.schedule(v.call, { report: (e) => events.push(e) });
          if (res.status !== 429) break;
          await new Promise((r) => setTimeout(r, Math.max(1, Number(res.headers['x-rate-limit-reset'] ?? 1)) * 1000));
        }
      }
    }),
  );
  return events;
}

describe('windowBudget governor', () => {
  it('fills every window to the limit, opens the next right at the reset, never draws a 429 (random latency, 4 in flight)', async () => {
    const v = vendor({ limit: 8, windowMs: 1000, latency: () => 5 + Math.random() * 40 });
    const g = governor({ limit: 40, windowMs: 60_000 });
    const events = await drive(g, v, 40);
    expect(v.throttled()).toBe(0);
    expect(v.windows.map((w) => w.count)).toEqual([8, 8, 8, 8, 8]);
    for (let i = 1; i < v.windows.length; i++) expect(v.windows[i]!.start - (v.windows[i - 1]!.start + 1000)).toBeLessThan(250); // latency ≤ 47 ms, plus timer jitter on a busy machine
    expect(events.filter((e) => e.type === 'wait').length).toBeGreaterThanOrEqual(4);
    for (const e of events) expect(e).toMatchObject({ type: 'wait', reason: expect.stringMatching(/^rate limited, resuming in 1 s$/) });
    expect(g.stats().throttled).toBe(0);
  });

  it('learns a margin when the reset header is rounded down: one early 429, then none', async () => {
    const v = vendor({ limit: 5, windowMs: 1500, rounding: 'floor' });
    const g = governor();
    await drive(g, v, 15, 3);
    expect(v.throttled()).toBe(1);
    expect(g.stats().marginMs).toBe(1000);
    const before = v.throttled();
    await drive(g, v, 10, 3);
    expect(v.throttled()).toBe(before);
  });

  it('without rate-limit headers, keeps to the configured limit and window', async () => {
    const v = vendor({ limit: 6, windowMs: 800, headers: false });
    const g = governor({ limit: 6, windowMs: 800 });
    await drive(g, v, 24, 4);
    expect(v.throttled()).toBe(0);
    expect(v.windows.map((w) => w.count)).toEqual([6, 6, 6, 6]);
  });

  it('another client spending the same key: waits the announced reset instead of failing', async () => {
    const v = vendor({ limit: 6, windowMs: 1000 });
    await v.call(); // someone else opens the window…
    for (let i = 0; i < 5; i++) await v.call(); // …and spends it
    const g = governor({ limit: 6, windowMs: 1000 });
    const t0 = Date.now();
    await drive(g, v, 6, 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(v.windows.length).toBe(2);
    expect(v.windows[1]!.count).toBe(6);
  });
});
