import type { EmulatorRequest, EmulatorResponse, Router } from '../common/http';
import { uuidFrom, type PostHogProject } from './store';

/**
 * PostHog's public capture API (project API key in the body, write-only): `/batch/`, `/capture/`,
 * `/i/v0/e/` and `/e/`, and `/flags/` (which authenticates the key like capture does and stores nothing).
 * Accepted events land in the project (so HogQL sees them) and make persons as PostHog does: `$identify`
 * creates or links an identified person and applies `$set`; any other event creates a person for an
 * unknown distinct id unless it says `$process_person_profile: false`. Events are deduplicated by `uuid`
 * (PostHog keeps one event per uuid); the log of everything received, duplicates included, lets tests see
 * what a client sent. Faults (500, 429 with Retry-After, 401) go through the server's `faults` list.
 */
export interface CapturedEvent {
  projectId: number;
  uuid: string | undefined;
  event: string;
  distinct_id: string;
  timestamp: string | undefined;
  properties: Record<string, unknown>;
  /** A uuid the project already held: PostHog dropped it. */
  duplicate: boolean;
  historical: boolean;
  receivedAt: number;
}

export interface CaptureState {
  /** Project API key (phc_…) → project id. `phc_<id>` is registered for every project. */
  tokens: Map<string, number>;
  /** Every event received with a valid key, in order, duplicates included. */
  received: CapturedEvent[];
  /** Accepted capture requests (batches). */
  batches: number;
}

const invalidKey = (): EmulatorResponse => ({
  status: 401,
  body: { type: 'authentication_error', code: 'invalid_api_key', detail: 'Project API key invalid. You can find your project API key in PostHog project settings.', attr: null },
});
const invalid = (detail: string): EmulatorResponse => ({ status: 400, body: { type: 'validation_error', code: 'invalid_payload', detail, attr: null } });

export const projectApiKey = (projectId: number) => `phc_${projectId}`;

interface RawEvent {
  event?: unknown;
  distinct_id?: unknown;
  uuid?: unknown;
  timestamp?: unknown;
  properties?: Record<string, unknown>;
  $set?: Record<string, unknown>;
  api_key?: unknown;
}

export function addCaptureRoutes(router: Router, projects: Map<number, PostHogProject>, state: CaptureState): void {
  const tokenOf = (body: Record<string, unknown>, events: RawEvent[]): string | undefined => {
    const t = body.api_key ?? body.token ?? events[0]?.api_key ?? events[0]?.properties?.token;
    return typeof t === 'string' ? t : undefined;
  };

  const capture = (req: EmulatorRequest): EmulatorResponse => {
    const body = req.json;
    if (!body || typeof body !== 'object') return invalid('failed to decode the request body as JSON');
    const b = body as Record<string, unknown>;
    const events: RawEvent[] = Array.isArray(b.batch) ? (b.batch as RawEvent[]) : Array.isArray(body) ? (body as RawEvent[]) : [b as RawEvent];
    const token = tokenOf(b, events);
    const projectId = token === undefined ? undefined : state.tokens.get(token);
    const project = projectId === undefined ? undefined : projects.get(projectId);
    if (!project) return invalidKey();
    for (const [i, e] of events.entries()) {
      if (typeof e?.event !== 'string' || !e.event) return invalid(`batch[${i}]: missing event name`);
      if ((typeof e.distinct_id !== 'string' && typeof e.distinct_id !== 'number') || String(e.distinct_id) === '') return invalid(`batch[${i}]: missing distinct_id`);
      if (e.uuid !== undefined && (typeof e.uuid !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(e.uuid))) return invalid(`batch[${i}]: uuid is not a UUID`);
    }
    const historical = b.historical_migration === true;
    const seen = uuidsOf(project);
    for (const e of events) {
      const uuid = typeof e.uuid === 'string' ? e.uuid.toLowerCase() : undefined;
      const properties = { ...(e.properties ?? {}) };
      if (e.$set && !properties.$set) properties.$set = e.$set;
      const distinct = String(e.distinct_id);
      const duplicate = uuid !== undefined && seen.has(uuid);
      state.received.push({ projectId: project.id, uuid, event: e.event as string, distinct_id: distinct, timestamp: typeof e.timestamp === 'string' ? e.timestamp : undefined, properties, duplicate, historical, receivedAt: Date.now() });
      if (duplicate) continue;
      const at = typeof e.timestamp === 'string' && Number.isFinite(Date.parse(e.timestamp)) ? Date.parse(e.timestamp) : Date.now();
      applyPerson(project, e.event as string, distinct, properties, at);
      const stored = project.addEvent({ event: e.event as string, distinct_id: distinct, timestamp: at, properties, ...(uuid ? { uuid } : {}) });
      seen.add(stored.uuid);
    }
    state.batches++;
    return { status: 200, body: { status: 'Ok' } };
  };

  for (const path of ['/batch', '/capture', '/i/v0/e', '/e', '/track']) router.post(path, capture);

  // Feature flags: authenticates the project key, stores nothing (what `sluice check` uses).
  const flags = (req: EmulatorRequest): EmulatorResponse => {
    const b = (req.json ?? {}) as Record<string, unknown>;
    const token = typeof b.api_key === 'string' ? b.api_key : typeof b.token === 'string' ? b.token : undefined;
    if (token === undefined || !state.tokens.has(token)) return invalidKey();
    return { status: 200, body: { flags: {}, errorsWhileComputingFlags: false, quotaLimited: [], requestId: '00000000-0000-0000-0000-000000000000' } };
  };
  router.post('/flags', flags);
  router.post('/decide', flags);
}

const uuidSets = new WeakMap<PostHogProject, Set<string>>();
function uuidsOf(p: PostHogProject): Set<string> {
  let s = uuidSets.get(p);
  if (!s) uuidSets.set(p, (s = new Set(p.events.map((e) => e.uuid.toLowerCase()))));
  return s;
}

/** PostHog's person processing, in short: identify links or creates an identified person; `$set` applies. */
function applyPerson(p: PostHogProject, event: string, distinctId: string, properties: Record<string, unknown>, atMs: number): void {
  if (properties.$process_person_profile === false) return;
  const set = (properties.$set ?? {}) as Record<string, unknown>;
  const setOnce = (properties.$set_once ?? {}) as Record<string, unknown>;
  let personId = p.pdi.get(distinctId);
  const anon = typeof properties.$anon_distinct_id === 'string' ? properties.$anon_distinct_id : undefined;
  if (!personId && anon) personId = p.pdi.get(anon);
  let person = personId ? p.persons.get(personId) : undefined;
  if (!person) {
    personId = uuidFrom(`person:${p.id}:${distinctId}`); // deterministic, as PostHog derives a person's uuid from team and distinct id
    person = { id: personId, createdAtUs: Math.round(atMs * 1000), properties: {}, is_identified: false };
    p.persons.set(personId, person);
  }
  p.pdi.set(distinctId, person.id);
  if (anon) p.pdi.set(anon, person.id);
  if (event === '$identify') person.is_identified = true;
  for (const [k, v] of Object.entries(setOnce)) if (!(k in person.properties)) person.properties[k] = v;
  Object.assign(person.properties, set);
  person.createdAtUs = Math.min(person.createdAtUs, Math.round(atMs * 1000));
}
