import { SluiceError, type ErrorKind } from '../errors';
import { parseRetryAfter, type HttpRequest, type HttpResponse } from './client';

/** A connector's `classify`: a SluiceError for a failed answer, undefined to leave it to the HttpClient's default mapping. */
export type Classify = (res: HttpResponse, req: HttpRequest) => SluiceError | undefined;

/**
 * What a connector says about one status: the operator-grade message (a string, or a function of the
 * answer), or a whole SluiceError when the kind or the wait is not the status's own, or undefined to
 * fall through to `otherwise`.
 */
export type StatusRule = string | ((res: HttpResponse, req: HttpRequest) => string | SluiceError | undefined);

/** The kind a status means when a rule gives only the message. */
export function statusKind(status: number): ErrorKind {
  if (status === 401) return 'auth';
  if (status === 402 || status === 403 || status === 423) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status === 408 || status >= 500) return 'transient';
  if (status >= 400) return 'invalid_request';
  return 'bad_response';
}

/** Statuses whose errors carry the vendor's Retry-After. */
const waits = (status: number) => status === 429 || status === 408 || status >= 500;

/**
 * The 401/403/404/429 ladder every connector writes, as data: `{ 401: 'invalid API key …', 403: (res) => … }`.
 * A rule's message becomes a SluiceError of the status's kind (401 auth; 402, 403, 423 permission; 404
 * not_found; 429 rate_limited; 408 and 5xx transient, other 4xx invalid_request) with the status, and for
 * 429/408/5xx the Retry-After header's wait. `'5xx'` is the rule of every status from 500 up without its own.
 * Answers without a rule, or whose rule gives undefined, go to `otherwise` (vendor logic that is not
 * about one status: GraphQL errors in a 200, a query endpoint's 4xx), then to the HttpClient's default.
 */
export function classifyStatus(rules: Partial<Record<number | '5xx', StatusRule>>, otherwise?: Classify): Classify {
  return (res, req) => {
    const s = res.status;
    const rule = rules[s] ?? (s >= 500 ? rules['5xx'] : undefined);
    const said = typeof rule === 'function' ? rule(res, req) : rule;
    if (said instanceof SluiceError) return said;
    if (said !== undefined) return new SluiceError(statusKind(s), said, { status: s, retryAfterMs: waits(s) ? parseRetryAfter(res.headers['retry-after']) : undefined });
    return otherwise?.(res, req);
  };
}
