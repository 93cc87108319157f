import { HttpClient, SluiceError, basicAuth, classifyStatus, type ConnectContext, type HttpResponse } from '@sluice/core';
import { windowBudget, type WindowBudgetGovernor } from '@sluice/core/http/window-budget';
import type { ShipStationConfig } from './config';

export const AUTH_FAILED = 'authentication failed: check the API key and secret in ShipStation → Settings → Account → API Settings';
export const NO_API_ACCESS = 'ShipStation denied access: your plan may not include API access';

export interface ShipStationClient {
  http: HttpClient;
  governor: WindowBudgetGovernor;
}

function bodyMessage(res: HttpResponse): string {
  const b = res.body as { message?: unknown; Message?: unknown; ModelState?: Record<string, unknown> } | undefined;
  const parts = [b?.message ?? b?.Message, b?.ModelState ? JSON.stringify(b.ModelState) : undefined].filter((p) => typeof p === 'string' && p);
  return (parts.length ? parts.join(' ') : res.text.replace(/\s+/g, ' ')).slice(0, 300);
}

/** ShipStation's failures as operator-grade errors; 5xx and the rest: core's default mapping (transient, retried). */
export const classify = classifyStatus({
  401: `${AUTH_FAILED} (HTTP 401)`,
  402: (res) => `${NO_API_ACCESS} (HTTP 402: ${bodyMessage(res)})`,
  403: (res) => `${NO_API_ACCESS} (HTTP 403: ${bodyMessage(res)})`,
  429: (res) => {
    const reset = Number(res.headers['x-rate-limit-reset']);
    // Wait what the vendor says; a reset of 0 (rounded down) still means "not yet": one second.
    const retryAfterMs = Number.isFinite(reset) ? Math.max(1, reset) * 1000 : 60_000;
    return new SluiceError('rate_limited', `ShipStation rate limit reached (${res.headers['x-rate-limit-limit'] ?? '40'} requests per window)`, { status: 429, retryAfterMs });
  },
  400: (res) => `ShipStation rejected the request ${new URL(res.url).pathname}: ${bodyMessage(res)}`,
  404: (res) => `ShipStation has no ${new URL(res.url).pathname} (HTTP 404): check baseUrl`,
});

/**
 * One client per source: Basic auth (API key as user, secret as password) and the key pair's rate
 * budget (40 requests a minute, read from the X-Rate-Limit-* headers) shared by every table.
 */
export function connect(config: ShipStationConfig, ctx?: ConnectContext): ShipStationClient {
  const governor = windowBudget({
    limit: 40,
    windowMs: 60_000,
    limitHeader: 'X-Rate-Limit-Limit',
    remainingHeader: 'X-Rate-Limit-Remaining',
    resetHeader: 'X-Rate-Limit-Reset',
    // Pages of 500 orders take seconds: a few in flight keep the budget busy; the governor counts them.
    maxConcurrent: 4,
    // With `redis:`, every worker spends this key pair's budget in one shared window.
    shared: ctx?.rates?.scope(`shipstation\n${config.baseUrl}\n${config.apiKey}`),
  });
  const http = new HttpClient({
    vendor: 'ShipStation',
    baseUrl: config.baseUrl,
    auth: basicAuth(config.apiKey, config.apiSecret),
    governor,
    classify,
    timeoutMs: 120_000,
    // A 429 storm (another application hammering the same key) ends in a clear failure after ~an hour.
    maxRateLimitWaits: 60,
  });
  return { http, governor };
}
