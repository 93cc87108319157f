/**
 * Reproduces the commit of n commercetools orders (documents from the emulator's own generator, staged
 * as the worker stages them) with packages/warehouse's commitStaged, or with the prototype in
 * bench/proto/commit.ts. Prints one JSON line: ok, error, ms, peak RSS.
 *   node --import tsx bench/proto/commit-memory.ts <n> <dir> engine|proto [incremental]
 * With `incremental`, commits the full table with the prototype first (if not there yet), then stages 1% of
 * the orders changed among the newest two months' (as the e2e benchmark does) and times their merge.
 */
import fs from 'node:fs';
import { StagingWriter, WarehousePaths, commitStaged as engineCommit } from '@sluice/warehouse';
import { Store } from '@sluice/emulators/commercetools/store';
import { commitStaged as protoCommit } from './commit';

const [nArg, dir, which, phase] = process.argv.slice(2);
const n = Number(nArg);
const paths = new WarehousePaths(dir!);
const stagingDir = paths.staging('ct', 'orders', 'proto');
const staged = `${dir}/staged.json`;
const store = () => new Store({ seed: 42, projectKey: 'p', clientId: 'c', counts: { orders: n, carts: 0, customers: 100, payments: 0, 'product-projections': 1000, categories: 10, 'discount-codes': 0, inventory: 0 }, historyStart: '2024-01-01T00:00:00.000Z', historyEnd: '2025-12-31T23:59:59.999Z' });
const declared = { createdAt: 'TIMESTAMPTZ', lastModifiedAt: 'TIMESTAMPTZ', completedAt: 'TIMESTAMPTZ' } as const;
function stage(dirName: string, docs: Iterable<Record<string, unknown>>) {
  const { writer } = StagingWriter.open({ dir: dirName, cursorField: 'lastModifiedAt', declared });
  let page: Record<string, unknown>[] = [];
  for (const d of docs) {
    page.push(d);
    if (page.length === 500) {
      writer.writePage(page as never, null);
      page = [];
    }
  }
  if (page.length) writer.writePage(page as never, null);
  return writer.state;
}
let state;
if (fs.existsSync(staged)) state = JSON.parse(fs.readFileSync(staged, 'utf8'));
else {
  const s = store();
  state = stage(stagingDir, (function* () {
    for (const e of s.collection('orders').byId.values()) yield s.materialize('orders', e);
  })());
  fs.writeFileSync(staged, JSON.stringify(state));
}
const commit = which === 'proto' ? protoCommit : engineCommit;
let incDir: string | undefined;
if (phase === 'incremental') {
  if (!fs.existsSync(paths.manifest('ct', 'orders'))) {
    await protoCommit({ paths, source: 'ct', table: 'orders', shape: { primaryKey: ['id'], partitionBy: 'createdAt', declared }, mode: 'incremental', fullRefresh: false, cursorField: 'lastModifiedAt', syncId: 'full', startedAt: new Date().toISOString(), stagingDir, staging: state });
  }
  const s = store();
  const entries = [...s.collection('orders').byId.values()].sort((a, b) => b.createdAt - a.createdAt);
  const pool = entries.slice(0, Math.ceil(entries.length / 12));
  const k = Math.round(entries.length / 100);
  const step = pool.length / k;
  const ids = Array.from({ length: k }, (_, i) => pool[Math.floor(i * step)]!.id);
  s.updateMany('orders', ids, { patch: { orderState: 'Complete' } });
  incDir = paths.staging('ct', 'orders', `inc${Date.now()}`);
  state = stage(incDir, ids.map((id) => s.get('orders', id)!));
} else fs.rmSync(paths.table('ct', 'orders'), { recursive: true, force: true });
const t = performance.now();
let error: string | undefined;
try {
  await commit({ paths, source: 'ct', table: 'orders', shape: { primaryKey: ['id'], partitionBy: 'createdAt', declared }, mode: 'incremental', fullRefresh: false, cursorField: 'lastModifiedAt', syncId: `s${Date.now()}`, startedAt: new Date().toISOString(), stagingDir: incDir ?? stagingDir, staging: state });
} catch (err) {
  error = (err as Error).message.split('\n')[0];
}
console.log(JSON.stringify({ which, flush: process.env.BENCH_PROTO_FLUSH, ok: !error, error, ms: Math.round(performance.now() - t), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), rows: state.rows }));
