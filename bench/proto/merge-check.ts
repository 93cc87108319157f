// Equivalence check of the prototype merge (anti-joins) against the engine's window merge on one history
// with updates, ties and older versions: `node --import tsx bench/proto/merge-check.ts` prints SAME or DIFFERENT.
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { StagingWriter, WarehousePaths } from '@sluice/warehouse';
import { commitStaged } from './commit';
import { record, changedIndexes } from '../lib/records';
const n = 5000;
async function build(dir: string) {
  fs.rmSync(dir, { recursive: true, force: true });
  const paths = new WarehousePaths(dir);
  const steps: { idx: number[]; v: number; at?: number }[] = [
    { idx: Array.from({ length: n }, (_, i) => i), v: 1 },
    { idx: changedIndexes(n, 0.02, 'uniform', 3), v: 2, at: Date.UTC(2026, 1, 1) },
    { idx: [...changedIndexes(n, 0.02, 'recent', 5), ...changedIndexes(n, 0.01, 'uniform', 3).slice(0, 10)], v: 3, at: Date.UTC(2026, 1, 1) }, // ties + newer
    { idx: changedIndexes(n, 0.01, 'uniform', 9), v: 0, at: Date.UTC(2025, 0, 1) }, // older versions: must lose
  ];
  let k = 0;
  for (const s of steps) {
    const sid = `s${k++}`;
    const sd = paths.staging('b', 'o', sid);
    const { writer } = StagingWriter.open({ dir: sd, cursorField: 'lastModifiedAt' });
    for (let i = 0; i < s.idx.length; i += 500) writer.writePage(s.idx.slice(i, i + 500).map((j) => ({ ...record(j, n, s.v || 1, s.at), version: s.v })), null);
    await commitStaged({ paths, source: 'b', table: 'o', shape: { primaryKey: ['id'], partitionBy: 'createdAt' }, mode: 'incremental', fullRefresh: false, cursorField: 'lastModifiedAt', syncId: sid, startedAt: new Date().toISOString(), stagingDir: sd, staging: writer.state });
  }
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const r = await c.runAndReadAll(`SELECT count(*), count(DISTINCT id), sum(version), md5(string_agg(id || version::VARCHAR || lastModifiedAt::VARCHAR, ',' ORDER BY id)) FROM read_parquet([${JSON.parse(fs.readFileSync(`${dir}/b/o/_manifest.json`, 'utf8')).files.map((f: { path: string }) => `'${dir}/b/o/${f.path}'`).join(',')}])`);
  return r.getRows()[0];
}
process.env.BENCH_PROTO_MERGE = 'window';
const a = await build('/tmp/mc-window');
process.env.BENCH_PROTO_MERGE = 'antijoin';
const b = await build('/tmp/mc-anti');
console.log(a, b, String(a) === String(b) ? 'SAME' : 'DIFFERENT');
