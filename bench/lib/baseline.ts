/**
 * Another revision of Sluice, beside this one, for benchmarks that compare engines in one run
 * (`--baseline REV`, e.g. the last commit before DuckLake). A git worktree of REV under the bench's work
 * directory, with a node_modules of its own: every package of this checkout's node_modules, except the
 * workspace packages (@sluice/*), which point at the worktree's own folders.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, say } from './measure';

export function baselineCheckout(rev: string, work: string): { root: string; remove(): void } {
  const root = path.join(work, `baseline-${rev.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  fs.rmSync(root, { recursive: true, force: true });
  execFileSync('git', ['worktree', 'prune'], { cwd: ROOT });
  execFileSync('git', ['worktree', 'add', '--detach', root, rev], { cwd: ROOT, stdio: 'ignore' });
  say(`baseline: ${rev} (${execFileSync('git', ['log', '-1', '--format=%h %s', rev], { cwd: ROOT, encoding: 'utf8' }).trim().slice(0, 90)})`);
  const modules = path.join(root, 'node_modules');
  fs.mkdirSync(modules);
  for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (entry === '@sluice') continue;
    fs.symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
  }
  fs.mkdirSync(path.join(modules, '@sluice'));
  for (const pkg of fs.readdirSync(path.join(ROOT, 'node_modules', '@sluice'))) {
    const target = fs.realpathSync(path.join(ROOT, 'node_modules', '@sluice', pkg));
    const rel = path.relative(ROOT, target);
    if (fs.existsSync(path.join(root, rel))) fs.symlinkSync(path.join(root, rel), path.join(modules, '@sluice', pkg));
  }
  return {
    root,
    remove() {
      fs.rmSync(root, { recursive: true, force: true });
      execFileSync('git', ['worktree', 'prune'], { cwd: ROOT });
    },
  };
}
