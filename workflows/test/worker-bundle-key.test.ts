import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { workflowBundleKey, workflowSourceFiles } from '../src/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bundle-key-')));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('workflow bundle cache key', () => {
  it('follows the imports of the real workflow entry into other workspace packages', () => {
    const files = workflowSourceFiles().map((f) => path.relative(root, f));
    expect(files).toEqual(expect.arrayContaining(['workflows/src/workflows.ts', 'workflows/src/shared.ts', 'workflows/src/maintenance-workflow.ts', 'packages/core/src/errors.ts']));
    // Activities are imported for their types only: the bundler erases them, so they are not in the key.
    expect(files).not.toContain('workflows/src/activities.ts');
  });

  it('changes when a file imported by an imported file changes, not when a type-only import does', () => {
    const dir = tree({
      'src/workflows.ts': "import { a } from './a';\nimport type { C } from './c';\nexport { w } from \"./w.js\";\nexport const x: C = a;\n",
      'src/a.ts': "import {\n  b,\n} from '../lib/b';\nexport const a = b;\n",
      'lib/b.ts': 'export const b = 1;\n',
      'src/c.ts': 'export type C = number;\n',
      'src/w.ts': 'export const w = 2;\n',
    });
    const entry = path.join(dir, 'src/workflows.ts');
    expect(workflowSourceFiles(entry)).toEqual(['lib/b.ts', 'src/a.ts', 'src/w.ts', 'src/workflows.ts'].map((f) => path.join(dir, f)));
    const before = workflowBundleKey(entry);
    expect(workflowBundleKey(entry)).toBe(before);

    fs.writeFileSync(path.join(dir, 'src/c.ts'), 'export type C = string | number;\n');
    expect(workflowBundleKey(entry)).toBe(before);

    fs.writeFileSync(path.join(dir, 'lib/b.ts'), 'export const b = 2;\n');
    const afterB = workflowBundleKey(entry);
    expect(afterB).not.toBe(before);

    fs.writeFileSync(path.join(dir, 'src/w.ts'), 'export const w = 3;\n');
    expect(workflowBundleKey(entry)).not.toBe(afterB);
  });
});
