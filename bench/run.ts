/**
 * `npm run bench [-- NAME…] [--n N] [--scales a,b,c] [--dlt-n N] [--profile]`
 *
 * Scenarios: warehouse, e2e, shipstation, shopify, maintenance (default: all five), smoke (10k-record
 * warehouse + e2e, for CI). maintenance: `--maintenance-n N` records (default 50k) then `--syncs K` (200)
 * small incremental syncs; query times after them, after maintenance, and on a compact copy. export (not in
 * the default set): `--export-n N` orders (default 10k) to the PostHog emulator, batches of `--export-batch B`.
 * `--baseline REV`: the warehouse scenario also runs the engine of git revision REV (e.g. the last
 * commit before DuckLake) on the same records, alternating with this one, and reports both. Prints a table per scenario and the targets, and writes bench/results/latest.json (merged by
 * scenario, so running one scenario keeps the others' last results).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, round, say, table } from './lib/measure';
import type { ScenarioOptions, ScenarioResult, TargetCheck } from './lib/types';
import { runWarehouse } from './warehouse';
import { runE2e } from './e2e';
import { runMaintenance } from './maintenance';
import { runExtract } from './extract';
import { runExport } from './export';

const KNOWN = ['warehouse', 'e2e', 'extract', 'shipstation', 'shopify', 'maintenance', 'smoke', 'export'] as const;
type Name = (typeof KNOWN)[number];

function parseArgs(argv: string[]) {
  const names: Name[] = [];
  const opt: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=');
      opt[k!] = v ?? (argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i]! : 'true');
    } else if ((KNOWN as readonly string[]).includes(a)) names.push(a as Name);
    else throw new Error(`unknown scenario "${a}"; scenarios: ${KNOWN.join(', ')}`);
  }
  return { names: names.length ? names : (['warehouse', 'e2e', 'shipstation', 'shopify', 'maintenance'] as Name[]), opt };
}

const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v.replace(/_/g, '').replace(/k$/i, '000').replace(/m$/i, '000000')));

/** Calls another helper's bench module (bench/<vendor>.ts) if it exists, whatever it is named inside. */
async function vendorBench(name: 'shipstation' | 'shopify', base: ScenarioOptions): Promise<ScenarioResult> {
  const file = path.join(ROOT, 'bench', `${name}.ts`);
  if (!fs.existsSync(file)) return { scenario: name, metrics: { skipped: `bench/${name}.ts does not exist yet` }, report: `${name}: skipped (bench/${name}.ts does not exist yet)`, targets: [] };
  const mod = (await import(file)) as Record<string, unknown>;
  const cap = name[0]!.toUpperCase() + name.slice(1);
  const fn = [mod[`run${cap}`], mod.run, mod.default, mod.bench].find((f) => typeof f === 'function') as ((o: unknown) => Promise<unknown>) | undefined;
  if (!fn) return { scenario: name, metrics: { skipped: `bench/${name}.ts exports no run function` }, report: `${name}: skipped (no run function exported)`, targets: [] };
  const out = (await fn({ ...base, work: path.join(base.work, name) })) as Partial<ScenarioResult> & Record<string, unknown>;
  if (typeof out.report === 'string') return { scenario: name, metrics: (out.metrics as Record<string, unknown>) ?? {}, report: out.report, targets: out.targets ?? [], notes: out.notes };
  // A flat record of numbers: print it, and read the rate-budget targets off its names.
  const flat = out as Record<string, unknown>;
  const targets: TargetCheck[] = [];
  for (const [k, v] of Object.entries(flat)) {
    if (typeof v === 'number' && /(achievedFraction|budget_?used)$/i.test(k)) targets.push({ name: `${name}: ${k}`, value: `${round(v * 100, 1)}%`, target: '≥ 95%', met: v >= 0.95 });
  }
  const throttled = Object.entries(flat).filter(([k, v]) => /throttled$/i.test(k) && typeof v === 'number').reduce((a, [, v]) => a + (v as number), 0);
  targets.push({ name: `${name}: throttling errors`, value: String(throttled), target: '0', met: throttled === 0 });
  return { scenario: name, metrics: flat, report: table([name, 'value'], Object.entries(flat).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? String(v) : (v as number)])), targets };
}

async function main() {
  const { names, opt } = parseArgs(process.argv.slice(2));
  const work = path.resolve(opt.work ?? path.join(os.tmpdir(), `sluice-bench-${process.pid}`));
  const profileDir = opt.profile ? path.resolve(opt.profile === 'true' ? path.join(ROOT, 'bench', 'results', 'profiles') : opt.profile) : undefined;
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
  const n = num(opt.n, 1_000_000);
  // --duckdb-memory: the engine's own knob (SLUICE_DUCKDB_MEMORY), passed to every child.
  if (opt['duckdb-memory']) process.env.SLUICE_DUCKDB_MEMORY = opt['duckdb-memory'];
  let failed = false;
  const results: ScenarioResult[] = [];
  const started = new Date();
  try {
    for (const name of names) {
      const t = performance.now();
      say(`── ${name}`);
      try {
        switch (name) {
          case 'warehouse':
            results.push(await runWarehouse({ n, work: path.join(work, 'warehouse'), profileDir, baseline: opt.baseline }));
            break;
          case 'e2e':
            results.push(
              await runE2e({
                n,
                work: path.join(work, 'e2e'),
                profileDir,
                scales: opt.scales !== undefined ? opt.scales.split(',').filter(Boolean).map((x) => num(x, 0)) : [100_000, 300_000, 1_000_000].filter((x) => x < n),
                dltN: num(opt['dlt-n'], Math.min(n, 20_000)),
              }),
            );
            break;
          case 'smoke': {
            const sn = num(opt.n, 10_000);
            results.push({ ...(await runWarehouse({ n: sn, work: path.join(work, 'smoke-warehouse'), smoke: true })), scenario: 'smoke-warehouse' });
            results.push({ ...(await runE2e({ n: sn, work: path.join(work, 'smoke-e2e'), smoke: true, scales: [], dltN: num(opt['dlt-n'], 0) })), scenario: 'smoke-e2e' });
            break;
          }
          case 'extract':
            results.push(await runExtract({ n: num(opt['extract-n'], 300_000), latencyMs: num(opt.latency, 150), work: path.join(work, 'extract') }));
            break;
          case 'maintenance':
            results.push(await runMaintenance({ n: num(opt['maintenance-n'], 50_000), syncs: num(opt.syncs, 200), work: path.join(work, 'maintenance') }));
            break;
          case 'export':
            results.push(await runExport({ n: num(opt['export-n'], 10_000), batchSize: num(opt['export-batch'], 500), work: path.join(work, 'export') }));
            break;
          case 'shipstation':
          case 'shopify':
            results.push(await vendorBench(name, { n, work, profileDir }));
            break;
        }
      } catch (err) {
        failed = true;
        const msg = (err as Error).message;
        say(`${name} FAILED: ${msg.slice(0, 3000)}`);
        results.push({ scenario: name, metrics: { failed: msg.slice(0, 2000) }, report: `${name}: FAILED: ${msg.split('\n').slice(0, 12).join('\n')}`, targets: [{ name: `${name}: completes`, value: 'failed', target: 'completes', met: false }] });
      }
      say(`── ${name} done in ${round((performance.now() - t) / 1000, 1)} s`);
      const last = results.at(-1);
      if (last) process.stderr.write(`${last.report}\n`);
      printAndSave(results, started, false);
    }
  } finally {
    if (!process.env.BENCH_KEEP) fs.rmSync(work, { recursive: true, force: true });
  }

  printAndSave(results, started, true);
  if (failed) process.exitCode = 1;
}

/** Prints the reports (at the end) and merges the results into latest.json (after every scenario, so a
 * later failure does not lose them). */
function printAndSave(results: ScenarioResult[], started: Date, final: boolean): void {
  if (final) {
    for (const r of results) {
      process.stdout.write(`\n${r.report}\n`);
      for (const note of r.notes ?? []) process.stdout.write(`  note: ${note}\n`);
    }
  }
  const targets = results.flatMap((r) => r.targets);
  if (final && targets.length) process.stdout.write(`\n${table(['target', 'measured', 'goal', 'met'], targets.map((t) => [t.name, t.value, t.target, t.met ? 'yes' : 'NO']))}\n`);

  const file = path.join(ROOT, 'bench', 'results', 'latest.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let previous: { scenarios?: Record<string, unknown> } = {};
  try {
    previous = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    // first run
  }
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGb: round(os.totalmem() / 2 ** 30, 1), loadavg: os.loadavg().map((x) => round(x, 1)), node: process.version, platform: `${os.platform()} ${os.release()}` };
  const scenarios = { ...(previous.scenarios ?? {}) };
  const engine = { duckdbMemory: process.env.SLUICE_DUCKDB_MEMORY ?? 'default (256MB)' };
  for (const r of results) scenarios[r.scenario] = { at: started.toISOString(), machine, engine, metrics: r.metrics, targets: r.targets, notes: r.notes };
  fs.writeFileSync(file, `${JSON.stringify({ updatedAt: new Date().toISOString(), scenarios }, null, 2)}\n`);
  if (final) process.stdout.write(`\nwrote ${path.relative(process.cwd(), file)}\n`);
}


main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
