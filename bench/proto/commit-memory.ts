/**
 * Reproduces the commit of n commercetools orders (documents from the emulator's own generator, staged
 * as the worker stages them) with packages/warehouse's commitStaged, or with the prototype in
 * bench/proto/commit.ts. Prints one JSON line: ok, error, ms, peak RSS.
 *   node --import tsx bench/proto/commit-memory.ts <n> <dir> engine|proto
 */
import fs from 'node:fs';
import { StagingWriter, WarehousePaths, commitStaged as engineCommit } from '@sluice/warehouse';
import { Store } from '@sluice/emulators/commercetools/store';
import { commitStaged as protoCommit } from './commit';

const [nArg, dir, which] = process.argv.slice(2);
const n = Number(nArg);
const paths = new WarehousePaths(dir!);
const stagingDir = paths.staging('ct', 'orders', 'proto');
const staged = `${dir}/staged.json`;
let state;
if (fs.existsSync(staged)) state = JSON.parse(fs.readFileSync(staged, 'utf8'));
else {
  const store = new Store({ seed: 42, projectKey: 'p', clientId: 'c', counts: { orders: n, carts: 0, customers: 100, payments: 0, 'product-projections': 1000, categories: 10, 'discount-codes': 0, inventory: 0 }, historyStart: '2024-01-01T00:00:00.000Z', historyEnd: '2025-12-31T23:59:59.999Z' });
  const { writer } = StagingWriter.open({ dir: stagingDir, cursorField: 'lastModifiedAt', declared: { createdAt: 'TIMESTAMPTZ', lastModifiedAt: 'TIMESTAMPTZ', completedAt: 'TIMESTAMPTZ' } });
  let page = [];
  for (const e of store.collection('orders').byId.values()) {
    page.push(store.materialize('orders', e));
    if (page.length === 500) {
      writer.writePage(page, null);
      page = [];
    }
  }
  if (page.length) writer.writePage(page, null);
  state = writer.state;
  fs.writeFileSync(staged, JSON.stringify(state));
}
const commit = which === 'proto' ? protoCommit : engineCommit;
fs.rmSync(paths.table('ct', 'orders'), { recursive: true, force: true });
const t = performance.now();
let error: string | undefined;
try {
  await commit({ paths, source: 'ct', table: 'orders', shape: { primaryKey: ['id'], partitionBy: 'createdAt', declared: { createdAt: 'TIMESTAMPTZ', lastModifiedAt: 'TIMESTAMPTZ', completedAt: 'TIMESTAMPTZ' } }, mode: 'incremental', fullRefresh: false, cursorField: 'lastModifiedAt', syncId: `s${Date.now()}`, startedAt: new Date().toISOString(), stagingDir, staging: state });
} catch (err) {
  error = (err as Error).message.split('\n')[0];
}
console.log(JSON.stringify({ which, flush: process.env.BENCH_PROTO_FLUSH, ok: !error, error, ms: Math.round(performance.now() - t), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), stagedMb: Math.round(state.rows && fs.readdirSync(stagingDir).reduce((s: number, f: string) => s + fs.statSync(`${stagingDir}/${f}`).size, 0) / 1e6) }));
