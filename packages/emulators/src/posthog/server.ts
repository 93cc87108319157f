import { Router, type EmulatorRequest, type EmulatorResponse } from '../common/http';
import { DateTimeValue, HogQLError, execute, parseHogQL, type TableDef } from './hogql';
import type { PostHogProject } from './store';

/** A personal API key: scopes (`*` = all) and the projects it may touch (undefined = every project of its user). */
export interface PersonalKey {
  scopes: string[];
  projects?: number[];
  /** Projects the key's user is a member of (undefined = all). */
  memberOf?: number[];
}

export interface PostHogKnobs {
  /** HogQL queries per key per window (PostHog's default: 120 an hour). */
  queryLimit: number;
  queryWindowMs: number;
  /** Send `Retry-After` with 429s (DRF does); off = only the detail text names the wait. */
  retryAfterHeader: boolean;
  /** A query whose WHERE matches more rows than this fails like a ClickHouse timeout (forces smaller windows). */
  maxMatchedRows: number;
  /** An events query whose matching rows span more than this many ms fails like a timeout (too large a time window). */
  maxWindowMs: number;
  /** 504 (gateway timeout, HTML) or 512 (PostHog's "estimated execution time too long"). */
  timeoutStatus: 504 | 512;
  /** LIMIT cap (MAX_SELECT_RETURNED_ROWS) and the LIMIT when none is given. */
  maxLimit: number;
  defaultLimit: number;
  /** Default and maximum page size of REST list endpoints (cohorts). */
  restPageSize: number;
  /** Answer like older PostHog versions: no `hasMore` / `limit` in the response (LIMIT capped silently). */
  legacyEnvelope: boolean;
  /** Overrides "now" for now() in HogQL (ms since epoch); undefined = the real clock. */
  nowMs?: number;
  /** Misbehaviour: ORDER BY is parsed but ignored (rows in storage order), as a broken backend would answer. */
  ignoreOrderBy?: boolean;
}

export interface QueryLogEntry {
  key: string;
  projectId: string;
  query: string;
  status: number;
  at: number;
}

const err = (status: number, type: string, code: string, detail: string, attr: string | null = null, headers?: Record<string, string>): EmulatorResponse => ({
  status,
  headers,
  body: { type, code, detail, attr },
});

const EVENTS: TableDef = {
  columns: {
    uuid: 'UUID',
    event: 'String',
    distinct_id: 'String',
    person_id: 'UUID',
    timestamp: "DateTime64(6, 'UTC')",
    created_at: "DateTime64(6, 'UTC')",
    properties: 'String',
    elements_chain: 'String',
    $session_id: 'Nullable(String)',
  },
  jsonColumns: ['properties'],
};
const PERSONS: TableDef = {
  columns: { id: 'UUID', created_at: "DateTime64(6, 'UTC')", properties: 'String', is_identified: 'Bool' },
  jsonColumns: ['properties'],
};
const PDI: TableDef = { columns: { distinct_id: 'String', person_id: 'UUID' } };
const COHORTS: TableDef = {
  columns: { id: 'Int64', name: 'String', description: 'String', created_at: "DateTime64(6, 'UTC')", deleted: 'Bool', is_static: 'Bool', count: 'Nullable(Int64)', filters: 'String' },
  jsonColumns: ['filters'],
};

function rowsOf(table: string, p: PostHogProject): { def: TableDef; rows: Iterable<Record<string, unknown>> } | undefined {
  switch (table) {
    case 'events':
      return {
        def: EVENTS,
        rows: p.events.map((e) => ({
          uuid: e.uuid,
          event: e.event,
          distinct_id: e.distinct_id,
          person_id: p.personIdOf(e.distinct_id),
          timestamp: new DateTimeValue(e.timestampUs),
          created_at: new DateTimeValue(e.createdAtUs),
          properties: e.properties,
          elements_chain: '',
          $session_id: (e.properties.$session_id as string | undefined) ?? null,
        })),
      };
    case 'persons':
      return {
        def: PERSONS,
        rows: [...p.persons.values()].map((x) => ({ id: x.id, created_at: new DateTimeValue(x.createdAtUs), properties: x.properties, is_identified: x.is_identified })),
      };
    case 'person_distinct_ids':
      return { def: PDI, rows: [...p.pdi.entries()].map(([distinct_id, person_id]) => ({ distinct_id, person_id })) };
    case 'cohorts':
    case 'system.cohorts':
      return {
        def: COHORTS,
        rows: p.cohorts.map((c) => ({ ...c, created_at: new DateTimeValue(Date.parse(c.created_at) * 1000) })),
      };
  }
  return undefined;
}

export function buildRouter(state: {
  projects: Map<number, PostHogProject>;
  keys: Map<string, PersonalKey>;
  knobs: PostHogKnobs;
  queryLog: QueryLogEntry[];
}): Router {
  const budget = new Map<string, number[]>(); // key → start times of admitted queries

  /** Authentication, project lookup, scope and project access: in DRF's order. */
  function guard(req: EmulatorRequest, scope: string): { key: string; project: PostHogProject } | EmulatorResponse {
    const auth = String(req.headers.authorization ?? '');
    if (!auth) return err(401, 'authentication_error', 'not_authenticated', 'Authentication credentials were not provided.');
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    const token = m?.[1] ?? '';
    const key = state.keys.get(token);
    if (!m || !key) return err(401, 'authentication_error', 'authentication_failed', 'Personal API key found in request Authorization header is invalid.');
    const idText = req.params.id ?? '';
    const id = /^\d+$/.test(idText) ? Number(idText) : NaN;
    const project = state.projects.get(id);
    if (!project) return err(404, 'invalid_request', 'not_found', 'Not found.');
    if (!key.scopes.includes('*') && !key.scopes.includes(scope) && !key.scopes.includes(scope.replace(':read', ':write'))) {
      return err(403, 'authentication_error', 'permission_denied', `API key missing required scope '${scope}'`);
    }
    if (key.projects && !key.projects.includes(id)) return err(403, 'authentication_error', 'permission_denied', `API key does not have access to the requested project: ID ${id}.`);
    if (key.memberOf && !key.memberOf.includes(id)) return err(403, 'authentication_error', 'permission_denied', "You don't have access to the project.");
    return { key: token, project };
  }

  async function query(req: EmulatorRequest): Promise<EmulatorResponse> {
    const g = guard(req, 'query:read');
    if ('status' in g) return g;
    const now = Date.now();
    const k = state.knobs;
    const starts = (budget.get(g.key) ?? []).filter((t) => t > now - k.queryWindowMs);
    budget.set(g.key, starts);
    const body = req.json as { query?: { kind?: string; query?: string } } | undefined;
    const text = typeof body?.query?.query === 'string' ? body.query.query : '';
    const log = (status: number) => state.queryLog.push({ key: g.key, projectId: req.params.id!, query: text, status, at: now });
    if (starts.length >= k.queryLimit) {
      const seconds = Math.max(1, Math.ceil((starts[0]! + k.queryWindowMs - now) / 1000));
      log(429);
      return err(429, 'throttled_error', 'throttled', `Request was throttled. Expected available in ${seconds} seconds.`, null, k.retryAfterHeader ? { 'retry-after': String(seconds) } : undefined);
    }
    starts.push(now);
    if (!body || typeof body.query !== 'object' || body.query === null) {
      log(400);
      return err(400, 'validation_error', 'invalid_input', 'This field is required.', 'query');
    }
    if (body.query.kind !== 'HogQLQuery') {
      log(400);
      return err(400, 'validation_error', 'invalid_input', `This emulator only runs HogQLQuery, not ${JSON.stringify(body.query.kind ?? null)}`, 'query');
    }
    if (!text) {
      log(400);
      return err(400, 'validation_error', 'invalid_input', 'This field is required.', 'query');
    }
    try {
      const ast = parseHogQL(text);
      const source = rowsOf(ast.table, g.project);
      if (!source) throw new HogQLError(`Unknown table \`${ast.table}\`.`);
      const env = { nowUs: (k.nowMs ?? Date.now()) * 1000, tzOffsetMinutes: g.project.timezoneOffsetMinutes };
      const r = execute(k.ignoreOrderBy ? { ...ast, orderBy: [] } : ast, source.rows, source.def, env, { defaultLimit: k.defaultLimit, maxLimit: k.maxLimit });
      let spanMs = 0;
      if (ast.table === 'events' && Number.isFinite(k.maxWindowMs) && r.matchedRows.length > 1) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const row of r.matchedRows) {
          const us = (row.timestamp as DateTimeValue).us;
          if (us < lo) lo = us;
          if (us > hi) hi = us;
        }
        spanMs = (hi - lo) / 1000;
      }
      if (r.matched > k.maxMatchedRows || spanMs > k.maxWindowMs) {
        log(k.timeoutStatus);
        if (k.timeoutStatus === 504) return { status: 504, headers: { 'content-type': 'text/html' }, body: '<html><body><h1>504 Gateway Time-out</h1></body></html>' };
        return err(512, 'server_error', 'estimated_query_execution_time_too_long', 'Estimated query execution time is too long. Try reducing its scope by changing the time range.');
      }
      log(200);
      return {
        status: 200,
        body: {
          cache_key: `cache_${now}`,
          is_cached: false,
          clickhouse: 'SELECT … (emulated)',
          columns: r.columns,
          types: r.types,
          results: r.results,
          ...(k.legacyEnvelope ? {} : { hasMore: r.hasMore, limit: r.limit, offset: r.offset }),
          error: null,
          hogql: text,
          query: text,
          modifiers: {},
          timezone: g.project.timezoneOffsetMinutes === 0 ? 'UTC' : 'Fixed',
          timings: [],
        },
      };
    } catch (e) {
      if (e instanceof HogQLError) {
        log(400);
        return err(400, 'validation_error', 'invalid_input', e.message, null);
      }
      throw e;
    }
  }

  const router = new Router();
  router.post('/api/projects/:id/query', query);
  router.post('/api/environments/:id/query', query);
  router.get('/api/projects/:id', (req) => {
    const g = guard(req, 'project:read');
    if ('status' in g) return g;
    return { status: 200, body: { id: g.project.id, name: g.project.name, timezone: g.project.timezoneOffsetMinutes === 0 ? 'UTC' : 'Etc/Fixed', api_token: `phc_${g.project.id}` } };
  });
  router.get('/api/projects/:id/cohorts', (req) => {
    const g = guard(req, 'cohort:read');
    if ('status' in g) return g;
    const limit = Math.min(Number(req.query.get('limit') ?? state.knobs.restPageSize) || state.knobs.restPageSize, state.knobs.restPageSize);
    const offset = Number(req.query.get('offset') ?? 0) || 0;
    const all = g.project.cohorts.filter((c) => !c.deleted).sort((a, b) => b.id - a.id);
    const page = all.slice(offset, offset + limit);
    const base = `http://${req.headers.host}${req.path}`;
    return {
      status: 200,
      body: {
        count: all.length,
        next: offset + limit < all.length ? `${base}?limit=${limit}&offset=${offset + limit}` : null,
        previous: offset > 0 ? `${base}?limit=${limit}&offset=${Math.max(0, offset - limit)}` : null,
        results: page,
      },
    };
  });
  return router;
}
