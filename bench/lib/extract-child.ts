/**
 * One extract of commercetools orders, as the worker's extract activity runs it (the connector's table
 * through core's engine, each page staged by StagingWriter), without Temporal or the warehouse commit: the
 * part of a sync that waits on the vendor, with the activity's read-ahead. argv: config JSON, staging dir, `sequential` | `sliced`.
 * Prints { rows, pages, ms }.
 */
import commercetools from '../../connectors/commercetools/src/index';
import { memoryLogger, readAhead } from '@sluice/core';
import { StagingWriter } from '@sluice/warehouse';

const [configJson, dir, how] = process.argv.slice(2);
process.env.SLUICE_SLICES = how === 'sliced' ? 'force' : 'off';
const config = commercetools.config.parse(JSON.parse(configJson!));
const log = memoryLogger();
const client = commercetools.connect(config, { source: 'bench', log, report: () => undefined });
const table = commercetools.tables.find((t) => t.name === 'orders')!;
const { writer } = StagingWriter.open({ dir: dir!, cursorField: 'lastModifiedAt', declared: table.columns });
const t0 = performance.now();
for await (const page of readAhead(table.read({
  source: 'bench',
  table: 'orders',
  config,
  client,
  request: { mode: 'full_refresh', cursorField: 'lastModifiedAt', since: undefined, checkpoint: undefined },
  signal: new AbortController().signal,
  report: () => undefined,
  log,
}))) {
  writer.writePage(page.records, page.checkpoint);
}
process.stdout.write(`${JSON.stringify({ rows: writer.state.rows, pages: writer.state.pages, ms: performance.now() - t0 })}\n`);
