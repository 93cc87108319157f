import type { ProgressEvent } from '../types';
import { sharedWindowBudget } from './window-budget-shared';
import type { WindowBudgetGovernor, WindowBudgetOptions } from './window-budget-types';

export type { WindowBudgetGovernor, WindowBudgetOptions } from './window-budget-types';

interface Flight {
  seq: number;
  epoch: number;
  /** 1 for the first request sent in its window, 2 for the second… */
  ordinal: number;
}

/**
 * A fixed-window request budget driven by the vendor's rate-limit headers (ShipStation's
 * `X-Rate-Limit-Limit/Remaining/Reset`: N requests per window, seconds until the window resets).
 *
 * It spends the whole budget, then waits exactly until the window resets, and never more:
 * - Every response tells how much budget is left (minus our own requests still in flight) and when the
 *   window ends. The end estimate is the earliest "receive time + reset seconds" seen in the window:
 *   with a reset rounded up that is never early, and the first response of a window (reset = the full
 *   window) pins it to within one round trip.
 * - Windows are tracked as epochs: a response to a request sent in an earlier window is ignored, and
 *   within a window only the newest request's answer counts (responses may arrive out of order).
 * - A 429 right after a reset wait means the estimate was early (the vendor rounds the reset down, or
 *   its clock runs differently): a safety margin grows by `marginStepMs` (1 s, the header's resolution;
 *   up to `maxMarginMs`) and
 *   stays for the life of the governor, so steady state has no 429s. A 429 elsewhere (another
 *   application spending the same key) only blocks until the reset it announces.
 * - Budget is shared by everything that uses the governor: one per vendor account per worker.
 * Waits are reported as `{ type: 'wait', reason: 'rate limited, resuming in N s' }`.
 */
export function windowBudget(opts: WindowBudgetOptions): WindowBudgetGovernor {
  // The local form stays beside the shared one: it takes over while Redis cannot be reached.
  if (opts.shared) return sharedWindowBudget(opts, opts.shared, windowBudget({ ...opts, shared: undefined }));
  const now = opts.now ?? Date.now;
  const maxConcurrent = Math.max(1, opts.maxConcurrent ?? 2);
  const stepMs = opts.marginStepMs ?? 1000;
  const maxMarginMs = opts.maxMarginMs ?? 2000;
  let marginMs = opts.marginMs ?? 0;
  let limit = opts.limit;
  let remaining = opts.limit;
  /** Estimated end of the current window (ms since epoch, margin included); undefined until a response says. */
  let resetAt: number | undefined;
  let epoch = 0;
  let epochStartedAt = now();
  /** When the first answer of this window arrived: the vendor's window began before it (used when no header says more). */
  let firstAnswerAt: number | undefined;
  /** The current epoch started because we waited for a reset (so a 429 in it means our estimate was early). */
  let epochAfterWait = false;
  let lastAppliedSeq = 0;
  let seq = 0;
  let sentInEpoch = 0;
  const inflight = new Map<number, Flight>();
  const waiters = new Set<() => void>();
  const counters = { requests: 0, waits: 0, waitedMs: 0, throttled: 0, earlyResets: 0 };

  const wake = () => {
    for (const w of [...waiters]) w();
  };

  /** Starts a new window when the estimated reset has passed. */
  const roll = (t: number) => {
    if (resetAt === undefined || t < resetAt) return;
    epoch++;
    epochStartedAt = t;
    firstAnswerAt = undefined;
    epochAfterWait = remaining <= 0;
    resetAt = undefined;
    lastAppliedSeq = seq;
    sentInEpoch = 0;
    // A request sent just before the reset may reach the vendor after it and count in the new window.
    remaining = Math.max(0, limit - inflight.size);
  };

  const waitFor = (ms: number | undefined) =>
    new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        waiters.delete(done);
        if (timer) clearTimeout(timer);
        resolve();
      };
      waiters.add(done);
      if (ms !== undefined) timer = setTimeout(done, Math.max(0, ms));
    });

  async function acquire(report?: (e: ProgressEvent) => void): Promise<Flight> {
    let reportedUntil: number | undefined;
    for (;;) {
      const t = now();
      roll(t);
      // Right after a reset wait, one request probes the new window; the rest follow once it is confirmed
      // (were the estimate early, one request would meet the 429, not all of them).
      const cap = epochAfterWait && firstAnswerAt === undefined ? 1 : maxConcurrent;
      if (remaining > 0 && inflight.size < cap) {
        remaining--;
        const flight = { seq: ++seq, epoch, ordinal: ++sentInEpoch };
        inflight.set(flight.seq, flight);
        return flight;
      }
      if (remaining > 0) {
        await waitFor(undefined); // a slot frees up
        continue;
      }
      // Budget spent. Wait for the window to reset (or for a response that tells us more).
      let until = resetAt;
      if (until === undefined) {
        if (inflight.size > 0) {
          await waitFor(undefined);
          continue;
        }
        until = resetAt = (firstAnswerAt ?? epochStartedAt) + opts.windowMs + marginMs; // no header seen in this window
      }
      const ms = until - t;
      if (ms > 0 && reportedUntil !== until) {
        reportedUntil = until;
        counters.waits++;
        counters.waitedMs += ms;
        report?.({ type: 'wait', ms, reason: `rate limited, resuming in ${Math.ceil(ms / 1000)} s` });
      }
      await waitFor(ms);
    }
  }

  function header(headers: Record<string, string>, name: string): number | undefined {
    const raw = headers[name.toLowerCase()];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }

  function learn(flight: Flight, res: { status: number; headers: Record<string, string> }) {
    const t = now();
    const l = header(res.headers, opts.limitHeader);
    const r = header(res.headers, opts.remainingHeader);
    const k = header(res.headers, opts.resetHeader);
    if (l !== undefined && l > 0) limit = l;
    if (flight.epoch === epoch) firstAnswerAt ??= t;
    if (res.status === 429) {
      counters.throttled++;
      if (flight.epoch === epoch && epochAfterWait) {
        // We believed the window had reset and it had not: our estimate runs early.
        counters.earlyResets++;
        marginMs = Math.min(maxMarginMs, marginMs + stepMs);
        epochAfterWait = false;
      }
      remaining = 0;
      const until = t + (k !== undefined ? k * 1000 : opts.windowMs) + marginMs;
      // A fresh epoch whose requests are refused is still the old window: keep waiting for its end.
      resetAt = resetAt === undefined || flight.epoch === epoch ? until : Math.min(resetAt, until);
      return;
    }
    if (r === undefined || k === undefined) return; // no rate-limit headers: rely on our own count
    if (flight.epoch !== epoch || flight.seq < lastAppliedSeq) return; // stale or out-of-order answer
    lastAppliedSeq = flight.seq;
    // Our requests the vendor may not have counted yet when it answered this one: every one sent after
    // it, and of those sent before it and still unanswered, as many as the vendor's count falls short.
    const counted = limit - r;
    let later = 0;
    let earlier = 0;
    for (const f of inflight.values()) {
      if (f.epoch !== epoch || f.seq === flight.seq) continue;
      if (f.seq > flight.seq) later++;
      else earlier++;
    }
    const uncountedEarlier = Math.max(0, Math.min(earlier, flight.ordinal - counted));
    remaining = Math.max(0, r - later - uncountedEarlier);
    const estimate = t + k * 1000 + marginMs;
    resetAt = resetAt === undefined ? estimate : Math.min(resetAt, estimate);
  }

  return {
    async schedule(fn, { report }) {
      const flight = await acquire(report);
      counters.requests++;
      try {
        const result = await fn();
        const res = result as unknown as { status?: unknown; headers?: unknown };
        if (res && typeof res.status === 'number' && res.headers && typeof res.headers === 'object') learn(flight, res as { status: number; headers: Record<string, string> });
        return result;
      } finally {
        inflight.delete(flight.seq);
        wake();
      }
    },
    stats: () => ({ ...counters, marginMs }),
    state: () => ({ limit, remaining, resetInMs: resetAt === undefined ? undefined : resetAt - now(), marginMs, inflight: inflight.size }),
  };
}
