import { HttpClient, SluiceError, type HttpResponse, type ProgressEvent } from '@sluice/core';
import { isHistorical, type CaptureEvent } from './export-events';

/**
 * PostHog's public capture API, with the project API key (write-only; it goes in the body as `api_key`,
 * never in a header or a URL). `/batch/` takes `{api_key, historical_migration, batch: [...]}` and answers
 * 200 once the events are accepted; 401 means the key is not a project's; 400 a malformed batch; 413 a
 * body over the limit; 5xx and 429 (with Retry-After) are retried by the HTTP toolkit.
 */
export interface CaptureOptions {
  host: string;
  projectApiKey: string;
  /** The export's name, for messages. */
  name: string;
  report?: (e: ProgressEvent) => void;
  retries?: number;
  minRetryDelayMs?: number;
}

const detailOf = (res: HttpResponse) => {
  const b = res.body as { detail?: unknown; message?: unknown } | undefined;
  const d = typeof b?.detail === 'string' ? b.detail : typeof b?.message === 'string' ? b.message : res.text.slice(0, 160).replace(/\s+/g, ' ');
  return d ? `: ${d}` : '';
};

export class CaptureClient {
  private readonly http: HttpClient;
  constructor(private readonly o: CaptureOptions) {
    this.http = new HttpClient({
      baseUrl: o.host,
      vendor: 'PostHog',
      retries: o.retries ?? 8,
      minRetryDelayMs: o.minRetryDelayMs ?? 500,
      maxRetryDelayMs: 30_000,
      timeoutMs: 60_000,
      classify: (res) => {
        if (res.status === 401)
          return new SluiceError(
            'auth',
            `PostHog refused the project API key of export "${o.name}" (HTTP 401${detailOf(res)}): set exports[].config.projectApiKey to the project API key (phc_…) shown under Project settings of the project to send to`,
            { status: 401 },
          );
        if (res.status === 413) return new SluiceError('invalid_request', `PostHog refused a batch as too large (HTTP 413): lower exports[].config.batchSize of "${o.name}"`, { status: 413 });
        if (res.status === 400) return new SluiceError('invalid_request', `PostHog refused a batch of export "${o.name}" (HTTP 400${detailOf(res)})`, { status: 400 });
        return undefined;
      },
    });
  }

  /** Sends one batch; resolves once PostHog accepted it (throws a SluiceError otherwise, after retries). */
  async send(events: CaptureEvent[], nowMs = Date.now()): Promise<void> {
    await this.http.post('/batch/', { api_key: this.o.projectApiKey, historical_migration: isHistorical(events, nowMs), batch: events }, { report: this.o.report });
  }

  /**
   * Verifies the key without capturing anything: the feature-flags endpoint authenticates the project key
   * the same way capture does and stores no event (PostHog's documented way to test a project key).
   */
  async verify(): Promise<{ ok: boolean; message: string }> {
    try {
      await this.http.post('/flags/?v=2', { api_key: this.o.projectApiKey, distinct_id: 'sluice-check' }, { report: this.o.report });
      return { ok: true, message: `PostHog accepted the project API key of export "${this.o.name}" (${new URL(this.o.host).host})` };
    } catch (err) {
      if (err instanceof SluiceError && !err.retryable) return { ok: false, message: err.message };
      throw err;
    }
  }

  requests(): number {
    return this.http.stats().requests;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
