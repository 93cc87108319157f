// Benchmark: full read of N orders (env N, default 1M) from the emulator through the connector.
// Run: N=200000 npx tsx connectors/commercetools/bench/read-orders.ts
import { start, sourceConfig } from '@sluice/emulators/commercetools/index';
import connector from '../src/index';
const N = Number(process.env.N ?? 1_000_000);
let t = Date.now();
const h = await start({ counts: { orders: N } });
console.log('emulator start', Date.now() - t, 'ms');
t = Date.now();
let n = 0, pages = 0;
const config = connector.config.parse(sourceConfig(h));
const client = connector.connect(config, { source: 'b', log: console as any, report: () => {} });
const spec = connector.tables.find((x) => x.name === 'orders')!;
for await (const p of spec.read({ source: 'b', table: 'orders', config, client, request: { mode: 'full_refresh', cursorField: 'lastModifiedAt', since: undefined, checkpoint: undefined }, signal: new AbortController().signal, report: () => {}, log: console as any })) {
  n += p.records.length; pages++;
  if (pages % 200 === 0) console.log(pages, n, ((Date.now() - t) / pages).toFixed(1), 'ms/page', (process.memoryUsage().rss / 1e6) | 0, 'MB rss');
}
const s = (Date.now() - t) / 1000;
console.log(`read ${n} orders in ${pages} pages, ${s.toFixed(1)} s, ${(n / s) | 0} rec/s`);
await h.close();
process.exit(0);
