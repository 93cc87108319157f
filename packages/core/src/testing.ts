import type { Connector, DataRecord, Json, Logger, ProgressEvent, ReadRequest } from './connector';

/** A logger that keeps lines in memory (tests assert on it, e.g. that no secret appears). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, data?: Record<string, unknown>) => void lines.push(`${level} ${msg} ${data ? JSON.stringify(data) : ''}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * Reads a whole table straight from a connector (no Temporal, no warehouse): for connector unit tests
 * against an emulator. The end-to-end path through workflows lives in test/ and the conformance suite.
 */
export async function readTable(
  connector: Connector,
  rawConfig: unknown,
  table: string,
  request: Partial<ReadRequest> = {},
  opts: { maxPages?: number; client?: unknown } = {},
): Promise<{ records: DataRecord[]; pages: number; checkpoints: Json[]; events: ProgressEvent[]; client: unknown }> {
  const config = connector.config.parse(rawConfig);
  const log = memoryLogger();
  const events: ProgressEvent[] = [];
  const client = opts.client ?? connector.connect(config, { source: 'test', log, report: (e) => events.push(e) });
  const spec = connector.tables.find((t) => t.name === table);
  if (!spec) throw new Error(`no table ${table} in ${connector.type}`);
  const records: DataRecord[] = [];
  const checkpoints: Json[] = [];
  let pages = 0;
  const iterator = spec.read({
    source: 'test',
    table,
    config,
    client,
    request: { mode: request.mode ?? spec.defaultMode, cursorField: request.cursorField ?? spec.cursor?.default, since: request.since, checkpoint: request.checkpoint },
    signal: new AbortController().signal,
    report: (e) => events.push(e),
    log,
  });
  for await (const page of iterator) {
    records.push(...page.records);
    checkpoints.push(page.checkpoint);
    if (++pages >= (opts.maxPages ?? Infinity)) break;
  }
  return { records, pages, checkpoints, events, client };
}
