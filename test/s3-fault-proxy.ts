import http from 'node:http';
import type net from 'node:net';

/**
 * An HTTP proxy on 127.0.0.1 in front of the test S3 server that injects faults on demand, for the
 * reliability tests of DuckDB's httpfs: S3 answering 5xx (throttling, outages) and requests that hang
 * (timeouts). Point DuckDB's S3 ENDPOINT at `endpoint`. Requests are forwarded unchanged, Host header
 * included, so SigV4 signatures made for the proxy's address still verify at the server.
 */
export type ProxyRequest = { method: string; path: string };
/** `at`: when the request arrived (Date.now()), to see a client's retry backoff. */
export type ProxyOutcome = ProxyRequest & { at: number; outcome: 'forwarded' | 'failed' | 'stalled' | 'error'; status?: number };
export type FaultProxy = {
  /** '127.0.0.1:PORT', the form DuckDB's S3 ENDPOINT takes. */
  endpoint: string;
  port: number;
  /** The next `n` requests (that `when` accepts) are answered with `status` (default 503, S3's SlowDown) and not forwarded. */
  failNext(n: number, opts?: { status?: number; when?: (r: ProxyRequest) => boolean }): void;
  /** The next `n` requests (that `when` accepts) are held for `ms`, then forwarded if the client is still waiting. */
  stallNext(n: number, ms: number, opts?: { when?: (r: ProxyRequest) => boolean }): void;
  /** Counters since start (or reset()). */
  stats: { requests: number; forwarded: number; failed: number; stalled: number; errors: number };
  /** Every request seen, in order, with what was done with it. */
  log: ProxyOutcome[];
  /** Forgets pending faults, counters and the log. */
  reset(): void;
  close(): Promise<void>;
};

type Fault = { kind: 'fail'; status: number; when?: (r: ProxyRequest) => boolean } | { kind: 'stall'; ms: number; when?: (r: ProxyRequest) => boolean };

const S3_CODE: Record<number, string> = { 500: 'InternalError', 503: 'SlowDown', 429: 'SlowDown', 400: 'BadRequest', 403: 'AccessDenied', 404: 'NoSuchKey' };

/** `target`: the S3 server's '127.0.0.1:PORT'. */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const faults: Fault[] = [];
  const stats = { requests: 0, forwarded: 0, failed: 0, stalled: 0, errors: 0 };
  const log: ProxyOutcome[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<net.Socket>();

  /** Takes the first pending fault that applies to this request (faults are consumed one per request). */
  function takeFault(r: ProxyRequest): Fault | undefined {
    const i = faults.findIndex((f) => !f.when || f.when(r));
    return i < 0 ? undefined : faults.splice(i, 1)[0];
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse, entry: ProxyOutcome): void {
    const up = http.request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
      entry.status = upRes.statusCode;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', (err) => {
      entry.outcome = 'error';
      stats.errors++;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${err.message}`);
      else res.destroy();
    });
    // The client gave up (its timeout): stop the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  }

  const server = http.createServer((req, res) => {
    const at = Date.now();
    const r: ProxyRequest = { method: req.method ?? 'GET', path: req.url ?? '/' };
    stats.requests++;
    const fault = takeFault(r);
    if (fault?.kind === 'fail') {
      stats.failed++;
      log.push({ ...r, at, outcome: 'failed', status: fault.status });
      const code = S3_CODE[fault.status] ?? 'ServiceUnavailable';
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by s3-fault-proxy</Message><Resource>${r.path.replace(/[<&>]/g, '')}</Resource></Error>`;
      // Read (and drop) any upload body so the client sees the answer, not a reset connection.
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const entry: ProxyOutcome = { ...r, at, outcome: fault ? 'stalled' : 'forwarded' };
    log.push(entry);
    if (fault?.kind === 'stall') {
      stats.stalled++;
      req.pause();
      const t = setTimeout(() => {
        if (!res.destroyed && !req.destroyed) forward(req, res, entry);
      }, fault.ms);
      res.on('close', () => clearTimeout(t));
      return;
    }
    stats.forwarded++;
    forward(req, res, entry);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    endpoint: `127.0.0.1:${port}`,
    port,
    failNext(n, opts = {}) {
      for (let i = 0; i < n; i++) faults.push({ kind: 'fail', status: opts.status ?? 503, when: opts.when });
    },
    stallNext(n, ms, opts = {}) {
      for (let i = 0; i < n; i++) faults.push({ kind: 'stall', ms, when: opts.when });
    },
    stats,
    log,
    reset() {
      faults.length = 0;
      log.length = 0;
      for (const k of Object.keys(stats) as (keyof typeof stats)[]) stats[k] = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        faults.length = 0;
        for (const s of sockets) s.destroy(); // stalled requests would otherwise keep close() waiting
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
