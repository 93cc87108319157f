/**
 * Secrets are redacted by construction: every secret value a connector config holds is registered
 * here when the config is parsed, and every message that leaves the process (logs, errors, Temporal
 * payloads) passes through `redact`. Registering happens in the worker and CLI processes only.
 */
const secrets = new Set<string>();

export function registerSecret(value: unknown): void {
  if (typeof value === 'string' && value.length >= 4) {
    secrets.add(value);
    // Basic auth headers carry base64 of `user:secret`; their parts are registered by the auth layer.
  }
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

export function redactDeep<T>(value: T): T {
  if (secrets.size === 0) return value;
  return JSON.parse(redact(JSON.stringify(value))) as T;
}
