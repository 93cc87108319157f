/**
 * `npm run bench -- extract [--extract-n N] [--latency MS]`: what a user waits for in a first sync. The
 * commercetools emulator answers every request after `--latency` ms (default 150, a real API's 100–500 ms);
 * the orders table is extracted (read through core's engine and staged) sequentially and sliced, side by
 * side in one run, then both again with no latency (CPU-bound). Reported: records/s of each, the ceiling
 * (concurrency × page size / latency) and the fraction of it the sliced read reaches, peak RSS of the
 * extracting process, and the load average (the machine is shared).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmulator } from './e2e';
import { ROOT, TSX_NODE, fmtInt, lastJson, round, runWatched, say, table } from './lib/measure';
import type { ScenarioResult, TargetCheck } from './lib/types';

/** The client's concurrency limiter per commercetools project, which slicing fills. */
const CONCURRENCY = 4;

async function extractOnce(config: Record<string, unknown>, work: string, how: 'sequential' | 'sliced') {
  const dir = path.join(work, `${how}-${Date.now()}`);
  const r = await runWatched(TSX_NODE[0], [...TSX_NODE.slice(1), path.join(ROOT, 'bench/lib/extract-child.ts'), JSON.stringify(config), dir, how], { label: `extract (${how})` });
  fs.rmSync(dir, { recursive: true, force: true });
  const out = lastJson<{ rows: number; pages: number; ms: number }>(r.stdout);
  return { ...out, rps: out.rows / (out.ms / 1000), peakRssMb: round(r.peakRssMb), cpuS: r.cpuS };
}

export async function runExtract(o: { n: number; latencyMs: number; work: string }): Promise<ScenarioResult> {
  fs.mkdirSync(o.work, { recursive: true });
  const rows: (string | number)[][] = [];
  const metrics: Record<string, unknown> = { n: o.n, latency_ms: o.latencyMs, concurrency: CONCURRENCY };
  for (const latency of [o.latencyMs, 0]) {
    say(`extract: ${fmtInt(o.n)} orders, ${latency} ms per response`);
    const emu = await startEmulator(o.n, latency);
    try {
      const pageSize = Number(emu.config.pageSize ?? 500);
      const seq = await extractOnce(emu.config, o.work, 'sequential');
      const sliced = await extractOnce(emu.config, o.work, 'sliced');
      if (seq.rows !== o.n || sliced.rows < o.n) throw new Error(`extract read ${seq.rows} / ${sliced.rows} rows of ${o.n}`);
      const ceiling = latency > 0 ? (CONCURRENCY * pageSize) / (latency / 1000) : undefined;
      const key = latency > 0 ? '' : 'cpu_';
      Object.assign(metrics, {
        [`${key}sequential_rps`]: round(seq.rps),
        [`${key}sliced_rps`]: round(sliced.rps),
        [`${key}speedup`]: round(sliced.rps / seq.rps, 2),
        [`${key}peak_rss_mb`]: Math.max(seq.peakRssMb, sliced.peakRssMb),
        [`${key}cpu_us_per_record_sequential`]: round((seq.cpuS * 1e6) / seq.rows, 1),
        [`${key}cpu_us_per_record_sliced`]: round((sliced.cpuS * 1e6) / sliced.rows, 1),
        ...(ceiling ? { ceiling_rps: round(ceiling), fraction_of_ceiling: round(sliced.rps / ceiling, 3) } : {}),
      });
      if (latency > 0) metrics.peak_rss_mb = Math.max(seq.peakRssMb, sliced.peakRssMb);
      rows.push([`${latency} ms`, fmtInt(seq.rps), fmtInt(sliced.rps), `${round(sliced.rps / seq.rps, 2)}×`, ceiling ? fmtInt(ceiling) : '–', ceiling ? `${round((100 * sliced.rps) / ceiling, 1)}%` : '–', `${seq.peakRssMb} / ${sliced.peakRssMb}`]);
    } finally {
      await emu.stop();
    }
  }
  metrics.load_average = os.loadavg().map((x) => round(x, 2));
  const targets: TargetCheck[] = [
    { name: 'extract: sliced vs sequential at latency', value: `${metrics.speedup}×`, target: '≥ 3×', met: Number(metrics.speedup) >= 3 },
    { name: 'extract: fraction of the concurrency ceiling', value: `${round(Number(metrics.fraction_of_ceiling) * 100, 1)}%`, target: '≥ 80%', met: Number(metrics.fraction_of_ceiling) >= 0.8 },
  ];
  const report = `extract (commercetools orders, ${fmtInt(o.n)}; load average ${(metrics.load_average as number[]).join(' ')})\n${table(['latency', 'sequential rec/s', 'sliced rec/s', 'speed-up', 'ceiling rec/s', 'of ceiling', 'peak RSS MB seq / sliced'], rows)}`;
  return { scenario: 'extract', metrics, report, targets };
}
