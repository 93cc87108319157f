/**
 * The commercetools emulator in its own process (so the worker's CPU and memory are measured apart),
 * with n orders over 24 months and no rate limit. Prints one JSON line { url, config } when listening;
 * answers IPC messages:
 *   { cmd: 'update', fraction, how }  → changes that fraction of orders now ('recent': among the newest
 *                                        two months' orders; 'uniform': any), replies { changed }
 */
import { start, sourceConfig } from '@sluice/emulators/commercetools/index';

const n = Number(process.argv[2] ?? 10_000);
/** Optional latency added to every response (ms): a stand-in for the network to a real vendor. */
const latencyMs = Number(process.argv[3] ?? 0);
const h = await start({
  seed: 42,
  counts: { orders: n, carts: 0, customers: 100, payments: 0, 'product-projections': 1000, categories: 10, 'discount-codes': 0, inventory: 0 },
  historyStart: '2024-01-01T00:00:00.000Z',
  historyEnd: '2025-12-31T23:59:59.999Z',
  latencyMs,
});
// The request log keeps every request's headers: keep it short on long runs.
const trim = setInterval(() => h.requests.splice(0, Math.max(0, h.requests.length - 100)), 1000);
trim.unref();

process.on('message', (m: { cmd: string; fraction?: number; how?: 'recent' | 'uniform'; id?: number }) => {
  if (m.cmd === 'update') {
    const entries = [...h.store.collection('orders').byId.values()];
    const pool = m.how === 'uniform' ? entries : entries.sort((a, b) => b.createdAt - a.createdAt).slice(0, Math.ceil(entries.length * (2 / 24)));
    const k = Math.max(1, Math.round(entries.length * (m.fraction ?? 0.01)));
    // Deterministic sample: every (pool/k)-th entry.
    const step = pool.length / k;
    const ids = Array.from({ length: Math.min(k, pool.length) }, (_, i) => pool[Math.floor(i * step)]!.id);
    h.store.updateMany('orders', ids, { patch: { orderState: 'Complete', shipmentState: 'Delivered' } });
    process.send!({ id: m.id, changed: ids.length });
  }
});
process.on('SIGTERM', () => void h.close().then(() => process.exit(0)));
process.stdout.write(`${JSON.stringify({ url: h.url, config: sourceConfig(h) })}\n`);
