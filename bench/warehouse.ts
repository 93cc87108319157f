/**
 * `npm run bench -- warehouse`: n synthetic order-like records (~2 KB JSON, 24 months) driven through
 * packages/warehouse directly (StagingWriter + commitStaged), first load and 1% incremental merges, beside
 * DuckDB's own read_json → COPY … (FORMAT parquet, PARTITION_BY (month)) of the same records.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, TSX_NODE, lastJson, round, runWatched, say, table } from './lib/measure';
import type { ScenarioOptions, ScenarioResult } from './lib/types';
import { baselineCheckout } from './lib/baseline';

interface PhaseOut {
  phase: string;
  rows: number;
  genMs: number;
  stageMs: number;
  commitMs: number;
  stagedBytes: number;
  rowsWritten: number;
  tableRows: number;
  monthsTouched: number;
  peakRssMb: number;
}

function child(args: Record<string, unknown>, opts: ScenarioOptions, label: string, root = ROOT) {
  const prof = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`, `--cpu-prof-name=warehouse-${label}.cpuprofile`] : [];
  return runWatched(TSX_NODE[0], [...TSX_NODE.slice(1), ...prof, path.join(root, 'bench/lib/warehouse-child.ts'), JSON.stringify(args)], { label: `warehouse ${label}`, cwd: root });
}

/** The first load and the 1% recent merge by another revision's engine, on the same records. */
async function baselineRun(opts: ScenarioOptions, rev: string): Promise<{ full: PhaseOut; recent: PhaseOut }> {
  const checkout = baselineCheckout(rev, opts.work);
  const dir = path.join(opts.work, 'baseline-warehouse');
  try {
    say(`warehouse (baseline ${rev}): first load of ${opts.n.toLocaleString()} records`);
    const full = lastJson<PhaseOut>((await child({ phase: 'full', n: opts.n, dir, syncId: 'full' }, opts, `baseline-full`, checkout.root)).stdout);
    say(`warehouse (baseline ${rev}): 1% changed (recent months)`);
    const recent = lastJson<PhaseOut>((await child({ phase: 'incremental', n: opts.n, dir, syncId: 'inc-recent', how: 'recent', fraction: 0.01 }, opts, `baseline-incremental`, checkout.root)).stdout);
    return { full, recent };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    checkout.remove();
  }
}

export async function runWarehouse(opts: ScenarioOptions): Promise<ScenarioResult> {
  const { n, work } = opts;
  const dir = path.join(work, 'warehouse');
  const refDir = path.join(work, 'ref-json');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });

  // The baseline runs first, then this engine: a machine that slows down during the run favours the baseline.
  const base = opts.baseline ? await baselineRun(opts, opts.baseline) : undefined;
  say(`warehouse: first load of ${n.toLocaleString()} records`);
  const fullRun = await child({ phase: 'full', n, dir, refDir, syncId: 'full' }, opts, 'full');
  const full = lastJson<PhaseOut>(fullRun.stdout);
  say('warehouse: 1% changed (recent months)');
  // An incremental phase that fails (e.g. out of memory) is reported, not fatal: the others still run.
  const failures: string[] = [];
  const phase = async (args: Record<string, unknown>, label: string): Promise<PhaseOut> => {
    try {
      return lastJson<PhaseOut>((await child(args, opts, label)).stdout);
    } catch (err) {
      const msg = (err as Error).message;
      failures.push(`${label}: ${(/(Out of Memory Error[^\n]*|Error[^\n]*)/.exec(msg)?.[1] ?? msg).slice(0, 300)}`);
      return { phase: label, rows: NaN, genMs: NaN, stageMs: NaN, commitMs: NaN, stagedBytes: NaN, rowsWritten: NaN, tableRows: NaN, monthsTouched: NaN, peakRssMb: NaN };
    }
  };
  const recent = await phase({ phase: 'incremental', n, dir, syncId: 'inc-recent', how: 'recent', fraction: 0.01 }, 'incremental-recent');
  say('warehouse: 1% changed (uniform over 24 months)');
  const uniform = await phase({ phase: 'incremental', n, dir, syncId: 'inc-uniform-', how: 'uniform', fraction: 0.01 }, 'incremental-uniform');
  say('warehouse: DuckDB alone on the same records');
  const refRun = await runWatched(TSX_NODE[0], [...TSX_NODE.slice(1), path.join(ROOT, 'bench/lib/duckdb-ref.ts'), JSON.stringify({ glob: path.join(refDir, '*.json'), out: path.join(work, 'ref-parquet'), partitionField: 'createdAt' })], { label: 'duckdb reference' });
  const ref = lastJson<{ ms: number; rows: number; parquetBytes: number }>(refRun.stdout);
  if (!process.env.BENCH_KEEP) fs.rmSync(work, { recursive: true, force: true });

  const fullMs = full.stageMs + full.commitMs;
  const rate = (rows: number, ms: number) => (rows / ms) * 1000;
  const mb = full.stagedBytes / 1e6;
  const incMs = (p: PhaseOut) => p.stageMs + p.commitMs;
  const metrics = {
    records: n,
    jsonMB: round(mb, 1),
    bytesPerRecord: round(full.stagedBytes / n),
    full: { ms: round(fullMs), stageMs: round(full.stageMs), commitMs: round(full.commitMs), recordsPerS: round(rate(n, fullMs)), mbPerS: round(mb / (fullMs / 1000), 1), peakRssMb: round(full.peakRssMb), generateMs: round(full.genMs) },
    incrementalRecent: { changed: recent.rows, ms: round(incMs(recent)), stageMs: round(recent.stageMs), commitMs: round(recent.commitMs), monthsTouched: recent.monthsTouched, recordsPerS: round(rate(recent.rows, incMs(recent))), fractionOfFull: round(incMs(recent) / fullMs, 4), peakRssMb: round(recent.peakRssMb) },
    incrementalUniform: { changed: uniform.rows, ms: round(incMs(uniform)), stageMs: round(uniform.stageMs), commitMs: round(uniform.commitMs), monthsTouched: uniform.monthsTouched, recordsPerS: round(rate(uniform.rows, incMs(uniform))), fractionOfFull: round(incMs(uniform) / fullMs, 4), peakRssMb: round(uniform.peakRssMb) },
    duckdbAlone: { ms: round(ref.ms), recordsPerS: round(rate(ref.rows, ref.ms)), mbPerS: round(mb / (ref.ms / 1000), 1), peakRssMb: round(refRun.peakRssMb), rows: ref.rows, parquetMB: round(ref.parquetBytes / 1e6, 1) },
    sluiceVsDuckdb: round(ref.ms / fullMs, 3),
    ...(base
      ? {
          baseline: {
            rev: opts.baseline,
            full: { ms: round(base.full.stageMs + base.full.commitMs), commitMs: round(base.full.commitMs), peakRssMb: round(base.full.peakRssMb) },
            incrementalRecent: { ms: round(incMs(base.recent)), commitMs: round(base.recent.commitMs), peakRssMb: round(base.recent.peakRssMb) },
          },
          firstLoadVsBaseline: round(fullMs / (base.full.stageMs + base.full.commitMs), 3),
          incrementalVsBaseline: round(incMs(recent) / incMs(base.recent), 3),
        }
      : {}),
  };
  const report = table(
    ['warehouse (' + n.toLocaleString() + ' records, ' + round(mb) + ' MB JSON)', 'records', 'time s', 'records/s', 'MB/s', 'peak RSS MB'],
    [
      ['Sluice first load (stage + commit)', n, round(fullMs / 1000, 2).toFixed(2), rate(n, fullMs), round(mb / (fullMs / 1000), 1).toFixed(1), full.peakRssMb],
      ['  staging (JSON → NDJSON pages)', n, round(full.stageMs / 1000, 2).toFixed(2), rate(n, full.stageMs), '', ''],
      ['  commit (NDJSON → Parquet by month)', n, round(full.commitMs / 1000, 2).toFixed(2), rate(n, full.commitMs), '', ''],
      [`Sluice 1% changed, recent (${recent.monthsTouched} months touched)`, recent.rows, round(incMs(recent) / 1000, 2).toFixed(2), rate(recent.rows, incMs(recent)), '', recent.peakRssMb],
      [`Sluice 1% changed, uniform (${uniform.monthsTouched} months touched)`, uniform.rows, round(incMs(uniform) / 1000, 2).toFixed(2), rate(uniform.rows, incMs(uniform)), '', uniform.peakRssMb],
      ['DuckDB alone: read_json → COPY PARTITION_BY', ref.rows, round(ref.ms / 1000, 2).toFixed(2), rate(ref.rows, ref.ms), round(mb / (ref.ms / 1000), 1).toFixed(1), refRun.peakRssMb],
      ...(base
        ? [
            [`baseline ${opts.baseline}: first load`, n, round((base.full.stageMs + base.full.commitMs) / 1000, 2).toFixed(2), rate(n, base.full.stageMs + base.full.commitMs), '', base.full.peakRssMb],
            [`baseline ${opts.baseline}: 1% changed, recent`, base.recent.rows, round(incMs(base.recent) / 1000, 2).toFixed(2), rate(base.recent.rows, incMs(base.recent)), '', base.recent.peakRssMb],
          ]
        : []),
    ],
  );
  const pct = (x: number) => `${round(x * 100, 1)}%`;
  return {
    scenario: 'warehouse',
    notes: failures.map((f) => `FAILED ${f}`),
    metrics: { ...metrics, failures },
    report,
    targets: [
      { name: 'warehouse: first load vs DuckDB alone', value: pct(ref.ms / fullMs), target: '≥ 50%', met: ref.ms / fullMs >= 0.5 },
      { name: 'warehouse: 1% incremental (recent) / full', value: pct(incMs(recent) / fullMs), target: '≤ 5%', met: incMs(recent) / fullMs <= 0.05 },
      { name: 'warehouse: 1% incremental (uniform) / full', value: pct(incMs(uniform) / fullMs), target: '≤ 5% (worst case)', met: incMs(uniform) / fullMs <= 0.05 },
      { name: 'warehouse: peak RSS', value: `${round(Math.max(full.peakRssMb, recent.peakRssMb, uniform.peakRssMb))} MB`, target: '≤ 512 MB', met: Math.max(full.peakRssMb, recent.peakRssMb, uniform.peakRssMb) <= 512 },
      ...(base
        ? [{ name: `warehouse: first load vs baseline ${opts.baseline}`, value: `${round(fullMs / (base.full.stageMs + base.full.commitMs), 2)}×`, target: '≤ 1× (no slower)', met: fullMs <= base.full.stageMs + base.full.commitMs }]
        : []),
      ...failures.map((f) => ({ name: `warehouse: ${f.split(':')[0]} completes`, value: 'failed', target: 'completes', met: false })),
    ],
  };
}
