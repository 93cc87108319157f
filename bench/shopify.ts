import { memoryLogger, readTable } from '@sluice/core';
import { start, sourceConfig } from '@sluice/emulators/shopify/index';
import connector from '../connectors/shopify/src/index';
import type { ShopifyClient } from '../connectors/shopify/src/client';

/**
 * Shopify read benchmark (connector + emulator, no Temporal): how fast records come out of the paged
 * reader under a cost bucket, what fraction of the cost budget it uses (1.0 = every point the bucket
 * could give over the run), and how fast a bulk backfill streams and reassembles its JSONL.
 *
 * Knobs (env): SHOPIFY_BENCH_ORDERS (paged, default 600), SHOPIFY_BENCH_BULK_ORDERS (default 20000),
 * SHOPIFY_BENCH_RESTORE (points/s, default 1000 = Shopify Plus), SHOPIFY_BENCH_BUCKET (default 2000).
 */
export async function run(): Promise<Record<string, number>> {
  const pagedOrders = Number(process.env['SHOPIFY_BENCH_ORDERS'] ?? 600);
  const bulkOrders = Number(process.env['SHOPIFY_BENCH_BULK_ORDERS'] ?? 20_000);
  const restoreRate = Number(process.env['SHOPIFY_BENCH_RESTORE'] ?? 1000);
  const bucketSize = Number(process.env['SHOPIFY_BENCH_BUCKET'] ?? 2000);
  const out: Record<string, number> = {};

  // 1. Paged reads under the cost bucket (what incremental syncs do).
  const emu = await start({ seed: 1, orders: pagedOrders, customers: 2000, products: 50, bucketSize, restoreRate });
  try {
    const config = { ...sourceConfig(emu), bulk: { mode: 'never' } };
    for (const table of ['orders', 'customers'] as const) {
      emu.bucket.reset(bucketSize, restoreRate);
      const client = connector.connect(connector.config.parse(config), { source: 'bench', log: memoryLogger(), report: () => undefined }) as ShopifyClient;
      const t0 = performance.now();
      const throttledBefore = emu.stats.throttled;
      const { records, pages } = await readTable(connector, config, table, { mode: 'full_refresh' }, { client });
      const s = (performance.now() - t0) / 1000;
      const st = client.bucket.stats();
      const spentPerRecord = (st['actualCost'] ?? 0) / Math.max(1, records.length);
      out[`paged_${table}_records`] = records.length;
      out[`paged_${table}_records_per_s`] = Math.round(records.length / s);
      out[`paged_${table}_pages`] = pages;
      out[`paged_${table}_points_per_record`] = Math.round(spentPerRecord * 10) / 10;
      out[`paged_${table}_budget_used`] = Math.round((st['budgetUsed'] ?? 0) * 1000) / 1000;
      out[`paged_${table}_throttled`] = emu.stats.throttled - throttledBefore;
      // The ceiling for this table: the restore rate divided by the points a record costs.
      out[`paged_${table}_ceiling_records_per_s`] = Math.round(restoreRate / Math.max(spentPerRecord, 1e-9));
      await client.http.close();
    }
  } finally {
    await emu.close();
  }

  // 2. Bulk backfill (first sync / full refresh of a large table): run, poll, stream and reassemble.
  const big = await start({ seed: 2, orders: bulkOrders, customers: 2000, products: 50, bucketSize, restoreRate, bulkRowsPerSecond: 1e9, bulkStartDelayMs: 0 });
  try {
    const config = { ...sourceConfig(big), bulk: { mode: 'always', pollIntervalMs: 50 } };
    const t0 = performance.now();
    const { records } = await readTable(connector, config, 'orders', { mode: 'full_refresh' });
    const s = (performance.now() - t0) / 1000;
    out['bulk_orders_records'] = records.length;
    out['bulk_orders_records_per_s'] = Math.round(records.length / s);
    out['bulk_orders_line_items'] = records.reduce((n, r) => n + (r['lineItems'] as unknown[]).length, 0);
  } finally {
    await big.close();
  }

  for (const [k, v] of Object.entries(out)) console.log(`shopify ${k.padEnd(40)} ${v}`);
  console.log(
    `shopify: paged orders ${out['paged_orders_records_per_s']} records/s using ${Math.round((out['paged_orders_budget_used'] ?? 0) * 100)}% of the cost budget ` +
      `(${out['paged_orders_throttled']} THROTTLED); bulk backfill ${out['bulk_orders_records_per_s']} records/s`,
  );
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
