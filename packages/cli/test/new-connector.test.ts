import { execSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main';
import type { Io } from '../src/io';

/**
 * `sluice new connector demo_shop` in a throw-away copy of the repository (working tree, with node_modules
 * linked and the workspace links pointing into the copy), then the generated code's typecheck and its
 * conformance test, run by a separate vitest as a developer would. The real tree is never touched.
 */
const ROOT = path.resolve(import.meta.dirname, '../../..');

function copyRepo(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-new-'));
  // The working tree as the developer has it (tracked and new files, not ignored ones): HEAD alone can be
  // half of a change that is still being written.
  execSync(`git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -x -C ${JSON.stringify(dir)}`, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(nm);
  for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (entry === '@sluice') continue;
    fs.symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(nm, entry));
  }
  // Workspace links are relative (../../packages/core), so the same links resolve inside the copy.
  fs.mkdirSync(path.join(nm, '@sluice'));
  for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules/@sluice'))) {
    fs.symlinkSync(fs.readlinkSync(path.join(ROOT, 'node_modules/@sluice', entry)), path.join(nm, '@sluice', entry));
  }
  return dir;
}

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const sink = { write: (s: string) => ((stderr += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
  const io: Io = { out: (t) => void (stdout += `${t}\n`), info: (t) => void (stderr += `${t}\n`), error: (t) => void (stderr += `error: ${t}\n`), stderr: sink };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<{ code: number; out: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_ENV' && k !== 'TEST'));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out: out.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}

describe('sluice new connector', () => {
  let repo: string;
  beforeAll(() => {
    repo = copyRepo();
  });
  afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

  it('refuses a name that is not snake_case, and a tree that is not a Sluice repository', async () => {
    const bad = await cli('new', 'connector', 'Demo-Shop', '--root', repo);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('must be snake_case');
    const nowhere = await cli('new', 'connector', 'demo_shop', '--root', os.tmpdir());
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain('no Sluice repository');
    expect(fs.existsSync(path.join(repo, 'connectors/demo_shop'))).toBe(false);
  });

  it('writes the connector, its emulator, test, README and registry lines; refuses to write them twice', async () => {
    const r = await cli('new', 'connector', 'demo_shop', '--root', repo);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['connectors/demo_shop/package.json', 'connectors/demo_shop/src/index.ts', 'connectors/demo_shop/test/conformance.test.ts', 'connectors/demo_shop/README.md', 'packages/emulators/src/demo_shop/index.ts']) {
      expect(fs.existsSync(path.join(repo, f)), f).toBe(true);
      expect(r.stdout).toContain(f);
    }
    const registry = fs.readFileSync(path.join(repo, 'connectors/registry.ts'), 'utf8');
    expect(registry.match(/demo_shop/g)).toHaveLength(2); // key and import path, one line
    expect(registry).toContain(`  demo_shop: async () => (await import('./demo_shop/src/index')).default,\n};`);
    const emulators = fs.readFileSync(path.join(repo, 'packages/emulators/src/registry.ts'), 'utf8');
    expect(emulators).toContain(`  demo_shop: () => import('./demo_shop/index'),\n};`);
    // A REST connector is a handful of declarations: the generated one (and the demo it mirrors) stay small.
    for (const f of ['connectors/demo_shop/src/index.ts', 'connectors/demo/src/index.ts']) {
      const lines = fs.readFileSync(path.join(repo, f), 'utf8').trimEnd().split('\n').length;
      expect(lines, f).toBeLessThanOrEqual(60);
    }
    expect(fs.readFileSync(path.join(repo, 'connectors/demo_shop/src/index.ts'), 'utf8')).not.toMatch(/for \(;;\)|while \(|async \*read/);
    const again = await cli('new', 'connector', 'demo_shop', '--root', repo);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect(fs.readFileSync(path.join(repo, 'connectors/registry.ts'), 'utf8')).toBe(registry);
  });

  it('the generated code typechecks and passes its conformance test as generated', async () => {
    expect(fs.existsSync(path.join(repo, 'connectors/demo_shop/src/index.ts'))).toBe(true);
    fs.writeFileSync(
      path.join(repo, 'tsconfig.generated.json'),
      JSON.stringify({ extends: './tsconfig.json', include: ['connectors/demo_shop/**/*.ts', 'packages/emulators/src/demo_shop/**/*.ts'] }),
    );
    const tsc = await run(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.generated.json', '--noEmit'], repo, 240_000);
    const mine = tsc.out.split('\n').filter((l) => l.includes('demo_shop'));
    expect(mine).toEqual([]);
    const test = await run(process.execPath, [path.join(repo, 'node_modules/vitest/vitest.mjs'), 'run', 'connectors/demo_shop'], repo, 400_000);
    expect(test.code, test.out.slice(-4000)).toBe(0);
    expect(test.out).toContain('conformance: demo_shop');
    expect(test.out).toMatch(/Tests\s+11 passed \(11\)/);
  }, 600_000);
});
