import { startServer, type EmulatorServer } from '../common/http';
import { DEFAULT_SEED as SHOPIFY_DEFAULT_SEED, generateCustomers as shopifyCustomers } from '../shopify/generator';
import { buildRouter, type PersonalKey, type PostHogKnobs, type QueryLogEntry } from './server';
import { PostHogProject, type CommerceOrder, type StorefrontCustomer } from './store';
import type { EmulatorConformance } from '../common/conformance';
import { conformanceHooks } from './conformance';
import { addCaptureRoutes, projectApiKey, type CaptureState } from './capture';

export { PostHogProject, uuidFrom, productHandle } from './store';
export type { PhEvent, PhPerson, PhCohort, StorefrontCustomer, CommerceOrder } from './store';
export type { PersonalKey, PostHogKnobs, QueryLogEntry } from './server';
export { parseHogQL, execute, HogQLError } from './hogql';
export { projectApiKey, type CapturedEvent, type CaptureState } from './capture';

/** Demo credentials and fixtures. */
export const DEMO_KEY = 'phx_demo0000000000000000000000000000000000000000';
export const NO_QUERY_SCOPE_KEY = 'phx_noquery00000000000000000000000000000000000000';
export const OTHER_PROJECT_KEY = 'phx_otherproject000000000000000000000000000000000';
export const DEFAULT_PROJECT_ID = 4242;
export const EMPTY_PROJECT_ID = 4343;

export interface PostHogEmulatorOptions {
  seed?: number;
  port?: number;
  /** Generated traffic ends here (ms since epoch); default: now. */
  nowMs?: number;
  /** Days of generated traffic (default 35, so a 30-day backfill leaves older events out). */
  days?: number;
  /** Commerce customers whose emails identified visitors use; a number = the first n Shopify emulator customers. */
  customers?: number | StorefrontCustomer[];
  /** Seed of the Shopify emulator whose customers the persons match (default: the Shopify emulator's default). */
  shopifySeed?: number;
  anonymousVisitors?: number;
  /** Commerce orders (e.g. the Shopify emulator's): each order by a known customer gets the browsing session that led to it. */
  orders?: CommerceOrder[];
  /**
   * Exactly this many `$pageview` events (anonymous visitors, no persons), spread evenly over `days`, in
   * place of the generated traffic: for tests that need an exact record count (page-size boundaries).
   */
  events?: number;
  /** Fixed offset of the project timezone (HogQL renders DateTimes in it). */
  timezoneOffsetMinutes?: number;
  knobs?: Partial<PostHogKnobs>;
  [knob: string]: unknown;
}

export interface PostHogEmulator extends EmulatorServer {
  projects: Map<number, PostHogProject>;
  /** The demo project. */
  project: PostHogProject;
  projectId: number;
  keys: Map<string, PersonalKey>;
  knobs: PostHogKnobs;
  /** Every HogQL query with its key and outcome (budget tests). */
  queryLog: QueryLogEntry[];
  customers: StorefrontCustomer[];
  /** Hooks for the conformance suite (@sluice/testing), over the demo project. */
  conformance: EmulatorConformance;
  /** The capture API: project keys (`phc_<project id>` for each project), and every event received. */
  capture: CaptureState;
}

/**
 * The Shopify emulator's customers (same seed → same identities, `<first>.<last><n>@example.com`): identified
 * PostHog persons carry these emails, so the funnel can join PostHog persons to Shopify orders.
 */
export function generatedCustomers(shopifySeed: number, count: number): StorefrontCustomer[] {
  return shopifyCustomers({ seed: shopifySeed, count }).map((c) => ({ email: c.email, firstName: c.firstName, lastName: c.lastName }));
}

export async function start(options: PostHogEmulatorOptions = {}): Promise<PostHogEmulator> {
  const seed = options.seed ?? 7;
  const knobs: PostHogKnobs = {
    queryLimit: 120,
    queryWindowMs: 3600_000,
    retryAfterHeader: true,
    maxMatchedRows: Infinity,
    maxWindowMs: Infinity,
    timeoutStatus: 512,
    maxLimit: 50_000,
    defaultLimit: 100,
    restPageSize: 100,
    legacyEnvelope: false,
    ...options.knobs,
  };
  const customers = Array.isArray(options.customers) ? options.customers : generatedCustomers(options.shopifySeed ?? SHOPIFY_DEFAULT_SEED, options.customers ?? 200);
  const project = new PostHogProject(DEFAULT_PROJECT_ID, 'Storefront', seed, options.timezoneOffsetMinutes ?? 0);
  if (options.events !== undefined) pageviews(project, options.events, options.nowMs ?? Date.now(), options.days ?? 35);
  else project.generate({ nowMs: options.nowMs ?? Date.now(), days: options.days ?? 35, customers, anonymousVisitors: options.anonymousVisitors ?? 25, orders: options.orders });
  const empty = new PostHogProject(EMPTY_PROJECT_ID, 'Empty project', seed + 1);
  const projects = new Map([
    [project.id, project],
    [empty.id, empty],
  ]);
  const keys = new Map<string, PersonalKey>([
    [DEMO_KEY, { scopes: ['query:read', 'project:read', 'cohort:read'] }],
    [NO_QUERY_SCOPE_KEY, { scopes: ['project:read', 'cohort:read'] }],
    [OTHER_PROJECT_KEY, { scopes: ['*'], projects: [999_999] }],
  ]);
  const queryLog: QueryLogEntry[] = [];
  const capture: CaptureState = { tokens: new Map([...projects.keys()].map((id) => [projectApiKey(id), id])), received: [], batches: 0 };
  const router = buildRouter({ projects, keys, knobs, queryLog });
  addCaptureRoutes(router, projects, capture);
  const server = await startServer(router, {
    port: options.port,
    notFound: () => ({ status: 404, body: { type: 'invalid_request', code: 'not_found', detail: 'Not found.', attr: null } }),
  });
  return Object.assign(server, { projects, project, projectId: project.id, keys, knobs, queryLog, customers, capture, conformance: conformanceHooks(project) });
}

/** `count` pageviews at distinct instants over the `days` before the last hour up to `nowMs`. */
function pageviews(project: PostHogProject, count: number, nowMs: number, days: number): void {
  const startMs = nowMs - days * 86400_000;
  const span = days * 86400_000 - 3600_000;
  for (let i = 0; i < count; i++) {
    const at = startMs + Math.floor(((i + 0.5) / count) * span);
    project.addEvent({ event: '$pageview', distinct_id: `visitor-${i % 7}`, timestamp: at, createdAt: at + 2000, properties: { $current_url: `${project.siteUrl}/p/${i}`, $pathname: `/p/${i}` } });
  }
}

export function sourceConfig(handle: PostHogEmulator): Record<string, unknown> {
  return { host: handle.url, projectId: handle.projectId, personalApiKey: DEMO_KEY };
}
