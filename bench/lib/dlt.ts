import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, say } from './measure';

export const DLT_VERSION = '1.31.0';
const VENV = path.join(ROOT, 'bench', '.venv');

/** A virtualenv with dlt[duckdb] from PyPI (bench/.venv, gitignored), created on first use. Returns its python. */
export async function ensureDlt(): Promise<string> {
  const python = path.join(VENV, 'bin', 'python');
  const ok = () => fs.existsSync(python) && spawnSync(python, ['-c', `import dlt, duckdb; assert dlt.__version__ == '${DLT_VERSION}'`], { stdio: 'ignore' }).status === 0;
  if (ok()) return python;
  const host = ['python3', 'python'].find((p) => spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0);
  if (!host) throw new Error('no python3 on PATH: cannot install dlt for the peer comparison');
  say(`installing dlt[duckdb]==${DLT_VERSION} into bench/.venv (once)`);
  for (const [cmd, args] of [
    [host, ['-m', 'venv', VENV]],
    [path.join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `dlt[duckdb]==${DLT_VERSION}`]],
  ] as const) {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${r.stderr?.slice(-1000)}`);
  }
  if (!ok()) throw new Error('dlt installed but cannot be imported');
  return python;
}
