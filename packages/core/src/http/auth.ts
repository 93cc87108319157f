import { registerSecret } from '../redact';
import { SluiceError } from '../errors';
import { request } from 'undici';

/**
 * Auth kinds, implemented once here; connectors pick one and supply values. Every secret is registered
 * for redaction the moment an auth object is built.
 */
export interface Auth {
  /** Headers to add to a request (may fetch or renew a token). */
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /** Called on a 401: returns true when retrying once with fresh credentials can help (expired token). */
  invalidate?(): boolean;
}

export function basicAuth(user: string, password: string): Auth {
  registerSecret(user);
  registerSecret(password);
  const value = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  registerSecret(value.slice(6));
  return { headers: async () => ({ authorization: value }) };
}

export function bearerAuth(token: string): Auth {
  registerSecret(token);
  return { headers: async () => ({ authorization: `Bearer ${token}` }) };
}

export function apiKeyHeaderAuth(header: string, key: string): Auth {
  registerSecret(key);
  return { headers: async () => ({ [header.toLowerCase()]: key }) };
}

export interface OAuth2ClientCredentialsOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  /** Renew this long before `expires_in` runs out. */
  renewBeforeMs?: number;
  /** Maps the token endpoint's failure to a SluiceError with a vendor-specific message. */
  describeFailure?: (status: number, body: unknown) => SluiceError;
  timeoutMs?: number;
}

/**
 * OAuth2 client-credentials grant: the token is cached and shared by every table of a source, renewed
 * before expiry, and renewed once more when the API says it is invalid. Concurrent callers share one
 * in-flight token request.
 */
export function oauth2ClientCredentials(opts: OAuth2ClientCredentialsOptions): Auth & { tokenRequests(): number } {
  registerSecret(opts.clientId);
  registerSecret(opts.clientSecret);
  const basic = Buffer.from(`${opts.clientId}:${opts.clientSecret}`).toString('base64');
  registerSecret(basic);
  const renewBefore = opts.renewBeforeMs ?? 5 * 60_000;
  let token: { value: string; renewAt: number } | undefined;
  let inflight: Promise<string> | undefined;
  let requests = 0;

  async function fetchToken(signal?: AbortSignal): Promise<string> {
    requests++;
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (opts.scope) body.set('scope', opts.scope);
    let res;
    try {
      res = await request(opts.tokenUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
        signal,
        headersTimeout: opts.timeoutMs ?? 30_000,
        bodyTimeout: opts.timeoutMs ?? 30_000,
      });
    } catch (err) {
      throw new SluiceError('transient', `token request to ${new URL(opts.tokenUrl).host} failed: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.body.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.statusCode >= 200 && res.statusCode < 300 && typeof json?.access_token === 'string') {
      registerSecret(json.access_token);
      const ttlMs = (Number(json.expires_in) || 3600) * 1000;
      // Renew ahead of expiry; short-lived tokens are renewed at half their life.
      token = { value: json.access_token, renewAt: Date.now() + ttlMs - Math.min(renewBefore, ttlMs / 2) };
      return json.access_token;
    }
    if (opts.describeFailure && res.statusCode < 500 && res.statusCode !== 429) throw opts.describeFailure(res.statusCode, json ?? text);
    if (res.statusCode === 401 || res.statusCode === 400) throw new SluiceError('auth', `token request rejected (HTTP ${res.statusCode})`, { status: res.statusCode });
    throw new SluiceError(res.statusCode === 429 ? 'rate_limited' : 'transient', `token request failed (HTTP ${res.statusCode})`, { status: res.statusCode });
  }

  return {
    async headers(signal) {
      if (!token || Date.now() >= token.renewAt) {
        inflight ??= fetchToken(signal).finally(() => (inflight = undefined));
        await inflight;
      }
      return { authorization: `Bearer ${token!.value}` };
    },
    invalidate() {
      token = undefined;
      return true;
    },
    tokenRequests: () => requests,
  };
}
