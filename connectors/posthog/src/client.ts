import { createHash } from 'node:crypto';
import { HttpClient, SluiceError, bearerAuth, classifyStatus, parseRetryAfter, type DataRecord, type HttpRequest, type HttpResponse, type ProgressEvent, type ScanPage, type SharedRates } from '@sluice/core';
import { slidingWindowBudget, type SlidingWindowGovernor } from '@sluice/core/http/sliding-window';
import { INVALID_KEY_HINT, PROJECT_NOT_FOUND_HINT, type PostHogConfig } from './config';

/** PostHog answers a query that would run too long with 512 (estimated execution time) or 504 (gateway): split the window. */
export class QueryTooLargeError extends SluiceError {
  constructor(message: string, status: number) {
    super('transient', message, { status });
  }
  /** Not retried as is by the HTTP client: the caller narrows the query instead. */
  override get retryable(): boolean {
    return false;
  }
}

/** A 4xx the query API gives for a query it refuses: retrying the same text cannot help. */
class RefusedQueryError extends SluiceError {
  override get retryable(): boolean {
    return false;
  }
}

/** "Request was throttled. Expected available in 12 seconds." → 12 000 ms. */
export function throttleWaitMs(res: { status: number; headers: Record<string, string>; body: unknown }): number | undefined {
  if (res.status !== 429) return undefined;
  const detail = (res.body as { detail?: unknown } | undefined)?.detail;
  const m = typeof detail === 'string' ? /available in (\d+(?:\.\d+)?) seconds?/i.exec(detail) : null;
  if (m) return Math.ceil(Number(m[1]) * 1000);
  return parseRetryAfter(res.headers['retry-after']);
}

/** PostHog's own words about a failure (the body's `detail`, or the start of the page). */
function detailOf(res: HttpResponse): string {
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as { detail?: unknown };
  return typeof body.detail === 'string' ? body.detail : res.text.slice(0, 160).replace(/\s+/g, ' ');
}

const saidOf = (res: HttpResponse) => {
  const detail = detailOf(res);
  return detail ? ` PostHog said: ${detail}` : '';
};

export function classify(config: Pick<PostHogConfig, 'projectId' | 'host'>) {
  return classifyStatus(
    {
      401: (res) => `Invalid API key (${INVALID_KEY_HINT}).${saidOf(res)}`,
      403: (res) => {
        const detail = detailOf(res);
        const said = saidOf(res);
        const scope = /scope '([^']+)'/.exec(detail)?.[1];
        if (scope) return `The personal API key lacks the ${scope} scope: edit the key in PostHog → Settings → Personal API keys and grant ${scope}.${said}`;
        if (/project|team|organization/i.test(detail))
          return `The personal API key has no access to project ${config.projectId}: scope the key to this project (or to all projects) in PostHog → Settings → Personal API keys.${said}`;
        return `PostHog refused access (HTTP 403); the key needs query:read and project:read for project ${config.projectId}.${said}`;
      },
      404: `Project not found (${PROJECT_NOT_FOUND_HINT}): no project ${config.projectId} at ${config.host} for this key.`,
      429: (res) => new SluiceError('rate_limited', `PostHog throttled the request.${saidOf(res)}`, { status: res.status, retryAfterMs: throttleWaitMs(res) }),
    },
    (res: HttpResponse, req: HttpRequest): SluiceError | undefined => {
      const s = res.status;
      if (s < 400) return undefined;
      const detail = detailOf(res);
      const said = saidOf(res);
      const isQuery = req.path.includes('/query');
      if (isQuery && (s === 504 || s === 512 || /execution time|timeout|too long|TOO_MANY_ROWS|memory limit/i.test(detail) && s >= 500))
        return new QueryTooLargeError(`PostHog could not finish the query in time (HTTP ${s}); narrowing its time window.${said}`, s);
      if (isQuery && s >= 400 && s < 500) return new RefusedQueryError('invalid_request', `PostHog refused the HogQL query (HTTP ${s}).${said}`, { status: s });
      return undefined; // default mapping: 5xx transient (retried), others bad_response
    },
  );
}

export interface HogQLResult {
  columns: string[];
  rows: Record<string, unknown>[];
  hasMore: boolean | undefined;
  /** LIMIT PostHog applied, when it says so. */
  limit: number | undefined;
}

export interface PostHogClient {
  http: HttpClient;
  projectId: number;
  budget: SlidingWindowGovernor;
  /**
   * Runs one HogQL query. A query PostHog cannot finish in time throws QueryTooLargeError only when the caller
   * can narrow it (`splittable`); otherwise it is a plain transient error, which Temporal retries later.
   */
  hogql(query: string, opts?: { signal?: AbortSignal; report?: (e: ProgressEvent) => void; splittable?: boolean }): Promise<HogQLResult>;
}

/** One budget per PostHog key and host in a worker, shared by every source that uses the key. */
const budgets = new Map<string, SlidingWindowGovernor>();

export function budgetFor(config: Pick<PostHogConfig, 'host' | 'personalApiKey' | 'queriesPerHour'>, rates?: SharedRates): SlidingWindowGovernor {
  const account = `${config.host}\n${config.personalApiKey}\n${config.queriesPerHour}`;
  const id = createHash('sha256').update(account).digest('hex') + (rates ? ':shared' : '');
  let b = budgets.get(id);
  if (!b) {
    b = slidingWindowBudget({
      limit: config.queriesPerHour,
      windowMs: 3600_000,
      maxConcurrent: 2,
      // A 429 on the query endpoint holds every query; REST endpoints (cohorts) have limits of their own.
      blockFor: (res) => ((res as { url?: string }).url?.includes('/query') === false ? undefined : throttleWaitMs(res)),
      label: `PostHog query budget (${config.queriesPerHour}/hour)`,
      // With `redis:`, every worker spends the key's queries in one window.
      shared: rates?.scope(`posthog\n${account}`),
    });
    budgets.set(id, b);
  }
  return b;
}

export function createClient(config: PostHogConfig, opts: { budget?: SlidingWindowGovernor; retries?: number; minRetryDelayMs?: number; rates?: SharedRates } = {}): PostHogClient {
  const budget = opts.budget ?? budgetFor(config, opts.rates);
  const http = new HttpClient({
    vendor: 'PostHog',
    baseUrl: config.host,
    auth: bearerAuth(config.personalApiKey),
    governor: budget,
    classify: classify(config),
    timeoutMs: 180_000, // HogQL queries may run for a while before answering
    retries: opts.retries,
    minRetryDelayMs: opts.minRetryDelayMs,
    maxRateLimitWaits: 20,
  });
  return {
    http,
    projectId: config.projectId,
    budget,
    async hogql(query, o = {}) {
      let res;
      try {
        res = await http.request<{ columns?: string[]; results?: unknown[][]; hasMore?: boolean; limit?: number }>({
          method: 'POST',
          path: `/api/projects/${config.projectId}/query/`,
          json: { query: { kind: 'HogQLQuery', query } },
          cost: 1,
          signal: o.signal,
          report: o.report,
        });
      } catch (e) {
        if (e instanceof QueryTooLargeError && !o.splittable)
          throw new SluiceError('transient', `${e.message.replace('; narrowing its time window', '')} If this persists, lower pageSize.`, { status: e.status });
        throw e;
      }
      const b = res.body;
      if (!b || !Array.isArray(b.results) || !Array.isArray(b.columns))
        throw new SluiceError('bad_response', `PostHog's query API answered without results/columns (${res.text.slice(0, 120)})`);
      const columns = b.columns;
      const rows = b.results.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
      return { columns, rows, hasMore: typeof b.hasMore === 'boolean' ? b.hasMore : undefined, limit: typeof b.limit === 'number' ? b.limit : undefined };
    },
  };
}

/** Row caps PostHog versions apply silently (DEFAULT_RETURNED_ROWS, old and new MAX_SELECT_RETURNED_ROWS). */
const KNOWN_CAPS = new Set([100, 10_000, 50_000]);

/**
 * Whether another page may follow: PostHog's `hasMore`, or a page as long as the LIMIT asked for (or as the
 * LIMIT PostHog says it applied), or exactly one of the caps some PostHog versions apply without saying so.
 * A wrong "maybe" costs one query; a wrong "no" would lose data.
 */
export function mayHaveMore(result: Pick<HogQLResult, 'hasMore' | 'limit' | 'rows'>, pageSize: number): boolean {
  const n = result.rows.length;
  if (n === 0) return false;
  if (result.hasMore === true) return true;
  return n >= Math.min(pageSize, result.limit ?? pageSize) || KNOWN_CAPS.has(n);
}

// ---------- values ----------

/**
 * HogQL renders DateTimes in the project's timezone like Python's isoformat (`…T10:30:00.123456-07:00`, the
 * fraction omitted when zero). Canonical form here: UTC with exactly six fractional digits and `Z`, which keeps
 * ClickHouse's microseconds for the keyset and sorts as text.
 */
export function toUtcMicros(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  const text = String(value).trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text);
  if (!m) {
    const ms = Date.parse(text);
    if (!Number.isFinite(ms)) throw new SluiceError('bad_response', `PostHog returned a timestamp that is not ISO 8601: ${text.slice(0, 40)}`);
    return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }
  const [, y, mo, d, h, mi, s, frac = '', tz] = m;
  let offsetMin = 0;
  if (tz && tz.toUpperCase() !== 'Z') {
    const digits = tz.slice(1).replace(':', '');
    offsetMin = (tz[0] === '-' ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - offsetMin * 60_000;
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac.padEnd(6, '0').slice(0, 6)}Z`;
}

/** HogQL returns JSON columns (properties) as strings. */
export function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** A string literal for HogQL. */
export const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * ClickHouse orders UUID values by their second 64-bit half, then the first, not as text
 * (ClickHouse/ClickHouse#51063): the order of `ORDER BY uuid` and of `uuid > toUUID(…)` in HogQL. As a
 * string that sorts in that order, for core's order guard: the second half's hex digits, then the first.
 */
export function uuidOrder(uuid: unknown): string {
  const hex = String(uuid).toLowerCase().replace(/-/g, '');
  return hex.slice(16) + hex.slice(0, 16);
}

/**
 * One page of a HogQL key-set scan, for core's engine: the query run, its rows mapped, and PostHog's
 * "may have more" rule. `splittable`: a timeout is QueryTooLargeError, for the engine to narrow the window.
 */
export async function hogqlPage(
  ctx: { client: PostHogClient; signal?: AbortSignal; report?: (e: ProgressEvent) => void },
  page: { query: string; size: number; map: (row: Record<string, unknown>) => DataRecord; splittable?: boolean },
): Promise<ScanPage> {
  const res = await ctx.client.hogql(page.query, { signal: ctx.signal, report: ctx.report, ...(page.splittable ? { splittable: true } : {}) });
  return { records: res.rows.map(page.map), more: mayHaveMore(res, page.size) };
}
