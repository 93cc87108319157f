import { ALL_VIEW_SCOPES, startCommercetools, type ApiClient, type CommercetoolsEmulator } from './server';
import type { Endpoint } from './generator';
import type { EmulatorConformance } from '../common/conformance';
import { conformanceHooks } from './conformance';

export { ENDPOINTS, money, type Endpoint } from './generator';
export { ENDPOINT_SCOPES, ALL_VIEW_SCOPES, MESSAGES_SCOPES, errorBody, type ApiClient, type InjectOptions, type CommercetoolsEmulator, type ListEvent } from './server';
export { parsePredicate, evaluate, PredicateError } from './predicate';
export { Store, DEFAULT_COUNTS, DELETED_MESSAGES } from './store';

export const DEMO_PROJECT_KEY = 'sluice-demo';
export const DEMO_CLIENT: ApiClient = { clientId: 'sluice-demo-client', clientSecret: 'sluice-demo-secret-0123456789', scopes: [...ALL_VIEW_SCOPES, 'view_messages'] };

export interface StartOptions {
  seed?: number;
  port?: number;
  projectKey?: string;
  /** Records generated per endpoint (defaults: DEFAULT_COUNTS). */
  counts?: Partial<Record<Endpoint, number>>;
  /** API clients; default: one demo client with every view_* scope. */
  clients?: ApiClient[];
  tokenTtlSeconds?: number;
  latencyMs?: number;
  /** Answer list requests in storage order whatever their `sort` (see CommercetoolsEmulator.ignoreSort). */
  ignoreSort?: boolean;
  historyStart?: string;
  historyEnd?: string;
  /** Clock used for inserts/updates without an explicit time. */
  now?: () => number;
  [knob: string]: unknown;
}

export type Handle = CommercetoolsEmulator & {
  /** Hooks for the conformance suite (@sluice/testing). */
  conformance: EmulatorConformance;
};

/** Starts the commercetools emulator on 127.0.0.1 (auth server and API on the same port). */
export async function start(options: StartOptions = {}): Promise<Handle> {
  const emu = await startCommercetools({
    seed: options.seed ?? 42,
    port: options.port,
    projectKey: options.projectKey ?? DEMO_PROJECT_KEY,
    counts: options.counts ?? {},
    clients: options.clients ?? [DEMO_CLIENT],
    tokenTtlSeconds: options.tokenTtlSeconds,
    latencyMs: options.latencyMs,
    ignoreSort: options.ignoreSort,
    historyStart: options.historyStart,
    historyEnd: options.historyEnd,
    now: options.now,
  });
  return Object.assign(emu, { conformance: conformanceHooks(emu.store) });
}

/** The connector `config:` block pointing at this emulator, with the first client's credentials. */
export function sourceConfig(handle: Handle, client?: ApiClient): Record<string, unknown> {
  const c = client ?? [...handle.clients.values()][0] ?? DEMO_CLIENT;
  return {
    region: 'europe-west1.gcp',
    projectKey: handle.projectKey,
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    apiUrl: handle.url,
    authUrl: handle.url,
  };
}
