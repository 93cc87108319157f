import fs from 'node:fs';

/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per file, so the
 * benchmark can say what dominates without opening a profiler UI.
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  functions: { name: string; where: string; ms: number; pct: number }[];
  files: { file: string; ms: number; pct: number }[];
}

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, '')
    .replace(/.*\/work\/[^/]+\//, '')
    .replace(/^node:/, 'node:') || '(native)';

export function summariseProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  const fn = new Map<string, { name: string; where: string; ms: number }>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    total += ms;
    if (name === '(idle)') {
      idle += ms;
      continue;
    }
    const where = `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, ms: 0 };
    e.ms += ms;
    fn.set(key, e);
    const f = n.callFrame.url ? shortUrl(n.callFrame.url) : name.startsWith('(') ? name : '(native)';
    files.set(f, (files.get(f) ?? 0) + ms);
  }
  const busy = total - idle || 1;
  return {
    totalMs: Math.round(total),
    idleMs: Math.round(idle),
    functions: [...fn.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((e) => ({ ...e, ms: Math.round(e.ms), pct: Math.round((1000 * e.ms) / busy) / 10 })),
    files: [...files].sort((a, b) => b[1] - a[1]).slice(0, top).map(([file, ms]) => ({ file, ms: Math.round(ms), pct: Math.round((1000 * ms) / busy) / 10 })),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of process.argv.slice(2)) {
    const s = summariseProfile(f, 25);
    console.log(`${f}: ${s.totalMs} ms sampled, ${s.idleMs} ms idle`);
    for (const e of s.functions) console.log(`  ${String(e.pct).padStart(5)}%  ${String(e.ms).padStart(7)} ms  ${e.name}  ${e.where}`);
    console.log('  by file:');
    for (const e of s.files) console.log(`  ${String(e.pct).padStart(5)}%  ${String(e.ms).padStart(7)} ms  ${e.file}`);
  }
}
