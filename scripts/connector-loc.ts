/**
 * Lines of code per connector folder (`node --import tsx scripts/connector-loc.ts [--json]`): source vs
 * tests, and the emulator that goes with it. Code lines exclude blank lines and comment-only lines.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' ? [] : files(p);
    return /\.(ts|js|mjs)$/.test(d.name) ? [p] : [];
  });
}

/** Non-blank lines that are not only a comment. */
export function codeLines(text: string): number {
  let n = 0;
  let inBlock = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes('*/')) inBlock = false;
      continue;
    }
    if (!line || line.startsWith('//')) continue;
    if (line.startsWith('/*')) {
      if (!line.includes('*/')) inBlock = true;
      continue;
    }
    n++;
  }
  return n;
}

const count = (list: string[]) => ({ files: list.length, lines: list.reduce((s, f) => s + codeLines(fs.readFileSync(f, 'utf8')), 0) });

export function measure() {
  const names = fs.readdirSync(path.join(ROOT, 'connectors'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  return names.map((name) => {
    const dir = path.join(ROOT, 'connectors', name);
    const all = files(dir);
    const src = all.filter((f) => f.startsWith(path.join(dir, 'src') + path.sep));
    const test = all.filter((f) => f.startsWith(path.join(dir, 'test') + path.sep));
    const other = all.filter((f) => !src.includes(f) && !test.includes(f));
    return { connector: name, src: count(src), test: count(test), other: count(other), emulator: count(files(path.join(ROOT, 'packages/emulators/src', name))) };
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const rows = measure();
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else {
    const head = ['connector', 'src files', 'src lines', 'test files', 'test lines', 'other (bench…)', 'emulator lines'];
    const body = rows.map((r) => [r.connector, r.src.files, r.src.lines, r.test.files, r.test.lines, r.other.lines, r.emulator.lines].map(String));
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    for (const row of [head, ...body]) process.stdout.write(`${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`);
    process.stdout.write('code lines: not blank, not comment-only\n');
  }
}
