import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** node with the tsx loader, resolved absolutely (children may run in another working directory). */
export const TSX_NODE = [process.execPath, '--import', import.meta.resolve('tsx')] as const;

/** Children still running when the benchmark exits (normally or not) are killed, never left behind. */
const live = new Set<ChildProcess>();
export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Peak RSS (VmHWM) and CPU seconds of a live process, read from /proc. */
export function procStats(pid: number): { peakRssMb: number; rssMb: number; cpuS: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    return { peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024, cpuS: ticks / 100 };
  } catch {
    return undefined;
  }
}

/**
 * Polls a child process (and its descendants) so the figures survive its exit: peak RSS is the max
 * over the process tree's VmHWM (summed across live members at each poll), CPU the last value seen.
 */
export class ProcWatch {
  peakRssMb = 0;
  cpuS = 0;
  private timer: NodeJS.Timeout;
  constructor(readonly pid: number, everyMs = 200) {
    this.timer = setInterval(() => this.poll(), everyMs);
    this.timer.unref();
  }
  poll(): void {
    const pids = [this.pid, ...descendants(this.pid)];
    let hwm = 0;
    let cpu = 0;
    for (const p of pids) {
      const s = procStats(p);
      if (!s) continue;
      hwm += s.peakRssMb;
      cpu += s.cpuS;
    }
    if (hwm > this.peakRssMb) this.peakRssMb = hwm;
    if (cpu > this.cpuS) this.cpuS = cpu;
  }
  /** CPU seconds used since `mark()`. */
  private base = 0;
  mark(): void {
    this.poll();
    this.base = this.cpuS;
  }
  cpuSince(): number {
    this.poll();
    return this.cpuS - this.base;
  }
  stop(): void {
    this.poll();
    clearInterval(this.timer);
  }
}

function descendants(pid: number): number[] {
  let out: number[] = [];
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    for (const k of kids) out = out.concat(k, descendants(k));
  } catch {
    // gone
  }
  return out;
}

/** Runs a command to completion, watching its peak RSS and CPU; rejects on a non-zero exit. */
export async function runWatched(cmd: string, args: string[], opts: SpawnOptions & { label: string; quiet?: boolean } ): Promise<{ ms: number; peakRssMb: number; cpuS: number; stdout: string }> {
  const t0 = performance.now();
  const child = track(spawn(cmd, args, { cwd: ROOT, ...opts, stdio: ['ignore', 'pipe', 'pipe'] }));
  const watch = new ProcWatch(child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => {
    stderr += d;
    if (!opts.quiet && process.env.BENCH_VERBOSE) process.stderr.write(d);
  });
  const code = await exited(child);
  watch.stop();
  if (code !== 0) throw new Error(`${opts.label} exited with ${code}:\n${stderr.slice(-4000)}`);
  return { ms: performance.now() - t0, peakRssMb: watch.peakRssMb, cpuS: watch.cpuS, stdout };
}

export function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
  });
}

/** Last line of a child's stdout that parses as JSON (children report their measurements that way). */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n').reverse();
  for (const l of lines) {
    try {
      return JSON.parse(l) as T;
    } catch {
      // not JSON
    }
  }
  throw new Error(`no JSON result in output:\n${stdout.slice(-2000)}`);
}

export function dirBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  return n;
}

export const round = (x: number, digits = 0) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);
export const fmtInt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
export const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** A plain text table. */
export function table(head: string[], body: (string | number)[][]): string {
  const cells = [head, ...body.map((r) => r.map((c) => (typeof c === 'number' ? fmtInt(c) : c)))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]!) : String(c).padStart(w[i]!))).join('  ');
  return [line(cells[0]!), w.map((x) => '-'.repeat(x)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
