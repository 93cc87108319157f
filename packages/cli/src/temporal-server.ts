import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { temporalDefaults } from './temporal.config';

/**
 * Finds or builds the Temporal CLI, whose `server start-dev` is the embedded Temporal server. Order:
 * TEMPORAL_CLI_PATH; `temporal` on PATH; a cached build under ~/.cache/sluice/; the SDK's download
 * (laptops with internet); `go install` of a pinned CLI release with the Go toolchain.
 */
export const CACHE_DIR = path.join(os.homedir(), '.cache', 'sluice');
const CACHED_BIN = path.join(CACHE_DIR, 'bin', process.platform === 'win32' ? 'temporal.exe' : 'temporal');

type Say = (msg: string) => void;

function works(bin: string): boolean {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /temporal version/i.test(r.stdout);
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function sdkDownload(say: Say): Promise<string | undefined> {
  if (process.env.SLUICE_NO_SDK_DOWNLOAD) return undefined;
  let testing: typeof import('@temporalio/testing');
  try {
    testing = await import('@temporalio/testing');
  } catch {
    return undefined;
  }
  const dir = path.join(CACHE_DIR, 'sdk-download');
  say('trying the Temporal SDK download of the CLI (needs internet access to temporal.download)…');
  try {
    const env = await Promise.race([
      testing.TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'cached-download', downloadDir: dir }, ui: false } }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 60_000).unref()),
    ]);
    await env.teardown();
  } catch (err) {
    say(`  SDK download unavailable (${(err as Error).message.split('\n')[0]})`);
  }
  const found = fs.existsSync(dir) ? findFile(dir, 'temporal') : undefined;
  return found && works(found) ? found : undefined;
}

function findFile(dir: string, prefix: string): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const f = findFile(p, prefix);
      if (f) return f;
    } else if (e.name.startsWith(prefix) && !e.name.endsWith('.tar.gz') && !e.name.endsWith('.zip')) return p;
  }
  return undefined;
}

function goInstall(say: Say): string | undefined {
  const go = onPath('go');
  if (!go) return undefined;
  const version = temporalDefaults.devServer.cliVersion;
  say(`building the Temporal CLI ${version} from Go modules (go install; takes a few minutes the first time)…`);
  fs.mkdirSync(path.dirname(CACHED_BIN), { recursive: true });
  const r = spawnSync(go, ['install', `github.com/temporalio/cli/cmd/temporal@${version}`], {
    env: { ...process.env, GOBIN: path.dirname(CACHED_BIN), GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) {
    say(`  go install failed (exit ${r.status})`);
    return undefined;
  }
  return works(CACHED_BIN) ? CACHED_BIN : undefined;
}

export async function findTemporalCli(say: Say = (m) => process.stderr.write(`${m}\n`)): Promise<string> {
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (works(explicit)) return explicit;
    throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not a working Temporal CLI (\`${explicit} --version\` failed)`);
  }
  const fromPath = onPath('temporal');
  if (fromPath && works(fromPath)) return fromPath;
  if (fs.existsSync(CACHED_BIN) && works(CACHED_BIN)) return CACHED_BIN;
  const downloaded = await sdkDownload(say);
  if (downloaded) {
    fs.mkdirSync(path.dirname(CACHED_BIN), { recursive: true });
    fs.copyFileSync(downloaded, CACHED_BIN);
    fs.chmodSync(CACHED_BIN, 0o755);
    return CACHED_BIN;
  }
  const built = goInstall(say);
  if (built) return built;
  throw new Error(
    'no Temporal CLI found: install it (https://docs.temporal.io/cli), set TEMPORAL_CLI_PATH, or install Go so Sluice can build it, then run `npm run setup`',
  );
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  /** Whether this process started the server (it may have been started by another sluice process). */
  startedHere: boolean;
  /**
   * This process is done with the server. The server is shared by every sluice process of the same
   * warehouse; the last one to release it stops it, whoever started it.
   */
  release(): Promise<void>;
  /** Stops the server now (tests). */
  stop(): Promise<void>;
}

interface ServerFile {
  pid: number;
  address: string;
  uiUrl?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Registered users of an embedded server: one file per live sluice process. */
function users(stateDir: string) {
  const dir = path.join(stateDir, 'users');
  fs.mkdirSync(dir, { recursive: true });
  return {
    add: () => fs.writeFileSync(path.join(dir, String(process.pid)), ''),
    remove: () => fs.rmSync(path.join(dir, String(process.pid)), { force: true }),
    /** Live users other than this process (entries of dead processes are removed). */
    others: () =>
      fs.readdirSync(dir).filter((f) => {
        const pid = Number(f);
        if (pid === process.pid) return false;
        if (Number.isInteger(pid) && alive(pid)) return true;
        fs.rmSync(path.join(dir, f), { force: true });
        return false;
      }),
  };
}

async function stopPid(pid: number, infoFile: string): Promise<void> {
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  fs.rmSync(infoFile, { force: true });
}

/** One process at a time decides whether to start the server (a lock file with its pid). */
async function withStartLock<T>(stateDir: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(stateDir, 'start.lock');
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const owner = Number(fs.readFileSync(lock, 'utf8') || 0);
      if (!alive(owner) || i > 1200) fs.rmSync(lock, { force: true });
      else await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * Starts `temporal server start-dev` with SQLite state in `stateDir`, the Web UI on, and the Sluice
 * search attributes registered. If a server for the same state directory is already running (another
 * `sluice sync` or `sluice dev` of this warehouse), it is shared; it runs in its own process group, so
 * Ctrl-C in one terminal does not take it away from the others.
 */
export async function startDevServer(opts: { stateDir: string; say?: Say; ui?: boolean; port?: number; uiPort?: number }): Promise<DevServer> {
  const say = opts.say ?? ((m) => process.stderr.write(`${m}\n`));
  const d = temporalDefaults.devServer;
  fs.mkdirSync(opts.stateDir, { recursive: true });
  const infoFile = path.join(opts.stateDir, 'server.json');
  const registry = users(opts.stateDir);
  return withStartLock(opts.stateDir, async () => {
    const handle = (info: ServerFile, startedHere: boolean): DevServer => {
      registry.add();
      return {
        address: info.address,
        uiUrl: info.uiUrl,
        namespace: temporalDefaults.namespace,
        startedHere,
        async release() {
          registry.remove();
          await withStartLock(opts.stateDir, async () => {
            if (registry.others().length === 0) await stopPid(info.pid, infoFile);
          });
        },
        async stop() {
          registry.remove();
          await stopPid(info.pid, infoFile);
        },
      };
    };
    if (fs.existsSync(infoFile)) {
      try {
        const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as ServerFile;
        const [host, port] = info.address.split(':');
        if (alive(info.pid) && (await portOpen(host!, Number(port)))) return handle(info, false);
      } catch {
        // stale file
      }
    }
    const cli = await findTemporalCli(say);
    const port = opts.port ?? (await freePort(d.ip));
    const ui = opts.ui ?? d.ui;
    const uiPort = ui ? (opts.uiPort ?? (await freePort(d.ip))) : undefined;
    const args = ['server', 'start-dev', '--ip', d.ip, '--port', String(port), '--db-filename', path.join(opts.stateDir, 'temporal.db'), '--log-level', d.logLevel, '--namespace', temporalDefaults.namespace];
    if (uiPort) args.push('--ui-port', String(uiPort));
    else args.push('--headless');
    for (const [k, v] of Object.entries(d.searchAttributes)) args.push('--search-attribute', `${k}=${v}`);
    const logFile = path.join(opts.stateDir, 'server.log');
    const out = fs.openSync(logFile, 'a');
    const child: ChildProcess = spawn(cli, args, { stdio: ['ignore', out, out], detached: true });
    child.unref();
    fs.closeSync(out);
    let exited: number | null = null;
    child.once('exit', (code) => (exited = code ?? -1));
    const address = `${d.ip}:${port}`;
    const deadline = Date.now() + 60_000;
    while (!(await portOpen(d.ip, port))) {
      if (exited !== null) throw new Error(`the Temporal dev server exited with code ${exited}; see ${logFile}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the Temporal dev server did not start within 60 s; see ${logFile}`);
      }
      await sleep(100);
    }
    const info: ServerFile = { pid: child.pid ?? -1, address, uiUrl: uiPort ? `http://${d.ip}:${uiPort}` : undefined };
    fs.writeFileSync(infoFile, JSON.stringify(info));
    return handle(info, true);
  });
}
