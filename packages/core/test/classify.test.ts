import { describe, expect, it } from 'vitest';
import { SluiceError, classifyStatus, statusKind, type HttpRequest, type HttpResponse } from '@sluice/core';

const res = (status: number, headers: Record<string, string> = {}, body: unknown = {}): HttpResponse =>
  ({ status, headers, body, text: JSON.stringify(body), url: 'http://127.0.0.1/x' }) as HttpResponse;
const req = { method: 'GET', path: '/x' } as HttpRequest;

describe('classifyStatus', () => {
  const classify = classifyStatus(
    {
      401: 'invalid API key',
      403: (r) => `missing scope ${(r.body as { scope?: string }).scope}`,
      404: () => undefined,
      429: 'slow down',
      400: () => new SluiceError('bad_response', 'custom kind'),
      '5xx': 'vendor down',
      503: 'maintenance',
    },
    (r) => (r.status === 200 && (r.body as { errors?: unknown }).errors ? new SluiceError('transient', 'errors in a 200') : undefined),
  );

  it('gives each ruled status its kind, message and status', () => {
    const e401 = classify(res(401), req)!;
    expect([e401.kind, e401.message, e401.status, e401.retryAfterMs]).toEqual(['auth', 'invalid API key', 401, undefined]);
    const e403 = classify(res(403, {}, { scope: 'read_orders' }), req)!;
    expect([e403.kind, e403.message]).toEqual(['permission', 'missing scope read_orders']);
  });

  it('carries Retry-After on 429 and 5xx only', () => {
    expect(classify(res(429, { 'retry-after': '7' }), req)).toMatchObject({ kind: 'rate_limited', message: 'slow down', retryAfterMs: 7000 });
    expect(classify(res(502, { 'retry-after': '2' }), req)).toMatchObject({ kind: 'transient', message: 'vendor down', retryAfterMs: 2000, status: 502 });
    expect(classify(res(503), req)).toMatchObject({ kind: 'transient', message: 'maintenance', retryAfterMs: undefined });
    expect(classify(res(401, { 'retry-after': '9' }), req)!.retryAfterMs).toBeUndefined();
  });

  it('returns a rule’s own SluiceError as is', () => {
    expect(classify(res(400), req)).toMatchObject({ kind: 'bad_response', message: 'custom kind' });
  });

  it('falls through to otherwise, then to undefined', () => {
    expect(classify(res(404), req)).toBeUndefined();
    expect(classify(res(200, {}, { errors: [1] }), req)).toMatchObject({ kind: 'transient', message: 'errors in a 200' });
    expect(classify(res(200), req)).toBeUndefined();
    expect(classify(res(418), req)).toBeUndefined();
  });

  it('maps statuses to kinds', () => {
    expect([401, 402, 403, 404, 408, 422, 423, 429, 500, 512].map(statusKind)).toEqual([
      'auth',
      'permission',
      'permission',
      'not_found',
      'transient',
      'invalid_request',
      'permission',
      'rate_limited',
      'transient',
      'transient',
    ]);
  });
});
