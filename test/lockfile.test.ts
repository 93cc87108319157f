import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm ci` installs exactly what package-lock.json holds. A lockfile written on one platform without
 * another platform's optional native packages (DuckDB bindings, swc, rollup, esbuild, turbo) makes
 * `npm ci` fail or install nothing native on a macOS or ARM laptop, so every optional dependency of
 * every locked package must be locked too.
 */
const root = path.resolve(import.meta.dirname, '..');
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; optionalDependencies?: Record<string, string> }>;
};

/** Where npm resolves `dep` required by the package at `from` (nested node_modules first, then up). */
function resolveLocked(from: string, dep: string): string | undefined {
  for (let dir = from; ; ) {
    const candidate = dir ? `${dir}/node_modules/${dep}` : `node_modules/${dep}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

describe('package-lock.json', () => {
  it('locks every platform’s optional native packages', () => {
    const missing: string[] = [];
    for (const [at, pkg] of Object.entries(lock.packages))
      for (const dep of Object.keys(pkg.optionalDependencies ?? {})) if (!resolveLocked(at, dep)) missing.push(`${at || '(root)'} → ${dep}`);
    expect(missing, 'run `npm install --package-lock-only` on a machine that reaches the npm registry').toEqual([]);
  });

  it('pins DuckDB exactly, with bindings of the same version for every platform', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const pinned = manifest.dependencies['@duckdb/node-api']!;
    // The DuckLake, sqlite, postgres and httpfs extensions are built for one DuckDB version: a range
    // would let npm move DuckDB past the extensions the setup can fetch.
    expect(pinned).toMatch(/^\d+\.\d+\.\d+-r\.\d+$/);
    const bindings = Object.entries(lock.packages).filter(([k]) => /node_modules\/@duckdb\/node-bindings(-|$)/.test(k));
    expect(bindings.length).toBeGreaterThanOrEqual(7);
    for (const [k, v] of bindings) expect(`${k}@${v.version}`).toBe(`${k}@${pinned}`);
  });
});
