/**
 * `npm run bench -- e2e`: commercetools orders synced from the emulator through the real Temporal dev
 * server and a `sluice worker` process into the warehouse, at several sizes; beside DuckDB alone on the
 * same pages (the local limit) and dlt's rest_api source on the same emulator (a peer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../packages/cli/src/temporal-server';
import { main } from '../packages/cli/src/main';
import type { Io } from '../packages/cli/src/io';
import { ProcWatch, ROOT, TSX_NODE, exited, lastJson, round, runWatched, say, table, track } from './lib/measure';
import { ensureDlt } from './lib/dlt';
import type { ScenarioOptions, ScenarioResult, TargetCheck } from './lib/types';

const SOURCE = 'ct';
const TABLE = 'orders';
const TASK_QUEUE = 'sluice-bench';

interface Emulator {
  url: string;
  config: Record<string, string>;
  child: ChildProcess;
  watch: ProcWatch;
  update(fraction: number, how: 'recent' | 'uniform'): Promise<number>;
  stop(): Promise<void>;
}

/** The commercetools emulator in its own process; `latencyMs` is added to every response (the network to a real vendor). */
export async function startEmulator(n: number, latencyMs = 0): Promise<Emulator> {
  const child = track(spawn(TSX_NODE[0], [...TSX_NODE.slice(1), path.join(ROOT, 'bench/lib/emulator-child.ts'), String(n), String(latencyMs)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] }));
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  const { url, config } = JSON.parse(line) as { url: string; config: Record<string, string> };
  let seq = 0;
  return {
    url,
    config,
    child,
    watch: new ProcWatch(child.pid!),
    update: (fraction, how) =>
      new Promise((resolve) => {
        const id = ++seq;
        const on = (m: { id: number; changed: number }) => {
          if (m.id !== id) return;
          child.off('message', on);
          resolve(m.changed);
        };
        child.on('message', on);
        child.send({ cmd: 'update', fraction, how, id });
      }),
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

interface Worker {
  child: ChildProcess;
  watch: ProcWatch;
  probe(): { writePageMs: number; pages: number; rows: number; bytes: number; linked: number };
  stop(): Promise<void>;
}

async function startWorker(configPath: string, work: string, opts: { pagesDir?: string; profileDir?: string; label: string }): Promise<Worker> {
  const probeFile = path.join(work, `probe-${opts.label}.json`);
  fs.rmSync(probeFile, { force: true });
  const prof = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`, `--cpu-prof-name=e2e-worker-${opts.label}.cpuprofile`] : [];
  const child = track(
    spawn(TSX_NODE[0], [...TSX_NODE.slice(1), ...prof, path.join(ROOT, 'bench/lib/worker-entry.ts'), '--config', configPath, 'worker'], {
      cwd: work,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, BENCH_PROBE_OUT: probeFile, ...(opts.pagesDir ? { BENCH_PAGES_DIR: opts.pagesDir } : {}) },
    }),
  );
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-20_000);
      if (process.env.BENCH_VERBOSE) process.stderr.write(d);
      if (stderr.includes('worker polling task queue')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${stderr.slice(-3000)}`)));
  });
  return {
    child,
    watch: new ProcWatch(child.pid!, 100),
    probe: () => JSON.parse(fs.readFileSync(probeFile, 'utf8')),
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited(child);
      clearTimeout(t);
    },
  };
}

const quietIo = (): Io & { text: () => string } => {
  let text = '';
  const sink = { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
  return { out: (t) => void (text += `${t}\n`), info: (t) => void (text += `${t}\n`), error: (t) => void (text += `error: ${t}\n`), stderr: sink, text: () => text };
};

/** Activity durations (scheduled → completed, ms) of the latest syncTable run, from its history. */
async function stageTimes(client: Client): Promise<{ extractMs: number; commitMs: number; workflowMs: number; queueMs: number }> {
  const history = await client.workflow.getHandle(`sluice:${SOURCE}:${TABLE}`).fetchHistory();
  const events = history.events ?? [];
  type HistoryEvent = NonNullable<typeof history.events>[number];
  const ms = (e: HistoryEvent) => Number(e.eventTime!.seconds) * 1000 + Math.round((e.eventTime!.nanos ?? 0) / 1e6);
  const scheduled = new Map<number, { type: string; at: number }>();
  const started = new Map<number, number>();
  const out = { extractMs: 0, commitMs: 0, workflowMs: 0, queueMs: 0 };
  for (const e of events) {
    const id = Number(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, { type: e.activityTaskScheduledEventAttributes.activityType!.name!, at: ms(e) });
    if (e.activityTaskStartedEventAttributes) started.set(Number(e.activityTaskStartedEventAttributes.scheduledEventId), ms(e));
    if (e.activityTaskCompletedEventAttributes) {
      const sid = Number(e.activityTaskCompletedEventAttributes.scheduledEventId);
      const s = scheduled.get(sid)!;
      const st = started.get(sid) ?? s.at;
      out.queueMs += st - s.at;
      if (s.type === 'extractTable') out.extractMs += ms(e) - st;
      if (s.type === 'commitTable') out.commitMs += ms(e) - st;
    }
  }
  out.workflowMs = ms(events.at(-1)!) - ms(events[0]!);
  return out;
}

interface SyncRun {
  records: number;
  ms: number;
  extractMs: number;
  stageMs: number;
  httpMs: number;
  commitMs: number;
  temporalMs: number;
  bytes: number;
  workerCpuS: number;
  emulatorCpuS: number;
  workerPeakRssMb: number;
}

async function sync(configPath: string, client: Client, worker: Worker, emu: Emulator): Promise<SyncRun> {
  const before = worker.probe();
  worker.watch.mark();
  emu.watch.mark();
  const io = quietIo();
  const t = performance.now();
  const code = await main(['--config', configPath, 'sync', SOURCE, '--table', TABLE], io);
  const ms = performance.now() - t;
  if (code !== 0) throw new Error(`sluice sync exited with ${code}:\n${io.text().slice(-3000)}`);
  await new Promise((r) => setTimeout(r, 700)); // let the probe flush
  const after = worker.probe();
  const st = await stageTimes(client);
  const stageMs = after.writePageMs - before.writePageMs;
  return {
    records: after.rows - before.rows,
    ms,
    extractMs: st.extractMs,
    stageMs,
    httpMs: Math.max(0, st.extractMs - stageMs),
    commitMs: st.commitMs,
    temporalMs: Math.max(0, ms - st.extractMs - st.commitMs),
    bytes: after.bytes - before.bytes,
    workerCpuS: worker.watch.cpuSince(),
    emulatorCpuS: emu.watch.cpuSince(),
    workerPeakRssMb: worker.watch.peakRssMb,
  };
}

interface ScaleResult {
  n: number;
  /** Worker RSS once started and polling, before any sync. */
  idleRssMb: number;
  full: SyncRun;
  incremental?: SyncRun & { changed: number };
  incrementalError?: string;
}

async function runScale(n: number, server: DevServer, client: Client, opts: ScenarioOptions, extra: { pagesDir?: string; incremental: boolean; keepEmulator?: boolean }): Promise<{ result: ScaleResult; emu?: Emulator }> {
  const work = path.join(opts.work, `n${n}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  say(`e2e: emulator with ${n.toLocaleString()} orders`);
  const emu = await startEmulator(n);
  const configPath = path.join(work, 'sluice.yaml');
  fs.writeFileSync(
    configPath,
    stringify({
      warehouse: { path: path.join(work, 'warehouse') },
      temporal: { address: server.address, namespace: server.namespace, taskQueue: `${TASK_QUEUE}-${n}-${process.pid}` },
      sources: [{ name: SOURCE, type: 'commercetools', config: emu.config, tables: { [TABLE]: { mode: 'incremental' } } }],
    }),
  );
  let worker: Worker | undefined;
  try {
    worker = await startWorker(configPath, work, { pagesDir: extra.pagesDir, profileDir: opts.profileDir, label: String(n) });
    say(`e2e: full sync of ${n.toLocaleString()} orders through Temporal`);
    worker.watch.poll();
    const idleRssMb = worker.watch.peakRssMb;
    const full = await sync(configPath, client, worker, emu);
    if (full.records !== n) throw new Error(`synced ${full.records} records, expected ${n}`);
    // The local-limit input is the full sync's pages only: later pages land in a fresh directory.
    if (extra.pagesDir) fs.renameSync(extra.pagesDir, `${extra.pagesDir}-full`);
    let incremental: ScaleResult['incremental'];
    let incrementalError: string | undefined;
    if (extra.incremental) {
      const changed = await emu.update(0.01, 'recent');
      say(`e2e: incremental sync after ${changed.toLocaleString()} orders changed`);
      try {
        incremental = { ...(await sync(configPath, client, worker, emu)), changed };
      } catch (err) {
        // Reported, not fatal: the full-sync figures of this and the other sizes still count.
        const msg = (err as Error).message;
        incrementalError = (/(Out of Memory Error[^\n]*|error: [^\n]*)/.exec(msg)?.[1] ?? msg).slice(0, 300);
        say(`e2e: incremental sync of ${n.toLocaleString()} FAILED: ${incrementalError}`);
      }
    }
    return { result: { n, idleRssMb, full, incremental, incrementalError }, emu: extra.keepEmulator ? emu : undefined };
  } catch (err) {
    if (extra.keepEmulator) await emu.stop();
    throw err;
  } finally {
    await worker?.stop();
    if (!extra.keepEmulator) await emu.stop();
    if (!process.env.BENCH_KEEP) fs.rmSync(path.join(work, 'warehouse'), { recursive: true, force: true });
  }
}

export interface E2eOptions extends ScenarioOptions {
  /** Sizes for the scaling rows (the largest is the main measurement). */
  scales: number[];
  /** Records dlt reads (it is ~2 orders of magnitude slower); 0 = skip the peer. */
  dltN: number;
}

export async function runE2e(opts: E2eOptions): Promise<ScenarioResult> {
  fs.rmSync(opts.work, { recursive: true, force: true });
  fs.mkdirSync(opts.work, { recursive: true });
  const scales = [...new Set([...opts.scales, opts.n])].sort((a, b) => a - b);
  let main_ = opts.n;
  say('e2e: starting the Temporal dev server');
  const server = await startDevServer({ stateDir: path.join(opts.work, 'temporal'), ui: false, say });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const notes: string[] = [];
  const pagesDir = path.join(opts.work, 'pages');
  const results: ScaleResult[] = [];
  let mainEmu: Emulator | undefined;
  let local: { ms: number; rows: number; peakRssMb: number; cpuS: number } | undefined;
  let dlt: { rows: number; seconds: number; extract: number; normalize: number; load: number; peakRssMb: number; cpuS: number } | undefined;
  try {
    for (const n of scales) {
      const isMain = n === main_;
      try {
        const { result, emu } = await runScale(n, server, client, opts, { pagesDir: isMain ? pagesDir : undefined, incremental: true, keepEmulator: isMain && opts.dltN > 0 });
        results.push(result);
        if (emu) mainEmu = emu;
        if (result.incrementalError) notes.push(`FAILED incremental sync @ ${n.toLocaleString()}: ${result.incrementalError}`);
      } catch (err) {
        const msg = (err as Error).message;
        const short = (/(Out of Memory Error[^\n]*|error: [^\n]*)/.exec(msg)?.[1] ?? msg).slice(0, 300);
        if (isMain && results.length === 0) throw err;
        notes.push(`FAILED @ ${n.toLocaleString()}: ${short}`);
        // The main size failed: report the largest size that completed (no local limit: its pages are gone).
        if (isMain) main_ = results.at(-1)!.n;
      }
    }
    // The local limit: DuckDB alone on the very pages the worker staged (hard-linked by the probe).
    if (fs.existsSync(`${pagesDir}-full`)) {
      say('e2e: DuckDB alone on the same pages');
      const ref = await runWatched(TSX_NODE[0], [...TSX_NODE.slice(1), path.join(ROOT, 'bench/lib/duckdb-ref.ts'), JSON.stringify({ glob: path.join(`${pagesDir}-full`, '*.json'), out: path.join(opts.work, 'local-parquet'), partitionField: 'createdAt' })], { label: 'duckdb local limit' });
      const r = lastJson<{ ms: number; rows: number }>(ref.stdout);
      local = { ms: r.ms, rows: r.rows, peakRssMb: ref.peakRssMb, cpuS: ref.cpuS };
      for (const d of [pagesDir, `${pagesDir}-full`]) fs.rmSync(d, { recursive: true, force: true });
      fs.rmSync(path.join(opts.work, 'local-parquet'), { recursive: true, force: true });
    }

    if (mainEmu && opts.dltN > 0) {
      try {
        const python = await ensureDlt();
        const dltN = Math.min(opts.dltN, main_);
        say(`e2e: dlt rest_api → duckdb, first ${dltN.toLocaleString()} orders of the same emulator`);
        const dir = path.join(opts.work, 'dlt');
        fs.rmSync(dir, { recursive: true, force: true });
        const c = mainEmu.config;
        const run = await runWatched(python, [path.join(ROOT, 'bench/dlt/ct_orders.py'), mainEmu.url, c.projectKey!, c.clientId!, c.clientSecret!, dir, String(dltN)], {
          label: 'dlt',
          env: { ...process.env, RUNTIME__LOG_LEVEL: 'WARNING', DLT_DATA_DIR: dir, RUNTIME__DLTHUB_TELEMETRY: 'false' },
        });
        dlt = { ...lastJson<{ rows: number; seconds: number; extract: number; normalize: number; load: number }>(run.stdout), peakRssMb: run.peakRssMb, cpuS: run.cpuS };
        fs.rmSync(dir, { recursive: true, force: true });
      } catch (err) {
        notes.push(`dlt skipped: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await mainEmu?.stop();
    await connection.close();
    await server.stop();
  }

  const m = results.find((x) => x.n === main_)!;
  const rps = (rows: number, ms: number) => (rows / ms) * 1000;
  const sluiceRps = rps(m.full.records, m.full.ms);
  const mbps = (x: SyncRun) => x.bytes / 1e6 / (x.ms / 1000);
  const run = (x: SyncRun) => ({
    records: x.records,
    seconds: round(x.ms / 1000, 2),
    recordsPerS: round(rps(x.records, x.ms)),
    mbPerS: round(mbps(x), 1),
    stagesMs: { httpAndParse: round(x.httpMs), staging: round(x.stageMs), commit: round(x.commitMs), temporalAndClient: round(x.temporalMs) },
    workerCpuS: round(x.workerCpuS, 1),
    workerCpuUsPerRecord: round((x.workerCpuS * 1e6) / Math.max(1, x.records)),
    emulatorCpuS: round(x.emulatorCpuS, 1),
    workerPeakRssMb: round(x.workerPeakRssMb),
  });
  const localRps = local ? rps(local.rows, local.ms) : NaN;
  const dltRps = dlt ? dlt.rows / dlt.seconds : NaN;
  const metrics = {
    main: main_,
    scales: results.map((x) => ({ n: x.n, workerIdleRssMb: round(x.idleRssMb), incrementalError: x.incrementalError, full: run(x.full), incremental: x.incremental && { ...run(x.incremental), changed: x.incremental.changed, fractionOfFull: round(x.incremental.ms / x.full.ms, 4) } })),
    localLimit: local && { rows: local.rows, seconds: round(local.ms / 1000, 2), recordsPerS: round(localRps), peakRssMb: round(local.peakRssMb), cpuS: round(local.cpuS, 1) },
    dlt: dlt && { rows: dlt.rows, seconds: round(dlt.seconds, 1), recordsPerS: round(dltRps, 1), stagesS: { extract: round(dlt.extract, 1), normalize: round(dlt.normalize, 1), load: round(dlt.load, 1) }, peakRssMb: round(dlt.peakRssMb), cpuS: round(dlt.cpuS, 1) },
    ratios: {
      sluiceVsLocalLimit: round(sluiceRps / localRps, 3),
      // On a shared machine wall time measures the queue for a core; CPU seconds per record do not.
      sluiceVsLocalLimitByCpu: local ? round(local.cpuS / local.rows / (m.full.workerCpuS / m.full.records), 3) : undefined, sluiceVsDlt: round(sluiceRps / dltRps, 1), incrementalOverFull: m.incremental ? round(m.incremental.ms / m.full.ms, 4) : undefined },
  };

  const s = (ms: number) => (ms / 1000).toFixed(1);
  const rows: (string | number)[][] = [];
  for (const x of results) {
    for (const [label, r] of [[`Sluice full sync`, x.full], [`Sluice 1% changed (${x.incremental?.changed ?? 0})`, x.incremental]] as const) {
      if (!r) continue;
      rows.push([`${label} @ ${x.n.toLocaleString()}`, r.records, s(r.ms), rps(r.records, r.ms), mbps(r).toFixed(1), s(r.httpMs), s(r.stageMs), s(r.commitMs), s(r.temporalMs), r.workerCpuS.toFixed(1), r.emulatorCpuS.toFixed(1), r.workerPeakRssMb]);
    }
  }
  if (local) rows.push([`DuckDB alone, same pages (local limit)`, local.rows, s(local.ms), localRps, '', '', '', s(local.ms), '', local.cpuS.toFixed(1), '', local.peakRssMb]);
  if (dlt) rows.push([`dlt rest_api → duckdb`, dlt.rows, dlt.seconds.toFixed(1), dltRps, '', dlt.extract.toFixed(1), dlt.normalize.toFixed(1), dlt.load.toFixed(1), '', dlt.cpuS.toFixed(1), '', dlt.peakRssMb]);
  const report = table(['e2e commercetools orders', 'records', 'time s', 'records/s', 'MB/s', 'http+parse s', 'staging s', 'commit s', 'temporal s', 'cpu s', 'emu cpu s', 'peak RSS MB'], rows);
  const pct = (x: number) => `${round(x * 100, 1)}%`;
  const maxRss = Math.max(...results.map((x) => Math.max(x.full.workerPeakRssMb, x.incremental?.workerPeakRssMb ?? 0)));
  const targets: TargetCheck[] = [
    ...(local ? [{ name: `e2e: Sluice vs DuckDB alone @ ${main_.toLocaleString()} (wall)`, value: pct(sluiceRps / localRps), target: '≥ 50%', met: sluiceRps / localRps >= 0.5 }] : []),
    ...(local ? [{ name: `e2e: Sluice worker vs DuckDB alone (CPU s per record)`, value: pct(local.cpuS / local.rows / (m.full.workerCpuS / m.full.records)), target: '≥ 50%', met: local.cpuS / local.rows / (m.full.workerCpuS / m.full.records) >= 0.5 }] : []),
    ...(dlt ? [{ name: 'e2e: Sluice vs dlt', value: `${round(sluiceRps / dltRps, 1)}×`, target: '≥ 5×', met: sluiceRps / dltRps >= 5 }] : []),
    { name: `e2e: worker peak RSS (max over ${scales.map((x) => x.toLocaleString()).join('/')})`, value: `${round(maxRss)} MB`, target: '≤ 512 MB', met: maxRss <= 512 },
    ...(m.incremental ? [{ name: 'e2e: 1% incremental / full', value: pct(m.incremental.ms / m.full.ms), target: '≤ 5%', met: m.incremental.ms / m.full.ms <= 0.05 }] : []),
    ...results.filter((x) => x.incrementalError).map((x) => ({ name: `e2e: 1% incremental @ ${x.n.toLocaleString()} completes`, value: 'failed', target: 'completes', met: false })),
  ];
  if (!process.env.BENCH_KEEP) fs.rmSync(opts.work, { recursive: true, force: true });
  return { scenario: 'e2e', metrics, report, targets, notes };
}
