import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig, ConfigError } from '../../packages/cli/src/config';
import { record } from './report';

/**
 * Fuzzing the config loader: random mutations of a valid sluice.yaml (wrong types, unknown keys, huge
 * values, duplicate names, bad env references, path tricks). Every case ends in a ConfigError with
 * specific problems, or in a valid config: never a crash, never a partial result.
 */
const base = {
  warehouse: { path: './wh' },
  sources: [
    { name: 'shop', type: 'demo', schedule: { every: '1h' }, config: { token: '${FUZZ_TOKEN}', pageSize: 50 }, tables: { orders: { mode: 'incremental', cursor: 'updated_at' } } },
    { name: 'shop2', type: 'demo', config: { token: 'abc', baseUrl: 'http://127.0.0.1:9' } },
  ],
};

function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const WEIRD: unknown[] = [null, 0, -1, 1e308, 'x'.repeat(100_000), true, [], {}, ['a'], { nested: { deep: [1, 2] } }, '${NOT_SET_ANYWHERE}', '../../etc', 'a"; DROP TABLE x; --', 'DROP', '\u0000', '😀', '${', '$}{'];
const KEYS = ['name', 'type', 'config', 'tables', 'schedule', 'mode', 'cursor', 'path', 'warehouse', 'sources', 'temporal', 'address', 'every', 'cron', 'token', 'pageSize', 'bogus', '__proto__', 'constructor'];

function mutate(doc: any, r: () => number): any {
  const clone = structuredClone(doc);
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    // walk to a random node
    let parent: any = clone;
    let key: any = 'sources';
    for (let depth = 0; depth < 4; depth++) {
      const v: any = parent[key];
      if (v === null || typeof v !== 'object') break;
      const keys: (string | number)[] = Array.isArray(v) ? v.map((_: unknown, j: number) => j) : Object.keys(v);
      if (!keys.length || r() < 0.3) break;
      parent = v;
      key = keys[Math.floor(r() * keys.length)]!;
    }
    const op = r();
    if (op < 0.4) parent[key] = WEIRD[Math.floor(r() * WEIRD.length)];
    else if (op < 0.6 && typeof parent[key] === 'object' && parent[key] !== null && !Array.isArray(parent[key])) parent[key][KEYS[Math.floor(r() * KEYS.length)]!] = WEIRD[Math.floor(r() * WEIRD.length)];
    else if (op < 0.75 && Array.isArray(parent)) delete parent[key];
    else if (op < 0.85) clone.sources = [...(Array.isArray(clone.sources) ? clone.sources : []), structuredClone(base.sources[0])]; // duplicate name
    else if (op < 0.95) delete parent[key];
    else if (typeof parent[key] === 'string') parent[key] = parent[key].split('').reverse().join('');
  }
  return clone;
}

describe('config loader fuzz', () => {
  it('1000 random mutations: each is a clear ConfigError or a valid config', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-fuzz-'));
    const file = path.join(dir, 'sluice.yaml');
    const r = rng(1234);
    let invalid = 0;
    let valid = 0;
    for (let i = 0; i < 1000; i++) {
      const doc = mutate(base, r);
      let text = stringify(doc);
      if (r() < 0.1) text = text.slice(0, Math.floor(r() * text.length)); // truncated file
      fs.writeFileSync(file, text);
      try {
        const cfg = await loadConfig(file, { FUZZ_TOKEN: 'tok' });
        valid++;
        // a valid config never names a source that could escape the warehouse or inject SQL
        for (const s of cfg.sources) expect(s.name).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(new Set(cfg.sources.map((s) => s.name)).size).toBe(cfg.sources.length);
        expect(cfg.warehouse.root.startsWith('/')).toBe(true);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`mutation ${i} crashed the loader: ${(err as Error).stack}\n---\n${text.slice(0, 2000)}`);
        invalid++;
        expect(err.problems.length).toBeGreaterThan(0);
        for (const p of err.problems) {
          expect(p.length, p.slice(0, 300)).toBeLessThan(400); // specific, not a dump of a 100 kB value
          expect(p).not.toMatch(/\[object Object\]|undefined/);
        }
      }
    }
    record({ scenario: `config fuzz (1000 mutations: ${invalid} rejected clearly, ${valid} valid)`, outcome: 'exact', lost: 0, duplicated: 0 });
    expect(invalid).toBeGreaterThan(300);
    void parse;
  }, 120_000);
});
