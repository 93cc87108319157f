import { execFile, spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';

/**
 * A throwaway S3-compatible server (SeaweedFS `weed server`) on 127.0.0.1, for the DuckLake-on-S3 tests.
 * scripts/ensure-seaweedfs.sh finds or builds `weed` (minutes, once; cached); when it cannot, `skip` says
 * why. Each call gets its own data directory, ports, credentials and an empty bucket.
 */
export type TestS3 = {
  /** '127.0.0.1:PORT', the form DuckDB's S3 ENDPOINT takes (no scheme). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  region: string;
  /** Keys (without the bucket) under `prefix`, in S3's order. */
  listObjects(prefix?: string): Promise<string[]>;
  /** A SigV4-signed request to this server, for whatever a test needs beyond listing. */
  request(method: string, pathAndQuery: string, body?: Buffer | string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
};

const ROOT = path.resolve(import.meta.dirname, '..');
// Async: the first build of weed takes minutes, and the other server starts meanwhile.
const execFileAsync = promisify(execFile);

/** Milliseconds the first build of weed may take (module downloads + compile) on a slow, loaded machine. */
const BUILD_TIMEOUT_MS = 1_500_000;

export async function startS3(): Promise<TestS3 | { skip: string }> {
  let weed: string;
  try {
    weed = (await execFileAsync('bash', [path.join(ROOT, 'scripts/ensure-seaweedfs.sh')], { encoding: 'utf8', timeout: BUILD_TIMEOUT_MS })).stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { skip: `SeaweedFS unavailable: ${(e.stderr || e.message).trim()}` };
  }
  // A port picked free can be taken before weed binds it (parallel test files): then weed exits, and
  // another set of ports is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(weed);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function launch(weed: string): Promise<TestS3> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-s3-'));
  const accessKeyId = `SLUICE${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const region = 'us-east-1';
  const bucket = 'lake';
  fs.writeFileSync(
    path.join(dir, 'identities.json'),
    JSON.stringify({ identities: [{ name: 'sluice', credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }], actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'] }] }),
  );
  fs.mkdirSync(path.join(dir, 'data'));

  // Every listener gets its own free port: the defaults (9333, 8080, 8888, 8333, gRPC at +10000) would
  // collide between parallel test files, and a random port +10000 can exceed 65535.
  const ports = { master: 0, masterGrpc: 0, volume: 0, volumeGrpc: 0, filer: 0, filerGrpc: 0, s3: 0, s3Grpc: 0 };
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const args = [
    // Logs to our stderr (kept for error messages) instead of weed.* files in /tmp; toml config
    // (security.toml, filer.toml) only from our directory, never a developer's ~/.seaweedfs.
    '-logtostderr',
    `-config_dir=${dir}`,
    'server',
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    `-dir=${path.join(dir, 'data')}`,
    `-master.port=${ports.master}`,
    `-master.port.grpc=${ports.masterGrpc}`,
    `-volume.port=${ports.volume}`,
    `-volume.port.grpc=${ports.volumeGrpc}`,
    `-filer.port=${ports.filer}`,
    `-filer.port.grpc=${ports.filerGrpc}`,
    '-s3',
    `-s3.port=${ports.s3}`,
    `-s3.port.grpc=${ports.s3Grpc}`,
    `-s3.config=${path.join(dir, 'identities.json')}`,
    // The Iceberg and Lance catalogs listen on fixed ports by default (8181, 9101): off.
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    // Unix sockets default to /tmp/seaweedfs-*-<port>.sock: keep them with the rest of this server.
    `-filer.localSocket=${path.join(dir, 'filer.sock')}`,
    `-s3.localSocket=${path.join(dir, 's3.sock')}`,
    // Nothing leaves 127.0.0.1: the master would report usage to telemetry.seaweedfs.com.
    '-master.telemetry=false',
  ];
  // TMPDIR: whatever weed puts in the temp directory is removed with this server's directory.
  const child = spawn(weed, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  const endpoint = `127.0.0.1:${ports.s3}`;
  const request = (method: string, pathAndQuery: string, body?: Buffer | string) => s3Request({ endpoint, accessKeyId, secretAccessKey, region }, method, pathAndQuery, body);
  // weed always puts its gRPC unix sockets in /tmp (named by port), whatever TMPDIR says.
  const cleanUp = () => {
    for (const [svc, port] of [['master', ports.masterGrpc], ['volume', ports.volumeGrpc], ['filer', ports.filerGrpc], ['s3', ports.s3Grpc]] as const)
      fs.rmSync(`/tmp/seaweedfs-${svc}-grpc-${port}.sock`, { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // A test process that ends without stop() must not leave a server or its files behind.
  const onExit = () => (child.kill('SIGKILL'), cleanUp());
  process.once('exit', onExit);
  // SIGKILL, not SIGTERM: a graceful weed shutdown takes ~15-20 s (filer and master drain) and nothing
  // here must survive.
  const stop = async () => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    cleanUp();
  };

  try {
    // Ready means a real object round-trip works: the S3 gateway answering is not enough, the filer and
    // a writable volume must be up too, or the first write of a test fails with "no writable volumes".
    const deadline = Date.now() + 120_000;
    let last = '';
    const step = async (what: string, fn: () => Promise<{ status: number; body: string }>, ok: (s: number) => boolean) => {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`weed exited (${child.exitCode}) during startup: ${out.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`weed not ready after 120 s (${what}: ${last}): ${out.slice(-3000)}`);
        try {
          const r = await fn();
          if (ok(r.status)) return;
          last = `HTTP ${r.status} ${r.body.slice(0, 300)}`;
        } catch (err) {
          last = (err as Error).message;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await step('create bucket', () => request('PUT', `/${bucket}`), (s) => s === 200 || s === 409);
    await step('write probe', () => request('PUT', `/${bucket}/.probe`, 'ok'), (s) => s === 200);
    await step('delete probe', () => request('DELETE', `/${bucket}/.probe`), (s) => s === 204 || s === 200);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    bucket,
    region,
    request,
    listObjects: async (prefix = '') => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams({ 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) });
        const r = await request('GET', `/${bucket}?${q}`);
        if (r.status !== 200) throw new Error(`ListObjectsV2 ${bucket}/${prefix}: HTTP ${r.status} ${r.body.slice(0, 500)}`);
        for (const m of r.body.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(xmlText(m[1]!));
        token = /<IsTruncated>true<\/IsTruncated>/.test(r.body) ? xmlText(/<NextContinuationToken>([^<]*)</.exec(r.body)?.[1] ?? '') : undefined;
      } while (token);
      return keys;
    },
    stop,
  };
}

function xmlText(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-f]+);/gi, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' } as Record<string, string>)[e.toLowerCase()]!,
  );
}

/** RFC 3986 encoding, as SigV4's canonical request wants it (encodeURIComponent leaves !'()* alone). */
function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256 = (d: Buffer | string) => createHash('sha256').update(d).digest('hex');
const hmac = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();

/**
 * One AWS Signature V4 signed request (path-style). Written out here rather than pulling in an AWS SDK:
 * the tests need PUT bucket, PUT/DELETE object and ListObjectsV2, nothing more.
 */
export async function s3Request(
  c: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string },
  method: string,
  pathAndQuery: string,
  body: Buffer | string = '',
): Promise<{ status: number; body: string }> {
  const [rawPath, rawQuery = ''] = pathAndQuery.split('?', 2) as [string, string?];
  const canonicalPath = rawPath.split('/').map((seg) => enc(decodeURIComponent(seg))).join('/');
  const canonicalQuery = [...new URLSearchParams(rawQuery)]
    .map(([k, v]) => [enc(k), enc(v)])
    .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, ''); // 20260101T000000Z
  const day = now.slice(0, 8);
  const payloadHash = sha256(body);
  const headers: Record<string, string> = { host: c.endpoint, 'x-amz-content-sha256': payloadHash, 'x-amz-date': now };
  const signed = Object.keys(headers).sort();
  const canonical = [method, canonicalPath, canonicalQuery, signed.map((h) => `${h}:${headers[h]}\n`).join(''), signed.join(';'), payloadHash].join('\n');
  const scope = `${day}/${c.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', now, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${c.secretAccessKey}`, day), c.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...sent } = headers; // fetch sets Host itself (to the same value)
  const res = await fetch(`http://${c.endpoint}${canonicalPath}${canonicalQuery ? `?${canonicalQuery}` : ''}`, {
    method,
    headers: { ...sent, authorization: `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}` },
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: await res.text() };
}
