import { readTable } from '@sluice/core';
import { start, sourceConfig } from '@sluice/emulators/shipstation/index';
import connector from '../connectors/shipstation/src/index';
import type { ShipStationClient } from '../connectors/shipstation/src/client';

/**
 * ShipStation rate-limit benchmark: how much of the advertised budget (X-Rate-Limit-Limit per window)
 * the connector actually uses, against the emulator with a short window.
 *
 * Several tables read concurrently through one shared client (as in a sync of the whole source) keep
 * more demand than the budget allows, for `windows` windows. The achieved rate is the requests the
 * emulator admitted divided by what the budget allows in the same time:
 *   fraction = Σ count(window i) / (limit × (start(window N) − start(window 0)) / windowMs)
 * 1.0 means every window was used to the last request and each new window opened the instant the
 * previous one reset. 429s must stay at zero.
 *
 * Two workloads: `small` (stores, warehouses, products, fulfillments: fast responses, measures the
 * governor's precision) and `mixed` (all seven tables, including 500-order pages of ~1.5 MB, whose
 * response time delays the moment the window's end is known).
 */
export interface BenchOptions {
  limit?: number;
  windowMs?: number;
  windows?: number;
  workload?: 'small' | 'mixed';
}

export async function measure(o: BenchOptions = {}): Promise<Record<string, number>> {
  const limit = o.limit ?? 10;
  const windowMs = o.windowMs ?? 2000;
  const n = o.windows ?? 6;
  const tables = o.workload === 'mixed' ? connector.tables.map((t) => t.name) : ['stores', 'warehouses', 'products', 'fulfillments'];
  const h = await start({ seed: 42, rateLimit: { limit, windowMs } });
  try {
    const config = sourceConfig(h);
    const cfg = connector.config.parse(config);
    const client = connector.connect(cfg, { source: 'bench', log: console, report: () => {} }) as ShipStationClient;
    let stop = false;
    const loops = tables.map(async (table) => {
      while (!stop) await readTable(connector, config, table, {}, { client });
    });
    while (h.windows().length <= n) await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await Promise.all(loops);
    const w = h.windows();
    const used = w.slice(0, n).reduce((s, x) => s + x.count, 0);
    const span = w[n]!.start - w[0]!.start;
    const lateness = w.slice(1, n + 1).map((x, i) => x.start - w[i]!.end);
    return {
      limit,
      windowMs,
      windows: n,
      requests: used,
      throttled: h.throttled(),
      achievedFraction: Number((used / ((limit * span) / windowMs)).toFixed(4)),
      meanLatenessMs: Math.round(lateness.reduce((s, x) => s + x, 0) / lateness.length),
      maxLatenessMs: Math.max(...lateness),
      governorWaits: client.governor.stats().waits ?? 0,
    };
  } finally {
    await h.close();
  }
}

export async function run(): Promise<Record<string, number>> {
  const small = await measure({ workload: 'small', limit: 10, windowMs: 2000, windows: 6 });
  const mixed = await measure({ workload: 'mixed', limit: 20, windowMs: 5000, windows: 3 });
  const result: Record<string, number> = {
    achievedFraction: small.achievedFraction!,
    throttled: small.throttled! + mixed.throttled!,
    requests: small.requests!,
    meanLatenessMs: small.meanLatenessMs!,
    mixedAchievedFraction: mixed.achievedFraction!,
    mixedMeanLatenessMs: mixed.meanLatenessMs!,
  };
  console.log(
    `shipstation: achieved ${(small.achievedFraction! * 100).toFixed(1)}% of the advertised limit (${small.limit} per ${small.windowMs! / 1000} s, ${small.windows} windows, ${small.requests} requests, ${small.throttled} 429s, new window opened ${small.meanLatenessMs} ms after reset on average)`,
  );
  console.log(
    `shipstation: all seven tables incl. 500-order pages: ${(mixed.achievedFraction! * 100).toFixed(1)}% (${mixed.limit} per ${mixed.windowMs! / 1000} s, ${mixed.throttled} 429s, ${mixed.meanLatenessMs} ms late on average: the window's end is known when its first response arrives)`,
  );
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then(
    (r) => {
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
