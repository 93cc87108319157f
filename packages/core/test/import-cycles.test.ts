import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * packages/core has no import cycles, type-only imports included: a cycle means two modules that can
 * only be understood (and changed) together. Shared plain types live in small modules of their own
 * (types.ts, http/window-budget-types.ts).
 */
const SRC = path.resolve(import.meta.dirname, '../src');

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? modules(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
    const base = path.resolve(path.dirname(file), m[1]!);
    const target = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
    if (target) out.push(target);
  }
  return out;
}

function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const found: string[][] = [];
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'active');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'active') found.push([...stack.slice(stack.indexOf(g)), g].map((x) => path.relative(SRC, x)));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

describe('packages/core imports', () => {
  it('form no cycle, type-only imports included', () => {
    expect(cycles(modules(SRC))).toEqual([]);
  });

  it('the check finds a cycle when there is one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cycle-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport type A = B[];\n");
      fs.writeFileSync(path.join(dir, 'b.ts'), "import type { A } from './a';\nexport type B = { a: A };\n");
      expect(cycles(modules(dir)).map((c) => c.map((x) => path.basename(x)))).toEqual([['a.ts', 'b.ts', 'a.ts']]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
