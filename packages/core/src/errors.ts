/**
 * The error taxonomy every connector maps vendor failures onto. The kind decides retry behaviour:
 * Temporal must not retry a bad key or a missing scope (it would just fail again, slowly), and must
 * retry a 503. Messages are written for the operator: what happened and what to do.
 */
export type ErrorKind =
  | 'auth' // credentials rejected
  | 'permission' // credentials fine, access to this resource denied (scope, plan)
  | 'not_found' // project / shop / endpoint does not exist
  | 'rate_limited' // vendor asked us to slow down
  | 'transient' // 5xx, network errors, timeouts, garbage from an edge proxy
  | 'bad_response' // the vendor answered something we cannot interpret (after retries)
  | 'invalid_request' // the vendor refused our request as malformed (400/422): retrying cannot help
  | 'inconsistent' // the vendor's answers break what the read relies on (records out of the requested order): retrying reads the same
  | 'config' // the operator's configuration is wrong
  | 'schema_contract'; // the vendor's records break the table's schema contract (schema: freeze): retrying reads the same

const NON_RETRYABLE: ReadonlySet<ErrorKind> = new Set(['auth', 'permission', 'not_found', 'invalid_request', 'inconsistent', 'config', 'schema_contract']);

export class SluiceError extends Error {
  readonly kind: ErrorKind;
  /** Milliseconds the vendor asked us to wait (Retry-After, X-Rate-Limit-Reset, throttle detail). */
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  constructor(kind: ErrorKind, message: string, opts: { retryAfterMs?: number; status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = `SluiceError`;
    this.kind = kind;
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
  }
  get retryable(): boolean {
    return !NON_RETRYABLE.has(this.kind);
  }
}

export const isSluiceError = (e: unknown): e is SluiceError => e instanceof SluiceError;

/** Temporal failure type names, one per kind, so retry policies can list the non-retryable ones. */
export const failureType = (kind: ErrorKind) => `Sluice.${kind}`;
export const NON_RETRYABLE_FAILURE_TYPES = [...NON_RETRYABLE].map(failureType);

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
