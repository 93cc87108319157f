import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';

/**
 * A throwaway PostgreSQL cluster on a free 127.0.0.1 port (the DuckLake catalog of the scale-out tests).
 * Debian's postgresql is installed by scripts/ensure-postgres.sh when missing (and we are root); when it
 * cannot be, `skip` says why. Each call gets its own data directory, database, user and password.
 */
export type TestPostgres = {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** postgres://user:password@127.0.0.1:port/database */
  url: string;
  stop(): Promise<void>;
};

const ROOT = path.resolve(import.meta.dirname, '..');
const execFileAsync = promisify(execFile);

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` system user (or `nobody`). */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
  const entry = passwd.find((f) => f[0] === 'postgres') ?? passwd.find((f) => f[0] === 'nobody');
  if (!entry) throw new Error('running as root and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

function run(bin: string, args: string[], account: { uid: number; gid: number } | undefined): void {
  execFileSync(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, ...account, env: { ...process.env, LC_ALL: 'C' } });
}

export async function startPostgres(): Promise<TestPostgres | { skip: string }> {
  let binDir: string;
  try {
    binDir = (await execFileAsync('bash', [path.join(ROOT, 'scripts/ensure-postgres.sh')], { encoding: 'utf8', timeout: 600_000 })).stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { skip: `PostgreSQL unavailable: ${(e.stderr || e.message).trim()}` };
  }
  const account = serverAccount();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pg-'));
  if (account) fs.chownSync(base, account.uid, account.gid);
  const data = path.join(base, 'data');
  const superuser = 'sluice_admin';
  try {
    // Local (unix socket) connections are trusted: only the owner of `base` can reach the socket.
    // TCP needs the password, as the warehouse's connections will.
    run(path.join(binDir, 'initdb'), ['-D', data, '-U', superuser, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync'], account);
  } catch (err) {
    fs.rmSync(base, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${e.stderr?.toString() || e.message}`);
  }

  // A port picked free can be taken before postgres binds it (parallel test files): try another.
  let child: ChildProcess | undefined;
  let port = 0;
  let lastErr: Error | undefined;
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    // Durability is irrelevant for a throwaway catalog; skipping fsync keeps a loaded machine fast.
    const args = ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', base, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
    const c = spawn(path.join(binDir, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...account, env: { ...process.env, LC_ALL: 'C' } });
    try {
      await ready(c);
      child = c;
    } catch (err) {
      lastErr = err as Error;
      c.kill('SIGKILL');
    }
  }
  if (!child) {
    fs.rmSync(base, { recursive: true, force: true });
    throw lastErr ?? new Error('postgres did not start');
  }
  const server = child;
  // A test process that ends without stop() must not leave a postgres or its files behind.
  const onExit = () => (server.kill('SIGKILL'), fs.rmSync(base, { recursive: true, force: true }));
  process.once('exit', onExit);

  const user = 'sluice';
  const password = randomBytes(12).toString('hex');
  const database = 'lake';
  run(path.join(binDir, 'psql'), ['-h', base, '-p', String(port), '-U', superuser, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE ROLE ${user} LOGIN PASSWORD '${password}'`, '-c', `CREATE DATABASE ${database} OWNER ${user}`], account);

  return {
    host: '127.0.0.1',
    port,
    database,
    user,
    password,
    url: `postgres://${user}:${password}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      process.off('exit', onExit);
      if (server.exitCode === null && server.signalCode === null) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => server.kill('SIGKILL'), 20_000);
          server.once('exit', () => (clearTimeout(t), resolve()));
          server.kill('SIGINT'); // "fast" shutdown: disconnect clients, no checkpoint wait on our side
        });
      }
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`postgres did not start within 60 s: ${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes('database system is ready to accept connections')) {
        clearTimeout(t);
        child.removeListener('exit', onExit);
        // Keep draining the pipes so a chatty server never blocks on a full pipe.
        child.stdout!.resume();
        child.stderr!.resume();
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(t);
      reject(new Error(`postgres exited (${code}): ${out}`));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}
