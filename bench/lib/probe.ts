/**
 * Loaded into the benchmark's worker process (before the CLI): times StagingWriter.writePage (the
 * staging stage: type inference + NDJSON write) without changing it, and hard-links each staged page
 * into BENCH_PAGES_DIR (the same pages, kept for DuckDB's local-limit run after staging is cleaned).
 * Writes its counters as JSON to BENCH_PROBE_OUT every half second and at exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { StagingWriter as StagingWriterType } from '@sluice/warehouse';

const { StagingWriter } = await import('@sluice/warehouse');

const out = process.env.BENCH_PROBE_OUT;
const pagesDir = process.env.BENCH_PAGES_DIR;
const stats = { writePageMs: 0, pages: 0, rows: 0, bytes: 0, linked: 0 };
const original = StagingWriter.prototype.writePage;
let linkSeq = 0;
StagingWriter.prototype.writePage = function (this: StagingWriterType, ...args: Parameters<typeof original>) {
  const t = performance.now();
  const n = original.apply(this, args);
  stats.writePageMs += performance.now() - t;
  stats.pages++;
  stats.rows += n;
  const file = this.files().at(-1)!;
  stats.bytes += fs.statSync(file).size;
  if (pagesDir) {
    fs.mkdirSync(pagesDir, { recursive: true });
    fs.linkSync(file, path.join(pagesDir, `page-${String(++linkSeq).padStart(7, '0')}.json`));
    stats.linked++;
  }
  return n;
};

const flush = () => out && fs.writeFileSync(out, JSON.stringify(stats));
if (out) {
  setInterval(flush, 500).unref();
  process.on('exit', flush);
}
