import { SluiceError } from '../errors';
import { sleep } from '../http/client';
import type { Page, ReadContext } from '../connector';
import type { DataRecord } from '../types';

/**
 * An asynchronous export job as a paging kind (Shopify's bulk operations): start a job, poll it until it
 * ends, download its result as a stream of records. The vendor supplies the hooks (its mutations, its file
 * format); the engine owns the checkpoint `{ bulk: { id, skip } }`, resuming by polling the same job and
 * skipping the records already staged, downloading again with a fresh URL after a transient error (3
 * attempts in all), and "unavailable": a job the vendor refuses or that fails sends the read to paging.
 */

/** Thrown by a hook (or by the engine for a failed job) when the export cannot serve this read: page instead. */
export class ExportUnavailable extends Error {}

/** A job as a poll sees it. */
export type ExportStatus =
  | { readonly state: 'running'; readonly note?: string }
  /** Finished: `url` of the result (null: nothing to download), `objectCount` as the vendor reports it. */
  | { readonly state: 'completed'; readonly url: string | null; readonly objectCount?: number }
  | { readonly state: 'failed'; readonly reason: string };

export interface ExportJobDecl<C = ReadContext<any, any>> {
  /** For the catalogue: when the export is taken. */
  readonly describe: string;
  /** Whether a read that starts afresh takes the export (a first sync of a large table). */
  readonly wanted: (ctx: C) => Promise<boolean>;
  /** Starts a job; answers its id. Throws ExportUnavailable when the vendor refuses it. */
  readonly start: (ctx: C) => Promise<string>;
  readonly poll: (id: string, ctx: C) => Promise<ExportStatus>;
  /** Asks the vendor to stop a job this read gives up on (timed out, cancelled). */
  readonly cancel?: (id: string, ctx: C) => Promise<void>;
  /** Poll interval (the first polls are quicker, doubling up to it) and how long a job may run. */
  readonly timing: (ctx: C) => { readonly pollIntervalMs: number; readonly timeoutMs: number };
  /** Jobs the account runs one at a time: start and wait run inside this (a lock shared by the source's tables). */
  readonly oneAtATime?: (ctx: C) => <T>(run: () => Promise<T>) => Promise<T>;
  /**
   * The finished job's records after the first `skip` (those staged by an earlier attempt). A transient
   * SluiceError (a cut-off download) makes the engine poll for a fresh URL and download again.
   */
  readonly download: (req: { readonly id: string; readonly url: string; readonly skip: number; readonly objectCount?: number }, ctx: C) => AsyncIterable<Record<string, any>>;
  /** Rows per page handed to the warehouse (default 1000); a page ends between records. */
  readonly pageSize?: number;
}

type Ctx = ReadContext<any, any>;

/** Polls until the job ends: quick first polls, then every `pollIntervalMs`; cancels it past the deadline or on abort. */
async function waitFor(job: ExportJobDecl, ctx: Ctx, id: string, deadline: number): Promise<Exclude<ExportStatus, { state: 'running' }>> {
  const { pollIntervalMs, timeoutMs } = job.timing(ctx);
  const cancel = () => job.cancel?.(id, ctx).catch(() => undefined);
  let interval = Math.min(pollIntervalMs, 1000);
  for (;;) {
    const s = await job.poll(id, ctx);
    if (s.state !== 'running') return s;
    if (Date.now() > deadline) {
      await cancel();
      throw new SluiceError('transient', `${ctx.table}: export job ${id} did not finish within ${Math.round(timeoutMs / 60000)} min; canceled it`);
    }
    ctx.report({ type: 'note', message: s.note ?? `export job ${id}: running` });
    try {
      await sleep(interval, ctx.signal);
    } catch (e) {
      // The sync was cancelled: free the vendor's export slot for the next run.
      await cancel();
      throw e;
    }
    interval = Math.min(pollIntervalMs, interval * 2);
  }
}

/** Starts (or, resuming, finds again) the job and waits for it to end; a failed job is "unavailable". */
async function finished(job: ExportJobDecl, ctx: Ctx, resume: { id: string } | undefined) {
  const run = async () => {
    const deadline = Date.now() + job.timing(ctx).timeoutMs;
    const id = resume?.id ?? (await job.start(ctx));
    return { id, status: await waitFor(job, ctx, id, deadline) };
  };
  const { id, status } = resume || !job.oneAtATime ? await run() : await job.oneAtATime(ctx)(run);
  if (status.state === 'failed') throw new ExportUnavailable(status.reason);
  return { id, ...status };
}

export async function* exportJobPages(
  job: ExportJobDecl,
  ctx: Ctx,
  o: { readonly resume: { readonly id: string; readonly skip: number } | undefined; readonly transform: (record: Record<string, any>) => DataRecord | DataRecord[] },
): AsyncGenerator<Page> {
  const done = await finished(job, ctx, o.resume);
  const id = done.id;
  if (!o.resume) yield { records: [], checkpoint: { bulk: { id, skip: 0 } } };
  if (!done.url) {
    yield { records: [], checkpoint: { done: true } };
    return;
  }
  const pageSize = job.pageSize ?? 1000;
  // A broken download is resumed in place: a fresh link, skipping the records already staged.
  let url = done.url;
  let objectCount = done.objectCount;
  let skip = o.resume?.skip ?? 0;
  for (let attempt = 1; ; attempt++) {
    try {
      let staged = skip;
      let page: DataRecord[] = [];
      for await (const record of job.download({ id, url, skip, ...(objectCount !== undefined ? { objectCount } : {}) }, ctx)) {
        if (page.length >= pageSize) {
          skip = staged;
          yield { records: page, checkpoint: { bulk: { id, skip } } };
          page = [];
        }
        const rows = o.transform(record);
        if (Array.isArray(rows)) page.push(...rows);
        else page.push(rows);
        staged++;
      }
      yield { records: page, checkpoint: { done: true } };
      return;
    } catch (e) {
      if (!(e instanceof SluiceError) || e.kind !== 'transient' || attempt >= 3 || ctx.signal.aborted) throw e;
      ctx.log.warn(`${ctx.table}: ${e.message}; downloading again (attempt ${attempt + 1})`);
      ctx.report({ type: 'retry', attempt, reason: e.message });
      await sleep(500 * attempt, ctx.signal);
      const again = await waitFor(job, ctx, id, Date.now() + job.timing(ctx).timeoutMs);
      if (again.state !== 'completed' || !again.url) throw e;
      url = again.url;
      objectCount = again.objectCount;
    }
  }
}
