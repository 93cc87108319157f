import { defineTable, restTable, type DataRecord, type Json, type Page, type ReadContext } from '@sluice/core';
import { checkHogQLOrder, lit, mayHaveMore, parseJson, toUtcMicros, uuidOrder, type PostHogClient } from './client';
import type { PostHogConfig } from './config';
import { DEFAULT_LOOKBACK_MS, readEvents } from './events';

type Ctx = ReadContext<PostHogConfig, PostHogClient>;

export const events = defineTable<PostHogConfig, PostHogClient>({
  name: 'events',
  description: 'Every captured event (HogQL `events`), with `url` from $current_url; late events are re-read within lookbackHours',
  primaryKey: ['uuid'],
  partitionBy: 'timestamp',
  // The source's lookbackHours (default 6) sets the lookback; the engine applies it (`since` arrives with it subtracted).
  cursor: { fields: ['timestamp'], default: 'timestamp', lookbackMs: DEFAULT_LOOKBACK_MS, lookbackSetting: { key: 'lookbackHours', unitMs: 3600_000 } },
  modes: ['incremental', 'full_refresh'],
  defaultMode: 'incremental',
  columns: { uuid: 'VARCHAR', person_id: 'VARCHAR', distinct_id: 'VARCHAR', event: 'VARCHAR', timestamp: 'TIMESTAMPTZ', created_at: 'TIMESTAMPTZ', properties: 'JSON', url: 'VARCHAR' },
  requires: 'query:read',
  reads: {
    endpoint: 'POST /api/projects/{config.projectId}/query/: HogQL SELECT … FROM events ORDER BY timestamp, uuid',
    paging: { kind: 'time-windows', pageSize: { config: 'pageSize' }, window: 'config.windowHours, halved on a timeout, doubled when sparse', inside: 'keyset (timestamp, uuid)', firstSync: 'config.backfillDays' },
    filter: "timestamp >= toDateTime('{value}')",
  },
  read: (ctx) => readEvents(ctx),
});

/**
 * Key-set pages over a HogQL table ordered by one unique string key. Full refresh: HogQL's persons and
 * person_distinct_ids have no modification time to filter on.
 */
async function* keysetRows(ctx: Ctx, o: { select: string; from: string; key: string; uuidKey?: boolean; map: (row: Record<string, unknown>) => DataRecord; enrich?: (records: DataRecord[]) => Promise<DataRecord[]> }): AsyncGenerator<Page> {
  const cp = ctx.request.checkpoint as { after?: string | null; done?: boolean } | undefined;
  if (cp?.done) return;
  let after = cp?.after ?? null;
  for (;;) {
    const where = after === null ? '' : ` WHERE ${o.key} > ${o.uuidKey ? `toUUID(${lit(after)})` : lit(after)}`;
    const res = await ctx.client.hogql(`SELECT ${o.select} FROM ${o.from}${where} ORDER BY ${o.key} ASC LIMIT ${ctx.config.pageSize}`, { signal: ctx.signal, report: ctx.report });
    // Key-set paging needs HogQL's order (UUIDs in ClickHouse's): core's order guard checks each page.
    const orderOf = (v: unknown) => [o.uuidKey ? uuidOrder(v) : String(v)];
    checkHogQLOrder(ctx.table, res.rows.map((r) => orderOf(r[o.key])), after === null ? null : orderOf(after), [o.key]);
    let records = res.rows.map(o.map);
    if (o.enrich && records.length > 0) records = await o.enrich(records);
    if (!mayHaveMore(res, ctx.config.pageSize)) {
      yield { records, checkpoint: { done: true } };
      return;
    }
    after = String(res.rows[res.rows.length - 1]![o.key]);
    yield { records, checkpoint: { after } as Json };
  }
}

/** distinct ids of the persons in one page: one range query over person_distinct_ids, key-set paged. */
async function distinctIdsFor(ctx: Ctx, records: DataRecord[]): Promise<DataRecord[]> {
  const ids = records.map((r) => String(r.id));
  const first = ids[0]!;
  const last = ids[ids.length - 1]!;
  const byPerson = new Map<string, string[]>();
  let after: [string, string] | null = null;
  for (;;) {
    const cond = [`person_id >= toUUID(${lit(first)})`, `person_id <= toUUID(${lit(last)})`];
    if (after) cond.push(`(person_id, distinct_id) > (toUUID(${lit(after[0])}), ${lit(after[1])})`);
    const res = await ctx.client.hogql(`SELECT person_id, distinct_id FROM person_distinct_ids WHERE ${cond.join(' AND ')} ORDER BY person_id ASC, distinct_id ASC LIMIT ${ctx.config.pageSize}`, {
      signal: ctx.signal,
      report: ctx.report,
    });
    const keyOf = (personId: unknown, distinctId: unknown) => [uuidOrder(personId), String(distinctId)];
    checkHogQLOrder(ctx.table, res.rows.map((r) => keyOf(r.person_id, r.distinct_id)), after && keyOf(after[0], after[1]), ['person_id', 'distinct_id']);
    for (const r of res.rows) {
      const list = byPerson.get(String(r.person_id)) ?? [];
      list.push(String(r.distinct_id));
      byPerson.set(String(r.person_id), list);
    }
    if (!mayHaveMore(res, ctx.config.pageSize)) break;
    const lastRow = res.rows[res.rows.length - 1]!;
    after = [String(lastRow.person_id), String(lastRow.distinct_id)];
  }
  return records.map((r) => ({ ...r, distinct_ids: byPerson.get(String(r.id)) ?? [] }));
}

export const persons = defineTable<PostHogConfig, PostHogClient>({
  name: 'persons',
  description: 'Persons (identified users) with their distinct ids and properties',
  primaryKey: ['id'],
  partitionBy: 'created_at',
  columns: { id: 'VARCHAR', created_at: 'TIMESTAMPTZ', properties: 'JSON', distinct_ids: 'JSON', is_identified: 'BOOLEAN' },
  requires: 'query:read',
  reads: { endpoint: 'POST /api/projects/{config.projectId}/query/: HogQL SELECT … FROM persons ORDER BY id', paging: { kind: 'keyset', pageSize: { config: 'pageSize' }, fields: ['id'], perPage: 'distinct ids: person_distinct_ids key-set by (person_id, distinct_id)' } },
  read: (ctx) =>
    keysetRows(ctx, {
      select: 'id, created_at, properties, is_identified',
      from: 'persons',
      key: 'id',
      uuidKey: true,
      map: (r) => ({ id: r.id, created_at: toUtcMicros(r.created_at), properties: parseJson(r.properties) ?? {}, is_identified: r.is_identified === null ? null : Boolean(r.is_identified) }),
      enrich: (records) => distinctIdsFor(ctx, records),
    }),
});

export const personDistinctIds = defineTable<PostHogConfig, PostHogClient>({
  name: 'person_distinct_ids',
  description: 'distinct_id → person_id, as $identify / alias / merge left it: links anonymous events to identified persons',
  primaryKey: ['distinct_id'],
  columns: { distinct_id: 'VARCHAR', person_id: 'VARCHAR' },
  requires: 'query:read',
  reads: { endpoint: 'POST /api/projects/{config.projectId}/query/: HogQL SELECT … FROM person_distinct_ids ORDER BY distinct_id', paging: { kind: 'keyset', pageSize: { config: 'pageSize' }, fields: ['distinct_id'] } },
  read: (ctx) => keysetRows(ctx, { select: 'distinct_id, person_id', from: 'person_distinct_ids', key: 'distinct_id', map: (r) => ({ distinct_id: r.distinct_id, person_id: r.person_id }) }),
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
