import { memoryLogger, type SluiceError, type DataRecord, type Json, type ProgressEvent, type ReadRequest, type TableSpec } from '@sluice/core';

/**
 * Reads one table spec directly (no connector around it), as an engine test needs: every record, every
 * page's checkpoint and every progress event; `stopAfter` pages simulates an attempt that dies there.
 */
export async function readSpec(table: TableSpec, o: { config?: Record<string, unknown>; client?: unknown; request?: Partial<ReadRequest>; stopAfter?: number } = {}) {
  const records: DataRecord[] = [];
  const checkpoints: Json[] = [];
  const events: ProgressEvent[] = [];
  const request: ReadRequest = { mode: 'full_refresh', cursorField: table.cursor?.default, since: undefined, checkpoint: undefined, ...o.request };
  for await (const page of table.read({ source: 's', table: table.name, config: o.config ?? {}, client: o.client ?? {}, request, signal: new AbortController().signal, report: (e) => events.push(e), log: memoryLogger() })) {
    records.push(...page.records);
    checkpoints.push(page.checkpoint);
    if (checkpoints.length === o.stopAfter) break;
  }
  return { records, checkpoints, events };
}

/** The error a read must fail with (a read that succeeds fails the test). */
export const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the read succeeded');
    },
    (e: unknown) => e as SluiceError,
  );
