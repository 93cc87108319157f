import { SluiceError } from '../errors';
import type { Page } from '../connector';
import type { DataRecord, Json, ProgressEvent } from '../types';

/**
 * Sliced reads: a key-set scan over a time range split into slices, read concurrently, merged into one page
 * stream whose checkpoint holds every slice's own position (so a retried attempt resumes each slice where it
 * stopped). The plan (edges) is fixed by the first attempt and travels in the checkpoint.
 *
 * Slice i reads [edges[i], edges[i+1]); the last slice is open-ended, like a sequential scan, because a
 * record modified during the sync moves to the end of the order. When the last slice finishes while others
 * still run, a record modified after that point in an earlier slice's range would be missed: so after all
 * slices are done, a tail pass reads once more from the last slice's last key to the end.
 */

export interface SlicedState {
  v: 1;
  /** Slice edges (UTC ISO), n + 1 of them; the last edge only bounds planning (the last slice is open). */
  edges: string[];
  /** Each slice's checkpoint (the paging driver's), null before it starts. */
  states: (Json | null)[];
  /** The last key the open-ended (last) slice read: where the tail pass starts (absent: from the slice's lower edge). */
  tailAfter?: Json[] | null;
  /** The tail pass's checkpoint. */
  tail?: Json | null;
}

export const isSlicedCheckpoint = (cp: unknown): cp is { sliced: SlicedState } => !!cp && typeof cp === 'object' && 'sliced' in cp;

/** Splits [lo, hi) into n equal time ranges. */
export function sliceEdges(lo: string, hi: string, n: number): string[] {
  const a = Date.parse(lo);
  const b = Date.parse(hi);
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new SluiceError('bad_response', `cannot slice between "${lo}" and "${hi}": not timestamps`);
  const edges = [new Date(a).toISOString()];
  for (let i = 1; i < n; i++) edges.push(new Date(Math.floor(a + ((b - a) * i) / n)).toISOString());
  edges.push(new Date(Math.max(a, b)).toISOString());
  return [...new Set(edges)];
}

const done = (cp: Json | null | undefined) => !!cp && typeof cp === 'object' && !Array.isArray(cp) && (cp as { done?: boolean }).done === true;

/**
 * Runs the slices, `concurrency` at a time, each read one page ahead of what the consumer has taken (so a
 * slice's next request is in flight while the consumer stages a page). `open(i, checkpoint, signal)` starts
 * slice i's page stream; `tail(after, checkpoint, signal)` the final pass. `lastKey` reads the paging key of
 * a record. Any slice failing fails the whole read (the others are aborted).
 */
export async function* runSlices(o: {
  state: SlicedState;
  concurrency: number;
  open: (slice: number, checkpoint: Json | undefined, signal: AbortSignal) => AsyncIterator<Page>;
  tail: (after: Json[] | null, checkpoint: Json | undefined, signal: AbortSignal) => AsyncIterator<Page>;
  lastKey: (record: DataRecord) => Json[];
  signal: AbortSignal;
  report: (e: ProgressEvent) => void;
  table: string;
}): AsyncGenerator<Page> {
  const s: SlicedState = { ...o.state, states: [...o.state.states] };
  const n = s.edges.length - 1;
  const last = n - 1;
  const abort = new AbortController();
  const onAbort = () => abort.abort(o.signal.reason);
  o.signal.addEventListener('abort', onAbort, { once: true });
  const snapshot = (): Json => ({ sliced: { ...s, states: [...s.states] } as unknown as Json });
  type Pending = { slice: number; it: AsyncIterator<Page>; next: Promise<{ slice: number; r: IteratorResult<Page> }> };
  const active = new Map<number, Pending>();
  const pull = (p: Pending) => {
    p.next = p.it.next().then((r) => ({ slice: p.slice, r }));
    return p;
  };
  let nextSlice = 0;
  const startMore = () => {
    while (active.size < o.concurrency && nextSlice < n) {
      const i = nextSlice++;
      if (done(s.states[i])) continue;
      active.set(i, pull({ slice: i, it: o.open(i, s.states[i] ?? undefined, abort.signal), next: undefined as never }));
    }
  };
  const finished = () => s.states.filter((x) => done(x)).length;
  try {
    startMore();
    while (active.size > 0) {
      const { slice, r } = await Promise.race([...active.values()].map((p) => p.next));
      const p = active.get(slice)!;
      if (r.done) {
        // A stream that ends without a done page ended early (it cannot: the paging driver always says done).
        active.delete(slice);
        if (!done(s.states[slice])) throw new SluiceError('bad_response', `${o.table}: slice ${slice + 1} of ${n} ended without finishing`);
        startMore();
        continue;
      }
      const page = r.value;
      s.states[slice] = page.checkpoint;
      if (slice === last && page.records.length > 0) s.tailAfter = o.lastKey(page.records[page.records.length - 1]!);
      if (done(page.checkpoint)) {
        active.delete(slice);
        o.report({ type: 'note', message: `${o.table}: slice ${slice + 1}/${n} done (${finished()}/${n})` });
        startMore();
      } else pull(p);
      yield { records: page.records, checkpoint: snapshot() };
    }
    // The tail: what was modified after the open-ended slice finished, from its last key on (one request
    // when nothing was).
    if (!done(s.tail)) {
      const it = o.tail(s.tailAfter ?? null, s.tail ?? undefined, abort.signal);
      for (let r = await it.next(); !r.done; r = await it.next()) {
        s.tail = r.value.checkpoint;
        yield { records: r.value.records, checkpoint: snapshot() };
      }
    }
    yield { records: [], checkpoint: { done: true } };
  } catch (err) {
    abort.abort(err);
    throw err;
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    // Let the aborted slices settle (their requests end on the abort signal) so nothing runs after we return.
    await Promise.allSettled([...active.values()].map((p) => p.next));
    await Promise.allSettled([...active.values()].map((p) => p.it.return?.()));
  }
}
