import { queryTable, keysetScan, restTable, type DataRecord, type Position, type QueryTableDecl, type ReadContext } from '@sluice/core';
import { QueryTooLargeError, hogqlPage, lit, parseJson, toUtcMicros, uuidOrder, type PostHogClient } from './client';
import type { PostHogConfig } from './config';
import { DEFAULT_LOOKBACK_MS, MAX_WINDOW_MS, MIN_WINDOW_MS, eventRecord, eventsQuery } from './events';

type Ctx = ReadContext<PostHogConfig, PostHogClient>;
const HOUR = 3600_000;
const QUERY = 'POST /api/projects/{config.projectId}/query/: HogQL';

/** Every HogQL table: spends the query budget, needs query:read. */
const HOGQL = { vendor: 'PostHog', requires: 'query:read' } as const satisfies Partial<QueryTableDecl>;

/** ClickHouse orders UUIDs by their halves (see uuidOrder): the engine's order guard compares them so. */
const byUuid = ([id]: Position) => [uuidOrder(id)];

export const events = queryTable<PostHogConfig, PostHogClient>({
  ...HOGQL,
  name: 'events',
  description: 'Every captured event (HogQL `events`), with `url` from $current_url; late events are re-read within lookbackHours',
  primaryKey: ['uuid'],
  partitionBy: 'timestamp',
  // The source's lookbackHours (default 6) sets the lookback; the engine applies it (`since` arrives with it subtracted).
  cursor: { fields: ['timestamp'], default: 'timestamp', lookbackMs: DEFAULT_LOOKBACK_MS, lookbackSetting: { key: 'lookbackHours', unitMs: HOUR } },
  modes: ['incremental', 'full_refresh'],
  defaultMode: 'incremental',
  reconcileRefusal: 'its full read covers the last backfillDays only, so every stored event older than that would look deleted (PostHog removes events only with their person or by a deletion request, in the background)',
  columns: { uuid: 'VARCHAR', person_id: 'VARCHAR', distinct_id: 'VARCHAR', event: 'VARCHAR', timestamp: 'TIMESTAMPTZ', created_at: 'TIMESTAMPTZ', properties: 'JSON', url: 'VARCHAR' },
  query: `${QUERY} SELECT … FROM events ORDER BY timestamp, uuid`,
  filter: "timestamp >= toDateTime('{value}')",
  paging: {
    kind: 'time-windows',
    size: { config: 'pageSize' },
    fields: ['timestamp', 'uuid'],
    orderKey: ([timestamp, uuid]) => [timestamp, uuidOrder(uuid)],
    window: { initial: { config: 'windowHours', unitMs: HOUR }, minMs: MIN_WINDOW_MS, maxMs: MAX_WINDOW_MS },
    firstSync: { config: 'backfillDays', unitMs: 24 * HOUR },
    tooLarge: (e) => e instanceof QueryTooLargeError,
    fetch: (req, ctx) => hogqlPage(ctx, { query: eventsQuery(req, req.size), size: req.size, map: eventRecord, splittable: true }),
  },
});

/** The distinct ids of one page of persons: one range query over person_distinct_ids, key-set paged by core. */
async function distinctIdsFor(records: DataRecord[], ctx: Ctx): Promise<DataRecord[]> {
  const [first, last] = [String(records[0]!.id), String(records[records.length - 1]!.id)];
  const size = ctx.config.pageSize;
  const links = keysetScan({
    vendor: HOGQL.vendor,
    table: ctx.table,
    fields: ['person_id', 'distinct_id'],
    orderKey: ([personId, distinctId]) => [uuidOrder(personId), String(distinctId)],
    fetch: (after) => {
      const cond = [`person_id >= toUUID(${lit(first)})`, `person_id <= toUUID(${lit(last)})`];
      if (after) cond.push(`(person_id, distinct_id) > (toUUID(${lit(String(after[0]))}), ${lit(String(after[1]))})`);
      const query = `SELECT person_id, distinct_id FROM person_distinct_ids WHERE ${cond.join(' AND ')} ORDER BY person_id ASC, distinct_id ASC LIMIT ${size}`;
      return hogqlPage(ctx, { query, size, map: (r) => ({ person_id: r.person_id, distinct_id: r.distinct_id }) });
    },
  });
  const byPerson = new Map<string, string[]>();
  for await (const page of links)
    for (const r of page.records) {
      const [id, distinctId] = [String(r.person_id), String(r.distinct_id)];
      const list = byPerson.get(id);
      if (list) list.push(distinctId);
      else byPerson.set(id, [distinctId]);
    }
  return records.map((r) => ({ ...r, distinct_ids: byPerson.get(String(r.id)) ?? [] }));
}

/** `WHERE key > 'after'`, for a key-set page over one key (a UUID, or a string). */
const afterKey = (key: string, after: Position | null, uuid: boolean) => (after === null ? '' : ` WHERE ${key} > ${uuid ? `toUUID(${lit(String(after[0]))})` : lit(String(after[0]))}`);

/**
 * Rows per key-scan query: PostHog's MAX_SELECT_RETURNED_ROWS, the most one HogQL query returns ("up to 50k
 * rows per query" with an explicit LIMIT). A key-only row is one UUID, so a page this large stays small.
 */
export const KEY_SCAN_PAGE = 50_000;

// persons and person_distinct_ids: every read is complete, because HogQL's tables have no modification time to filter on.
export const persons = queryTable<PostHogConfig, PostHogClient>({
  ...HOGQL,
  name: 'persons',
  description:
    'Persons (identified users) with their distinct ids and properties; every sync re-reads all persons (HogQL has no modification time): full_refresh replaces the table, incremental merges by id so that deletes: { detect: reconcile } can mark persons deleted in PostHog',
  primaryKey: ['id'],
  partitionBy: 'created_at',
  // The cursor only records the newest created_at: the read never narrows by it (a person's properties change
  // without a trace in HogQL), so incremental is full read + merge, for deletes: reconcile (handle: soft).
  cursor: { fields: ['created_at'], default: 'created_at' },
  modes: ['full_refresh', 'incremental'],
  defaultMode: 'full_refresh',
  columns: { id: 'VARCHAR', created_at: 'TIMESTAMPTZ', properties: 'JSON', distinct_ids: 'JSON', is_identified: 'BOOLEAN' },
  query: `${QUERY} SELECT … FROM persons ORDER BY id`,
  paging: {
    kind: 'keyset',
    size: { config: 'pageSize' },
    fields: ['id'],
    orderKey: byUuid,
    fetch: ({ after, size }, ctx) =>
      hogqlPage(ctx, {
        query: `SELECT id, created_at, properties, is_identified FROM persons${afterKey('id', after, true)} ORDER BY id ASC LIMIT ${size}`,
        size,
        map: (r) => ({ id: r.id, created_at: toUtcMicros(r.created_at), properties: parseJson(r.properties) ?? {}, is_identified: r.is_identified === null ? null : Boolean(r.is_identified) }),
      }),
  },
  perPage: { describe: 'distinct ids: person_distinct_ids key-set by (person_id, distinct_id)', run: distinctIdsFor },
  // deletes: reconcile reads the ids only: one query per 50 000 persons (the full read: two per pageSize).
  keyScan: {
    query: `${QUERY} SELECT id FROM persons ORDER BY id`,
    paging: {
      kind: 'keyset',
      size: KEY_SCAN_PAGE,
      fields: ['id'],
      orderKey: byUuid,
      fetch: ({ after, size }, ctx) => hogqlPage(ctx, { query: `SELECT id FROM persons${afterKey('id', after, true)} ORDER BY id ASC LIMIT ${size}`, size, map: (r) => ({ id: r.id }) }),
    },
  },
});

export const personDistinctIds = queryTable<PostHogConfig, PostHogClient>({
  ...HOGQL,
  name: 'person_distinct_ids',
  description: 'distinct_id → person_id, as $identify / alias / merge left it: links anonymous events to identified persons',
  primaryKey: ['distinct_id'],
  columns: { distinct_id: 'VARCHAR', person_id: 'VARCHAR' },
  query: `${QUERY} SELECT … FROM person_distinct_ids ORDER BY distinct_id`,
  paging: {
    kind: 'keyset',
    size: { config: 'pageSize' },
    fields: ['distinct_id'],
    fetch: ({ after, size }, ctx) =>
      hogqlPage(ctx, { query: `SELECT distinct_id, person_id FROM person_distinct_ids${afterKey('distinct_id', after, false)} ORDER BY distinct_id ASC LIMIT ${size}`, size, map: (r) => ({ distinct_id: r.distinct_id, person_id: r.person_id }) }),
  },
});

export const cohorts = restTable<PostHogConfig, PostHogClient>({
  name: 'cohorts',
  description: 'Cohort definitions and sizes (REST /cohorts/)',
  primaryKey: ['id'],
  partitionBy: 'created_at',
  columns: { id: 'BIGINT', count: 'BIGINT', created_at: 'TIMESTAMPTZ', last_calculation: 'TIMESTAMPTZ', filters: 'JSON', groups: 'JSON', created_by: 'JSON' },
  requires: 'cohort:read',
  // REST endpoints have their own limits: cost 0 keeps the HogQL budget for queries.
  request: { path: '/api/projects/{config.projectId}/cohorts/', params: { limit: 100 }, cost: 0 },
  records: 'results',
  paging: { kind: 'next-url', url: 'next' },
  transform: (r) => ({
    ...r,
    created_at: typeof r.created_at === 'string' ? toUtcMicros(r.created_at) : null,
    last_calculation: typeof r.last_calculation === 'string' ? toUtcMicros(r.last_calculation) : null,
  }),
});

export const tables = [events, persons, personDistinctIds, cohorts];
