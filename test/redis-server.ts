import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from './free-port';

/**
 * A throwaway redis-server on a free 127.0.0.1 port, for the scale-out tests. Debian's redis-server is
 * installed by scripts/ensure-redis.sh when missing (and we are root); when it cannot be, `skip` says why.
 */
export type TestRedis = { url: string; port: number; stop(): Promise<void> };

const ROOT = path.resolve(import.meta.dirname, '..');

/** `port`: restart a stopped server where its clients expect it. */
export async function startRedis(port?: number): Promise<TestRedis | { skip: string }> {
  let bin: string;
  try {
    bin = execFileSync('bash', [path.join(ROOT, 'scripts/ensure-redis.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 170_000 }).trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { skip: `redis-server unavailable: ${(e.stderr || e.message).trim()}` };
  }
  port ??= await freePort();
  // No persistence, loopback only, in the foreground (killed by stop()).
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`redis-server exited (${code}): ${out}`));
    });
  });
  child.stdout!.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
