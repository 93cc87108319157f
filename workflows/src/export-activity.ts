import type { DuckDBConnection } from '@duckdb/node-api';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { SluiceError, errorMessage, failureType, redact } from '@sluice/core';
import { WarehouseMissingError, readTableState, withLake } from '@sluice/warehouse';
import { readExportState, recordExport } from '@sluice/warehouse/exports';
import type { Runtime } from './runtime';
import { CaptureClient } from './export-capture';
import { orderEvents, packBatches, personEvent, type CaptureEvent, type CustomerRow, type MapContext, type OrderRow } from './export-events';
import { ExportSourceMissing, readCustomers, readOrders, requireTables, type ExportSourceType } from './export-read';
import type { ExportCursor, ExportFailureInput, ExportHeartbeat, ExportInput, ExportResult, RuntimeExport, StreamCursor } from './export-shared';

/** Bound on one request's JSON (PostHog refuses bodies over 20 MB; a smaller batch also retries cheaper). */
const MAX_BATCH_BYTES = 4_000_000;

/**
 * The export activities (registered by the worker next to createActivities). `runExport` sends what
 * changed since the export's cursor: customers first (as `$identify`), then orders, in key order, batch by
 * batch; after PostHog accepted a batch, the cursor it reached is committed to `sluice.exports` in the
 * warehouse. A retried attempt (a killed worker) starts from that cursor: the warehouse is the checkpoint.
 */
export function createExportActivities(rt: Runtime) {
  const exportOf = (name: string): RuntimeExport => {
    const e = rt.exports?.get(name);
    if (!e) throw ApplicationFailure.create({ type: failureType('config'), nonRetryable: true, message: `export "${name}" is not in this worker's config (known: ${[...(rt.exports?.keys() ?? [])].join(', ') || 'none'})` });
    return e;
  };

  return {
    /** The exports that run after each successful sync of `source` (schedule `after_sync`). */
    async exportsAfterSync(source: string): Promise<string[]> {
      return [...(rt.exports?.values() ?? [])].filter((e) => e.from === source && e.schedule === 'after_sync').map((e) => e.name);
    },

    async runExport(input: ExportInput): Promise<ExportResult> {
      const exp = exportOf(input.name);
      const ctx = Context.current();
      try {
        const result = await exportOnce(rt, exp, { runId: ctx.info.workflowExecution.runId, heartbeat: (hb) => ctx.heartbeat(hb) });
        ctx.log.info(`export ${exp.name}: ${result.persons} person(s), ${result.events} event(s) in ${result.batches} batch(es)`);
        return result;
      } catch (err) {
        throw toFailure(err);
      }
    },

    /** Logs a failed run in `sluice.exports` (its cursor: where the export stands, unchanged by the failure). */
    async recordExportFailure(input: ExportFailureInput): Promise<void> {
      await withLake(rt.warehouse, {}, async ({ conn }) => {
        const state = await readExportState(conn, input.name);
        const latest = state.latest?.runId === input.runId ? state.latest : undefined;
        await recordExport(conn, {
          export: input.name,
          runId: input.runId,
          startedAt: input.startedAt,
          finishedAt: new Date().toISOString(),
          outcome: 'failed',
          persons: latest?.persons ?? 0,
          events: latest?.events ?? 0,
          batches: latest?.batches ?? 0,
          cursor: state.cursor,
          error: redact(input.error).slice(0, 2000),
        });
      });
    },
  };
}

export type ExportActivities = ReturnType<typeof createExportActivities>;

/**
 * One run of an export, outside Temporal (the activity wraps it; the bench calls it directly): from the
 * warehouse's cursor to the end of both streams, committing the cursor after each batch PostHog accepted.
 */
export async function exportOnce(rt: Runtime, exp: RuntimeExport, o: { runId: string; heartbeat: (hb: ExportHeartbeat) => void }): Promise<ExportResult> {
  const runId = o.runId;
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const hb: ExportHeartbeat = { phase: 'reading', persons: 0, events: 0, batches: 0 };
  const beat = () => o.heartbeat(hb);
  beat();
  // Waits for PostHog (Retry-After) and long lake calls keep the heartbeat going.
  const timer = setInterval(beat, 5_000);
  const client = new CaptureClient({
    host: exp.host,
    projectApiKey: exp.projectApiKey,
    name: exp.name,
    report: (e) => {
      if (e.type === 'wait' || e.type === 'retry') hb.waiting = e.reason;
      beat();
    },
  });
  try {
    const hidden = hiddenColumns(rt, exp.from);
    const type = exp.sourceType as ExportSourceType;
    let begun: { cursorBefore: ExportCursor; mapCtx: MapContext; horizon: { customers?: number; orders?: number } } | undefined;
    let cursor: ExportCursor = {};
    const record = (conn: DuckDBConnection, outcome: 'progress' | 'succeeded') =>
      recordExport(conn, { export: exp.name, runId, startedAt, finishedAt: new Date().toISOString(), outcome, persons: hb.persons, events: hb.events, batches: hb.batches, cursor });
    /**
     * One lake session per chunk of records: it reads the chunk, and commits the cursor after each batch of
     * it PostHog accepted. (Opening a session costs most of a second; a commit ~40 ms.) The session holds
     * this process's turn on a SQLite catalog while the chunk's batches are sent, so chunks are kept to a
     * few batches: a sync committing in the same worker waits seconds at most.
     */
    const chunk = Math.max(exp.batchSize * 8, 2000);
    const inSession = <T>(fn: (conn: DuckDBConnection, ctx: NonNullable<typeof begun>) => Promise<T>) =>
      withLake(rt.warehouse, {}, async ({ conn }) => {
        if (!begun) {
          await requireTables(conn, exp.from);
          const state = await readExportState(conn, exp.name);
          cursor = { ...((state.cursor as ExportCursor | undefined) ?? {}) };
          // A retried attempt of this run (its worker died) carries on from the counts its batches committed;
          // the run began where the previous run ended.
          const mine = state.latest?.runId === runId && state.latest.outcome === 'progress' ? state.latest : undefined;
          if (mine) Object.assign(hb, { persons: mine.persons, events: mine.events, batches: mine.batches });
          const cursorBefore: ExportCursor = ((mine ? state.last?.cursor : state.cursor) as ExportCursor | undefined) ?? {};
          begun = {
            cursorBefore,
            horizon: { customers: await horizonOf(rt, conn, exp.from, 'customers'), orders: await horizonOf(rt, conn, exp.from, 'orders') },
            mapCtx: {
              exportName: exp.name,
              source: exp.from,
              sourceType: exp.sourceType,
              names: exp.events,
              distinctId: exp.distinctId,
              baselineUs: (state.baseline as ExportCursor | undefined)?.orders?.updatedUs,
            },
          };
        }
        return fn(conn, begun);
      });
    const stream = async <R extends { id: string; updated_us: number }>(
      kind: 'customers' | 'orders',
      read: (conn: DuckDBConnection, after: StreamCursor | undefined, horizonUs: number | undefined) => Promise<R[]>,
      eventsOf: (r: R, mapCtx: MapContext) => CaptureEvent[],
      last: boolean,
    ) => {
      hb.phase = kind === 'customers' ? 'persons' : 'orders';
      for (let done = false; !done; ) {
        done = await inSession(async (conn, { mapCtx, horizon }) => {
          const rows = await read(conn, cursor[kind], horizon[kind]);
          for (const b of packBatches(rows, (r) => eventsOf(r, mapCtx), { maxEvents: exp.batchSize, maxBytes: MAX_BATCH_BYTES })) {
            if (b.events.length) {
              await client.send(b.events);
              hb.batches++;
              hb.events += b.events.length;
              if (kind === 'customers') hb.persons += b.events.length;
            }
            hb.waiting = undefined;
            cursor = { ...cursor, [kind]: b.cursor };
            await record(conn, 'progress');
            beat();
          }
          const finished = rows.length < chunk;
          if (finished && last) {
            hb.phase = 'done';
            await record(conn, 'succeeded');
          }
          return finished;
        });
      }
    };
    await stream<CustomerRow>('customers', (conn, after, horizonUs) => readCustomers(conn, { source: exp.from, type, after, horizonUs, limit: chunk }), (c, m) => [personEvent(scrubCustomer(c, hidden.customers), m)], false);
    await stream<OrderRow>('orders', (conn, after, horizonUs) => readOrders(conn, { source: exp.from, type, after, horizonUs, limit: chunk }), (o, m) => orderEvents(scrubOrder(o, hidden), m), true);
    const durationMs = Date.now() - started;
    return { name: exp.name, from: exp.from, outcome: 'succeeded', persons: hb.persons, events: hb.events, batches: hb.batches, requests: client.requests(), cursorBefore: begun!.cursorBefore, cursorAfter: cursor, durationMs };
  } finally {
    clearInterval(timer);
    await client.close().catch(() => undefined);
  }
}

/**
 * How far the export may read a table: the start of its newest successful sync, less the connector's
 * lookback (the window in which the vendor may still commit records with an older updated time; the sync
 * re-reads it every time). Undefined when the table has no sync record (nothing to be careful about).
 */
async function horizonOf(rt: Runtime, conn: DuckDBConnection, source: string, table: string): Promise<number | undefined> {
  const state = await readTableState(conn, source, table);
  const startedAt = state.lastSucceeded?.startedAt;
  if (!startedAt) return undefined;
  const lookbackMs = rt.sources.get(source)?.connector?.tables.find((t) => t.name === table)?.cursor?.lookbackMs ?? 0;
  return (Date.parse(startedAt) - lookbackMs) * 1000;
}

interface Hidden {
  customers: Set<string>;
  orders: Set<string>;
}

/**
 * Columns a table policy excludes or hashes (`columns:` in sluice.yaml): an excluded column is not in the
 * lake, and a hashed one holds a keyed hash, which is not the customer's email or phone: neither is sent.
 */
function hiddenColumns(rt: Runtime, source: string): Hidden {
  const tables = rt.sources.get(source)?.tables ?? [];
  const of = (name: string) => {
    const policy = tables.find((t) => t.name === name)?.columns;
    return new Set([...(policy?.exclude ?? []), ...(policy?.hash ?? [])].map((p) => p.split('.')[0]!));
  };
  return { customers: of('customers'), orders: of('orders') };
}

function scrubCustomer(c: CustomerRow, hidden: Set<string>): CustomerRow {
  if (hidden.size === 0) return c;
  return {
    ...c,
    email: hidden.has('email') ? null : c.email,
    phone: hidden.has('phone') || hidden.has('addresses') ? null : c.phone,
    first_name: hidden.has('firstName') ? null : c.first_name,
    last_name: hidden.has('lastName') ? null : c.last_name,
  };
}

function scrubOrder(o: OrderRow, hidden: Hidden): OrderRow {
  if (hidden.customers.size === 0 && hidden.orders.size === 0) return o;
  return { ...o, customer_email: hidden.customers.has('email') ? null : o.customer_email, order_email: hidden.orders.has('email') || hidden.orders.has('customerEmail') ? null : o.order_email };
}

function toFailure(err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SluiceError) return ApplicationFailure.create({ type: failureType(err.kind), message: redact(err.message), nonRetryable: !err.retryable });
  if (err instanceof ExportSourceMissing || err instanceof WarehouseMissingError) return ApplicationFailure.create({ type: failureType('config'), message: redact(err.message), nonRetryable: true });
  return ApplicationFailure.create({ type: 'Sluice.internal', message: redact(`export failed: ${errorMessage(err).split(/\n\s*Stack Trace:/)[0]!.slice(0, 2000)}`), nonRetryable: false });
}
