/**
 * One phase of the warehouse benchmark, in its own process so its peak RSS is its own:
 *   full         stage n synthetic records (pages of 500) and commit them (first load of the table)
 *   incremental  stage 1% changed records and merge them (copy-on-write of the months they touch)
 * Only StagingWriter.writePage and commitStaged are timed; generating the records is reported apart.
 * Prints one JSON line with the measurements.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StagingWriter, WarehousePaths } from '@sluice/warehouse';
import { changedIndexes, record } from './records';

interface Args {
  phase: 'full' | 'incremental';
  n: number;
  dir: string;
  /** full: also write each page as NDJSON here (untimed), the input of DuckDB's reference run. */
  refDir?: string;
  how?: 'recent' | 'uniform';
  fraction?: number;
  pageSize?: number;
  syncId: string;
}

const args = JSON.parse(process.argv[2]!) as Args;
const { commitStaged } = await import('@sluice/warehouse');
const pageSize = args.pageSize ?? 500;
const paths = new WarehousePaths(args.dir);
const SOURCE = 'bench';
const TABLE = 'orders';
const declared = { createdAt: 'TIMESTAMPTZ', lastModifiedAt: 'TIMESTAMPTZ' } as const;
const stagingDir = paths.staging(SOURCE, TABLE, args.syncId);
const { writer } = StagingWriter.open({ dir: stagingDir, cursorField: 'lastModifiedAt', declared });
if (args.refDir) fs.mkdirSync(args.refDir, { recursive: true });

const indexes = args.phase === 'full' ? undefined : changedIndexes(args.n, args.fraction ?? 0.01, args.how ?? 'recent', args.syncId.length * 31);
const total = indexes ? indexes.length : args.n;
const modifiedAt = Date.UTC(2026, 0, 2) + args.syncId.length * 1000;
let genMs = 0;
let stageMs = 0;
let refMs = 0;
const startedAt = new Date().toISOString();
for (let at = 0; at < total; at += pageSize) {
  let t = performance.now();
  const page = [];
  for (let k = at; k < Math.min(total, at + pageSize); k++) page.push(indexes ? record(indexes[k]!, args.n, 2, modifiedAt) : record(k, args.n));
  genMs += performance.now() - t;
  t = performance.now();
  writer.writePage(page, { at: at + page.length });
  stageMs += performance.now() - t;
  if (args.refDir) {
    t = performance.now();
    fs.writeFileSync(path.join(args.refDir, `page-${String(at / pageSize).padStart(6, '0')}.json`), page.map((r) => JSON.stringify(r)).join('\n') + '\n');
    refMs += performance.now() - t;
  }
}
const stagedBytes = writer.files().reduce((s, f) => s + fs.statSync(f).size, 0);
const t = performance.now();
const result = await commitStaged({
  paths,
  source: SOURCE,
  table: TABLE,
  shape: { primaryKey: ['id'], partitionBy: 'createdAt', declared },
  mode: 'incremental',
  fullRefresh: false,
  cursorField: 'lastModifiedAt',
  syncId: args.syncId,
  startedAt,
  stagingDir,
  staging: writer.state,
});
const commitMs = performance.now() - t;
fs.rmSync(stagingDir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    phase: args.phase,
    rows: writer.state.rows,
    genMs,
    stageMs,
    commitMs,
    refWriteMs: refMs,
    stagedBytes,
    rowsWritten: result.rowsWritten,
    tableRows: result.tableRows,
    monthsTouched: result.monthsTouched,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
