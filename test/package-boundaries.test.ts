import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every workspace package reaches another only by its name (`@sluice/core`, `@sluice/connectors/registry`),
 * never by a relative path out of its own folder: a package's dependencies are then what its imports say,
 * and moving a package breaks nothing silently. (The connectors registry package holds the connector
 * folders, so its lazy imports of `./demo/src/index` stay inside it.)
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const packageDirs = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces.flatMap((w) =>
  w.endsWith('/*')
    ? fs.readdirSync(path.join(ROOT, w.slice(0, -2)), { withFileTypes: true }).filter((e) => e.isDirectory() && fs.existsSync(path.join(ROOT, w.slice(0, -2), e.name, 'package.json'))).map((e) => path.join(ROOT, w.slice(0, -2), e.name))
    : [path.join(ROOT, w)],
);

/** The package a file belongs to: the nearest workspace folder above it. */
const owner = (file: string): string | undefined =>
  packageDirs.filter((d) => file.startsWith(d + path.sep)).sort((a, b) => b.length - a.length)[0];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === 'test' || e.name.startsWith('.')) return [];
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

export function escapes(files: string[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    const home = owner(file);
    if (!home) continue;
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), m[1]!);
      if (!target.startsWith(home + path.sep)) out.push(`${path.relative(ROOT, file)} imports ${m[1]} (outside ${path.relative(ROOT, home)}/)`);
    }
  }
  return out;
}

describe('workspace packages', () => {
  it('import each other by name, never by a relative path out of their own folder', () => {
    const files = packageDirs.flatMap((d) => sources(d));
    expect(files.length).toBeGreaterThan(100);
    expect(escapes(files)).toEqual([]);
  });

  it('the check finds a relative import across packages', () => {
    const cli = packageDirs.find((d) => d.endsWith(path.join('packages', 'cli')))!;
    const probe = path.join(cli, 'src', `.probe-${process.pid}.ts`);
    fs.writeFileSync(probe, "import { CONNECTORS } from '../../../connectors/registry';\nexport default CONNECTORS;\n");
    try {
      expect(escapes([probe])).toEqual([`packages/cli/src/.probe-${process.pid}.ts imports ../../../connectors/registry (outside packages/cli/)`]);
    } finally {
      fs.rmSync(probe, { force: true });
    }
  });
});
