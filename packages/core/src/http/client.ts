import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import pRetry from 'p-retry';
import { SluiceError } from '../errors';
import { redact } from '../redact';
import type { ProgressEvent } from '../types';
import type { Auth } from './auth';
import type { RateGovernor } from './governor';

export type QueryValue = string | number | boolean | undefined | null | readonly (string | number)[];

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path relative to the base URL, or an absolute URL (next-page links, bulk downloads). */
  path: string;
  query?: Record<string, QueryValue>;
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  report?: (e: ProgressEvent) => void;
  /** Planned cost for cost-based governors. */
  cost?: number;
  /** Skip auth headers (pre-signed download URLs). */
  anonymous?: boolean;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** Parsed JSON body; undefined if the body is empty or not JSON. */
  body: T;
  url: string;
}

export interface HttpClientOptions {
  baseUrl: string;
  auth?: Auth;
  headers?: Record<string, string>;
  governor?: RateGovernor;
  /** Per request: connect + headers + body. */
  timeoutMs?: number;
  /** Retries for transient failures (5xx, network, garbage bodies). Rate-limit waits do not consume them. */
  retries?: number;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Cap on consecutive rate-limit waits for one request, so a 429 storm ends in a clear failure. */
  maxRateLimitWaits?: number;
  /**
   * Vendor error mapping: turn a non-2xx (or a 2xx with an error body, like GraphQL's THROTTLED) into a
   * SluiceError with an operator-grade message. Return undefined to use the default status mapping.
   */
  classify?: (res: HttpResponse, req: HttpRequest) => SluiceError | undefined;
  /** A name for messages ("commercetools"). */
  vendor: string;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export { sleep };

export function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function defaultClassify(res: HttpResponse, vendor: string): SluiceError {
  const s = res.status;
  const detail = typeof res.body === 'object' && res.body !== null ? JSON.stringify(res.body).slice(0, 300) : res.text.slice(0, 120).replace(/\s+/g, ' ');
  const msg = `${vendor} answered HTTP ${s}: ${detail}`;
  if (s === 401) return new SluiceError('auth', msg, { status: s });
  if (s === 403) return new SluiceError('permission', msg, { status: s });
  if (s === 404) return new SluiceError('not_found', msg, { status: s });
  if (s === 429) return new SluiceError('rate_limited', msg, { status: s, retryAfterMs: parseRetryAfter(res.headers['retry-after']) });
  if (s >= 500 || s === 408) return new SluiceError('transient', msg, { status: s, retryAfterMs: parseRetryAfter(res.headers['retry-after']) });
  // Any other 4xx: the vendor refuses this request as it is; a connector's `classify` can say otherwise
  // for codes it knows to be transient (commercetools' 400 QueryTimedOut).
  if (s >= 400 && s < 500) return new SluiceError('invalid_request', msg, { status: s });
  return new SluiceError('bad_response', msg, { status: s });
}

/**
 * The HTTP toolkit every connector uses: undici with keep-alive, auth, a per-source rate governor,
 * and p-retry with exponential backoff + jitter for transient failures, honouring Retry-After.
 */
export class HttpClient {
  readonly options: HttpClientOptions;
  private readonly dispatcher: Dispatcher;
  private counters = { requests: 0, retries: 0, rateLimitWaits: 0, rateLimitWaitMs: 0 };

  constructor(options: HttpClientOptions) {
    this.options = options;
    this.dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 16, pipelining: 1 });
  }

  stats() {
    return { ...this.counters, ...(this.options.governor?.stats?.() ?? {}) };
  }

  async get<T = unknown>(path: string, query?: Record<string, QueryValue>, extra: Omit<HttpRequest, 'path' | 'query'> = {}): Promise<HttpResponse<T>> {
    return this.request<T>({ ...extra, method: 'GET', path, query });
  }

  async post<T = unknown>(path: string, json: unknown, extra: Omit<HttpRequest, 'path' | 'json'> = {}): Promise<HttpResponse<T>> {
    return this.request<T>({ ...extra, method: 'POST', path, json });
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const o = this.options;
    let rateWaits = 0;
    let authRetried = false;
    return pRetry(
      async () => {
        const attempt = () => this.once(req);
        const res = o.governor ? await o.governor.schedule(attempt, { report: req.report, cost: req.cost }) : await attempt();
        const failure = this.failureOf(res, req);
        if (failure) throw failure;
        return res as HttpResponse<T>;
      },
      {
        retries: o.retries ?? 6,
        factor: 2,
        minTimeout: o.minRetryDelayMs ?? 500,
        maxTimeout: o.maxRetryDelayMs ?? 30_000,
        randomize: true,
        signal: req.signal,
        shouldConsumeRetry: ({ error }) => !(error instanceof SluiceError && (error.kind === 'rate_limited' || (error.kind === 'auth' && !authRetried))),
        shouldRetry: ({ error }) => {
          if (!(error instanceof SluiceError)) return true;
          if (error.kind === 'auth' && !authRetried && o.auth?.invalidate?.()) {
            authRetried = true; // one renewal per request: an expired token, not a revoked key
            return true;
          }
          if (error.kind === 'rate_limited') return ++rateWaits <= (o.maxRateLimitWaits ?? 50);
          return error.retryable;
        },
        onFailedAttempt: async ({ error, attemptNumber }) => {
          if (!(error instanceof SluiceError)) return;
          if (error.kind === 'rate_limited') {
            const ms = error.retryAfterMs ?? Math.min(60_000, 1000 * 2 ** Math.min(rateWaits, 6));
            this.counters.rateLimitWaits++;
            this.counters.rateLimitWaitMs += ms;
            req.report?.({ type: 'wait', ms, reason: `rate limited, resuming in ${Math.ceil(ms / 1000)} s` });
            await sleep(ms, req.signal);
          } else if (error.retryable) {
            this.counters.retries++;
            req.report?.({ type: 'retry', attempt: attemptNumber, reason: error.message });
            if (error.retryAfterMs) await sleep(error.retryAfterMs, req.signal);
          }
        },
      },
    );
  }

  private failureOf(res: HttpResponse, req: HttpRequest): SluiceError | undefined {
    const custom = this.options.classify?.(res, req);
    if (custom) return custom;
    if (res.status >= 200 && res.status < 300) {
      const ct = res.headers['content-type'] ?? '';
      // An edge proxy may answer 200 with an HTML page, or cut the body short: retry, never store it.
      if (res.text.length > 0 && res.body === undefined && (ct.includes('json') || !ct.includes('text/plain') && !req.anonymous)) {
        return new SluiceError('transient', `${this.options.vendor} answered HTTP ${res.status} with a body that is not valid JSON (${res.text.slice(0, 80).replace(/\s+/g, ' ')}…)`);
      }
      return undefined;
    }
    return defaultClassify(res, this.options.vendor);
  }

  private url(req: HttpRequest): string {
    const u = /^https?:\/\//.test(req.path) ? new URL(req.path) : new URL(this.options.baseUrl.replace(/\/$/, '') + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) for (const item of v) u.searchParams.append(k, String(item));
      else u.searchParams.set(k, String(v));
    }
    return u.toString();
  }

  private async once(req: HttpRequest): Promise<HttpResponse> {
    const o = this.options;
    const url = this.url(req);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'sluice/0.1', ...o.headers, ...req.headers };
    if (o.auth && !req.anonymous) Object.assign(headers, await o.auth.headers(req.signal));
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    } else if (req.form) {
      body = new URLSearchParams(req.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    this.counters.requests++;
    const timeout = o.timeoutMs ?? 60_000;
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await undiciRequest(url, {
        method: req.method ?? 'GET',
        headers,
        body,
        signal: req.signal,
        dispatcher: this.dispatcher,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      text = await res.body.text();
    } catch (err) {
      if (req.signal?.aborted) throw err;
      throw new SluiceError('transient', redact(`${o.vendor} request ${req.method ?? 'GET'} ${new URL(url).pathname} failed: ${(err as Error).message}`), { cause: err });
    }
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    let parsed: unknown;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    const response: HttpResponse = { status: res.statusCode, headers: flat, text, body: parsed, url };
    o.governor?.observe?.(response);
    return response;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
