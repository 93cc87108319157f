import { SluiceError, errorMessage } from '../errors';
import type { DataRecord, Json, Logger, ProgressEvent } from '../types';
import { keysetScan, type KeysetScanOptions, type Position, type ScanPage } from './keyset-scan';

/**
 * Time windows: the range [from, until) is walked in windows, and inside each window pages are key-set
 * on (time, …tie-breakers) (./keyset-scan.ts). For vendors whose every query is expensive (PostHog's HogQL
 * spends one of ~120 hourly queries): large pages, and windows sized to what the vendor can answer. A
 * window the vendor refuses as too large (a timeout) is halved, down to a minimum; a window answered by
 * one sparse page lets the next one double, up to a maximum but never back to a span that was refused in
 * this sync (the ceiling). `until` is fixed when the sync starts, so a resumed attempt covers the same
 * range; the checkpoint resumes in the middle of a window.
 */

/** A window answered by one page holding less than this share of a page lets the next window double. */
const SPARSE_SHARE = 1 / 4;

export type WindowsState = {
  /**
   * Format version. Version 1 is also what PostHog's own events loop wrote before this kind existed, so
   * an attempt in flight across the upgrade resumes where it was.
   */
  readonly v: 1;
  /** Start of the current window (ISO, inclusive). */
  readonly from: string;
  /** End of the current window (ISO, exclusive). */
  readonly to: string;
  /** End of the whole range, fixed when the sync starts. */
  readonly until: string;
  /** Last position read inside the current window (null: at its start). */
  readonly after: Position | null;
  /** Span of the next window. */
  readonly windowMs: number;
  /** Smallest span refused as too large in this sync: later windows stay at half of it. */
  readonly ceilingMs?: number;
};

export type WindowsCheckpoint = WindowsState | { readonly done: true };

/** The window and the position inside it that the vendor is asked for. */
export interface WindowRequest {
  readonly from: string;
  readonly to: string;
  readonly after: Position | null;
}

export interface TimeWindowsOptions extends Pick<KeysetScanOptions, 'vendor' | 'table' | 'orderKey'> {
  /** The key inside a window; its first field is the time the windows cut (an ISO string). */
  readonly fields: readonly [string, ...string[]];
  readonly window: { readonly initialMs: number; readonly minMs: number; readonly maxMs: number };
  /** Page size inside a window, for the sparse rule. */
  readonly size: number;
  /** The range of a sync that starts afresh (called only without a checkpoint). */
  readonly range: () => { fromMs: number; untilMs: number };
  /** Whether an error is the vendor refusing the window as too large (to be halved), rather than a failure. */
  readonly tooLarge: (error: unknown) => boolean;
  readonly fetch: (req: WindowRequest) => Promise<ScanPage>;
  readonly checkpoint?: Json;
  readonly report: (event: ProgressEvent) => void;
  readonly log: Logger;
}

const iso = (ms: number) => new Date(ms).toISOString();

function resumeWindows(checkpoint: Json | undefined, o: Pick<TimeWindowsOptions, 'table' | 'fields'>): WindowsState | 'done' | null {
  if (checkpoint === undefined || checkpoint === null) return null;
  const cp = checkpoint as Partial<WindowsState> & { done?: unknown };
  if (cp.done === true) return 'done';
  const times = [cp.from, cp.to, cp.until].every((t) => typeof t === 'string' && Number.isFinite(Date.parse(t)));
  const after = cp.after === null || (Array.isArray(cp.after) && cp.after.length === o.fields.length);
  if (cp.v === 1 && times && after && typeof cp.windowMs === 'number') return cp as WindowsState;
  throw new SluiceError('config', `${o.table}: cannot resume from the checkpoint ${JSON.stringify(checkpoint).slice(0, 200)} (not a time-windows position); this sync fails, and the next one starts the table afresh`);
}

export async function* timeWindows(o: TimeWindowsOptions): AsyncGenerator<{ records: DataRecord[]; checkpoint: WindowsCheckpoint }> {
  const resumed = resumeWindows(o.checkpoint, o);
  if (resumed === 'done') return;
  let s: WindowsState;
  if (resumed) s = resumed;
  else {
    const { fromMs, untilMs } = o.range();
    const windowMs = Math.max(o.window.minMs, o.window.initialMs);
    s = { v: 1, from: iso(fromMs), to: iso(Math.min(fromMs + windowMs, untilMs)), until: iso(untilMs), after: null, windowMs };
    o.log.info(`${o.table}: reading time windows`, { from: s.from, until: s.until });
  }
  const untilMs = Date.parse(s.until);
  if (Date.parse(s.from) >= untilMs) {
    yield { records: [], checkpoint: { done: true } };
    return;
  }
  const scanOf = (w: WindowsState) =>
    keysetScan({
      vendor: o.vendor,
      table: o.table,
      fields: o.fields,
      orderKey: o.orderKey,
      checkpoint: w.after ? { after: w.after } : undefined,
      fetch: (after) => o.fetch({ from: w.from, to: w.to, after }),
    });
  let scan = scanOf(s);
  for (;;) {
    let step;
    try {
      step = await scan.next();
    } catch (e) {
      if (!o.tooLarge(e)) throw e;
      s = split(s, e, o);
      scan = scanOf(s);
      continue;
    }
    if (step.done) throw new Error('a key-set scan ended without its last page'); // keysetScan always yields { done } last
    const { records, checkpoint } = step.value;
    if ('after' in checkpoint) {
      s = { ...s, after: checkpoint.after };
      yield { records, checkpoint: s };
      continue;
    }
    // The window is done: move on, growing the next window when this one was sparse.
    s = nextWindow(s, records.length, o);
    if (Date.parse(s.from) >= untilMs) {
      yield { records, checkpoint: { done: true } };
      return;
    }
    yield { records, checkpoint: s };
    scan = scanOf(s);
  }
}

/** The window after a finished one: doubled when it was answered by one sparse page, within the bounds and the ceiling. */
function nextWindow(s: WindowsState, lastPageRecords: number, o: Pick<TimeWindowsOptions, 'window' | 'size'>): WindowsState {
  const spanMs = Date.parse(s.to) - Date.parse(s.from);
  const sparse = s.after === null && lastPageRecords < o.size * SPARSE_SHARE;
  const grown = sparse ? Math.min(o.window.maxMs, Math.max(s.windowMs, spanMs) * 2) : s.windowMs;
  const windowMs = Math.max(o.window.minMs, Math.min(grown, (s.ceilingMs ?? Infinity) / 2));
  const fromMs = Date.parse(s.to);
  return { ...s, from: s.to, to: iso(Math.min(fromMs + windowMs, Date.parse(s.until))), after: null, windowMs };
}

/** The current window halved from where the read stands in it; below the minimum span the table fails (retried later). */
function split(s: WindowsState, e: unknown, o: Pick<TimeWindowsOptions, 'vendor' | 'table' | 'window' | 'report' | 'log'>): WindowsState {
  const fromMs = Date.parse(s.from);
  // Inside a window the first key field is the time: what is still to read starts there.
  const at = s.after ? Math.max(fromMs, Date.parse(String(s.after[0]))) : fromMs;
  const end = Date.parse(s.to);
  const half = Math.floor((end - at) / 2);
  if (half < o.window.minMs) {
    throw new SluiceError('transient', `${o.vendor} cannot answer even a ${Math.round((end - at) / 1000)} s window of ${o.table} starting ${iso(at)} (${errorMessage(e)}); will retry later`, {
      status: e instanceof SluiceError ? e.status : undefined,
      cause: e,
    });
  }
  const next: WindowsState = { ...s, to: iso(at + half), windowMs: Math.max(o.window.minMs, half), ceilingMs: Math.min(s.ceilingMs ?? Infinity, end - at) };
  o.report({ type: 'note', message: `${o.vendor} could not answer the ${o.table} window in time; splitting the window to ${Math.round(half / 60_000)} min (up to ${next.to})` });
  o.log.warn(`${o.table}: window split`, { from: next.from, to: next.to, after: next.after });
  return next;
}
