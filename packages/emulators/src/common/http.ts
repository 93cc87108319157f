import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The small HTTP layer every emulator shares: routing on method + path pattern, JSON bodies, request
 * logging (so tests can count requests and assert headers), and fault injection (latency, error
 * statuses, HTML error pages, connection resets) configured at run time through `faults`.
 */
export interface EmulatorRequest {
  method: string;
  path: string;
  url: URL;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  params: Record<string, string>;
  rawBody: string;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  json: unknown;
  /** Parsed application/x-www-form-urlencoded body. */
  form: URLSearchParams;
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string | number>;
  /** Objects are sent as JSON; strings as they are (set content-type yourself). */
  body?: unknown;
}

export type Handler = (req: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;

export interface Fault {
  /** Which requests it applies to (default: every request, the token endpoint included). */
  match?: (req: EmulatorRequest) => boolean;
  /** How many matching requests it hits before it disarms itself (default: unlimited). */
  times?: number;
  kind:
    | { type: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
    | { type: 'html'; status: number }
    | { type: 'reset' }
    | { type: 'delay'; ms: number }
    | { type: 'truncate' }
    /** Answers with the body this route sent last time (a misbehaving cache or paginator). */
    | { type: 'repeat-previous' };
}

export interface RequestLogEntry {
  method: string;
  path: string;
  query: string;
  status: number;
  at: number;
  headers: http.IncomingHttpHeaders;
}

export interface EmulatorServer {
  url: string;
  port: number;
  requests: RequestLogEntry[];
  faults: Fault[];
  /** Extra latency added to every response, in ms. */
  latencyMs: number;
  close(): Promise<void>;
}

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  private routes: Route[] = [];
  on(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' +
        path.replace(/\/:([A-Za-z_]+)/g, (_m, key: string) => {
          keys.push(key);
          return '/([^/]+)';
        }) +
        '/?$',
    );
    this.routes.push({ method, pattern, keys, handler });
    return this;
  }
  get(path: string, handler: Handler): this {
    return this.on('GET', path, handler);
  }
  post(path: string, handler: Handler): this {
    return this.on('POST', path, handler);
  }
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? '')));
      return { handler: route.handler, params };
    }
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startServer(
  router: Router,
  options: { port?: number; host?: string; notFound?: (req: EmulatorRequest) => EmulatorResponse } = {},
): Promise<EmulatorServer> {
  const state: Omit<EmulatorServer, 'url' | 'port' | 'close'> = { requests: [], faults: [], latencyMs: 0 };
  const lastSent = new Map<string, EmulatorResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = rawBody ? JSON.parse(rawBody) : undefined;
        } catch {
          json = undefined;
        }
        const request: EmulatorRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          url,
          query: url.searchParams,
          headers: req.headers,
          params: {},
          rawBody,
          json,
          form: new URLSearchParams(String(req.headers['content-type'] ?? '').includes('form') ? rawBody : ''),
        };
        const log = (status: number) =>
          state.requests.push({ method: request.method, path: request.path, query: url.search, status, at: Date.now(), headers: req.headers });
        if (state.latencyMs > 0) await sleep(state.latencyMs);

        const fault = state.faults.find((f) => (f.times === undefined || f.times > 0) && (f.match ? f.match(request) : true));
        let truncate = false;
        if (fault) {
          if (fault.times !== undefined) fault.times--;
          const k = fault.kind;
          if (k.type === 'reset') {
            log(0);
            req.socket.destroy();
            return;
          }
          if (k.type === 'delay') await sleep(k.ms);
          if (k.type === 'status') {
            log(k.status);
            return send(res, { status: k.status, body: k.body ?? { message: `injected ${k.status}` }, headers: k.headers });
          }
          if (k.type === 'html') {
            log(k.status);
            return send(res, {
              status: k.status,
              headers: { 'content-type': 'text/html' },
              body: `<html><head><title>${k.status}</title></head><body><h1>${k.status} Bad Gateway</h1><p>upstream error</p></body></html>`,
            });
          }
          if (k.type === 'truncate') truncate = true;
          if (k.type === 'repeat-previous' && lastSent.has(request.path)) {
            log(200);
            return send(res, lastSent.get(request.path)!);
          }
        }

        const found = router.match(request.method, request.path);
        let response: EmulatorResponse;
        try {
          if (found) {
            request.params = found.params;
            response = await found.handler(request);
          } else {
            response = options.notFound?.(request) ?? { status: 404, body: { message: `no route ${request.method} ${request.path}` } };
          }
        } catch (err) {
          response = { status: 500, body: { message: `emulator error: ${(err as Error).message}` } };
        }
        log(response.status);
        if (response.status === 200) lastSent.set(request.path, response);
        send(res, response, truncate);
      })();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as EmulatorServer;
}

function send(res: http.ServerResponse, r: EmulatorResponse, truncate = false): void {
  const isString = typeof r.body === 'string' || Buffer.isBuffer(r.body);
  let payload = r.body === undefined ? '' : isString ? (r.body as string) : JSON.stringify(r.body);
  if (truncate) payload = payload.slice(0, Math.max(1, Math.floor(payload.length / 2)));
  const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type') && !isString && r.body !== undefined) {
    headers['content-type'] = 'application/json; charset=utf-8';
  }
  headers['content-length'] = Buffer.byteLength(payload);
  res.writeHead(r.status, headers);
  res.end(payload);
}

/** Parses an HTTP Basic Authorization header. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}
