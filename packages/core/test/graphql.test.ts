import { describe, expect, it } from 'vitest';
import { ExportUnavailable, QueryTooCostly, SluiceError, graphqlTable, type CostSizing, type ExportJobDecl, type ExportStatus, type GraphqlTableDecl, type Json, type TableSpec } from '@sluice/core';
import { failure, readSpec } from './read-spec';

/**
 * The GraphQL connection kind (cursor paging by pageInfo, cost-sized pages, guards) and the export-job kind
 * (start, poll, download; resume by skipping staged records; fallback to paging), against in-memory vendors.
 */

type Node = { id: string; n: number; children?: number[] };
const NODES: Node[] = Array.from({ length: 23 }, (_, i) => ({ id: `gid://acme/Thing/${i + 1}`, n: i + 1 }));
const ids = (rs: Record<string, unknown>[]) => rs.map((r) => r['id']);
const ALL = NODES.map((n) => n.id);

/** Cost of a page: 2 + 10 per node; above `maxCost` the vendor refuses the query. */
const FIXED = 2;
const PER = 10;

interface Vendor {
  /** `first` and `after` of every query, in order. */
  calls: { first: number; after: string | null }[];
  post: GraphqlTableDecl['paging']['post'];
}

/** A connection over `nodes` whose cursor is the index of the last node; misbehaviours on request. */
function vendor(nodes: Node[] = NODES, o: { maxCost?: number; repeatCursor?: boolean; swap?: boolean } = {}): Vendor {
  const calls: Vendor['calls'] = [];
  return {
    calls,
    async post(req) {
      const first = Number(req.variables['first']);
      const after = (req.variables['after'] as string | null) ?? null;
      calls.push({ first, after });
      const cost = FIXED + PER * first;
      if (o.maxCost !== undefined && cost > o.maxCost) throw new QueryTooCostly(cost, o.maxCost, `a query cost ${cost}, above ${o.maxCost}`);
      const from = after === null ? 0 : Number(after);
      const page = nodes.slice(from, from + first).map((n) => ({ ...n }));
      if (o.swap && page.length > 1) [page[0], page[1]] = [page[1]!, page[0]!];
      const end = from + page.length;
      const endCursor = o.repeatCursor && from > 0 ? after : String(end);
      return { data: { things: { nodes: page, pageInfo: { hasNextPage: end < nodes.length, endCursor } } }, cost };
    },
  };
}

/** A cost model: pages fit `maxCost` once a refusal told it, and it learns the cost per node from reports. */
function costModel(log: string[] = []): CostSizing {
  let per = 1;
  let max = Infinity;
  return {
    size: (requested) => Math.max(1, Math.min(requested, Math.floor((max - FIXED) / per))),
    estimate: (n) => FIXED + per * n,
    calibrate(n, cost) {
      log.push(`calibrate ${n} ${cost}`);
      if (cost !== undefined && n > 0) per = (cost - FIXED) / n;
    },
    tooCostly(n, cost, maxCost) {
      log.push(`too costly ${n} ${cost} ${maxCost}`);
      per = (cost - FIXED) / n;
      max = maxCost;
    },
  };
}

const numberOf = (node: Record<string, any>) => [Number(String(node['id']).split('/').pop())];

function table(v: Vendor, extra: Partial<GraphqlTableDecl> & { sorted?: boolean; cost?: CostSizing } = {}): TableSpec {
  const { sorted = true, cost, ...rest } = extra;
  return graphqlTable({
    vendor: 'Acme',
    name: 'things',
    description: 'things',
    primaryKey: ['id'],
    endpoint: 'POST /graphql: things(first:, after:)',
    paging: {
      kind: 'graphql-connection',
      size: { config: 'pageSize' },
      connection: 'things',
      query: () => ({ text: 'query Page($first: Int!, $after: String) { things(first: $first, after: $after) { … } }' }),
      post: v.post,
      ...(cost ? { cost: () => cost } : {}),
      ...(sorted ? { order: () => ({ key: numberOf, start: 'strict' as const, fields: ['id'] }) } : {}),
    },
    transform: (n) => ({ id: n['id'], n: n['n'], ...(n['children'] ? { children: n['children'] } : {}) }),
    ...rest,
  });
}

const read = (t: TableSpec, o: { checkpoint?: Json; stopAfter?: number; pageSize?: number } = {}) =>
  readSpec(t, { config: { pageSize: o.pageSize ?? 5 }, request: { checkpoint: o.checkpoint }, stopAfter: o.stopAfter });

describe('GraphQL connection paging', () => {
  it('reads every node once, one query per page, checkpoints the cursor and the order key', async () => {
    const v = vendor();
    const r = await read(table(v));
    expect(ids(r.records)).toEqual(ALL);
    expect(v.calls.map((c) => c.after)).toEqual([null, '5', '10', '15', '20']);
    expect(r.checkpoints[0]).toEqual({ page: { after: '5', last: [5] } });
    expect(r.checkpoints.at(-1)).toEqual({ done: true });
  });

  it('resumes from the checkpoint of any page: the rest, each node once', async () => {
    const full = await read(table(vendor()));
    for (let i = 1; i < full.checkpoints.length; i++) {
      const head = await read(table(vendor()), { stopAfter: i });
      const tail = await read(table(vendor()), { checkpoint: head.checkpoints.at(-1)! });
      expect([...ids(head.records), ...ids(tail.records)]).toEqual(ALL);
    }
    const done = await read(table(vendor()), { checkpoint: { done: true } });
    expect(done.records).toEqual([]);
  });

  it('resumes a checkpoint written without an order key (an unsorted connection) and one with a null cursor', async () => {
    const v = vendor();
    const r = await read(table(v, { sorted: false }), { checkpoint: { page: { after: '10' } } });
    expect(ids(r.records)).toEqual(ALL.slice(10));
    const again = await read(table(vendor()), { checkpoint: { page: { after: null, last: null } } });
    expect(ids(again.records)).toEqual(ALL);
  });

  it('a page refused as too costly is shrunk and asked again; later pages keep the smaller size', async () => {
    const log: string[] = [];
    const v = vendor(NODES, { maxCost: 42 });
    const r = await read(table(v, { cost: costModel(log) }), { pageSize: 10 });
    expect(ids(r.records)).toEqual(ALL);
    expect(v.calls[0]).toEqual({ first: 10, after: null });
    expect(v.calls[1]).toEqual({ first: 4, after: null });
    expect(v.calls.slice(1).every((c) => c.first === 4)).toBe(true);
    expect(log[0]).toBe('too costly 10 102 42');
    expect(log).toContain('calibrate 4 42');
  });

  it('a refusal at one node per page is the error itself', async () => {
    const v = vendor(NODES, { maxCost: 5 });
    const err = await failure(read(table(v, { cost: costModel() }), { pageSize: 1 }));
    expect(err).toBeInstanceOf(QueryTooCostly);
  });

  it('refuses a cursor it was given before', async () => {
    const err = await failure(read(table(vendor(NODES, { repeatCursor: true }), { sorted: false })));
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.message).toMatch(/Acme things: the things connection returned the cursor 5 twice/);
  });

  it('the order guard fails a page out of order, naming the vendor, the table and the keys', async () => {
    const err = await failure(read(table(vendor(NODES, { swap: true }))));
    expect(err.message).toMatch(/Acme things/);
    expect(err.message).toMatch(/out of order/);
  });

  it('runs the per-page hook on every page before the nodes become rows', async () => {
    const seen: number[] = [];
    const t = table(vendor(), {
      perPage: {
        describe: 'children (by follow-up queries)',
        async run(nodes) {
          seen.push(nodes.length);
          for (const n of nodes) n['children'] = [n['n'] * 10];
        },
      },
    });
    const r = await read(t);
    expect(seen).toEqual([5, 5, 5, 5, 3]);
    expect(r.records.every((x) => Array.isArray(x['children']))).toBe(true);
    expect(t.reads?.paging).toMatchObject({ kind: 'graphql-connection', pageSize: { config: 'pageSize' }, perPage: 'children (by follow-up queries)' });
  });
});

interface Job {
  decl: ExportJobDecl;
  started: number;
  polls: string[];
  downloads: { url: string; skip: number }[];
}

/**
 * An export job over `NODES`: running for `runningPolls` polls, then completed with a URL that changes on
 * every poll; downloads break after `breakAfter` records the first `breaks` times.
 */
function job(o: { wanted?: boolean; runningPolls?: number; fail?: string; refuse?: boolean; breaks?: number; breakAfter?: number; url?: null } = {}): Job {
  const j: Job = { started: 0, polls: [], downloads: [], decl: undefined as unknown as ExportJobDecl };
  let breaks = o.breaks ?? 0;
  j.decl = {
    describe: 'export when asked',
    wanted: async () => o.wanted ?? true,
    async start() {
      if (o.refuse) throw new ExportUnavailable('the vendor refused the export');
      j.started++;
      return `job-${j.started}`;
    },
    async poll(id): Promise<ExportStatus> {
      j.polls.push(id);
      if (j.polls.length <= (o.runningPolls ?? 1)) return { state: 'running', note: `${id} running` };
      if (o.fail) return { state: 'failed', reason: o.fail };
      return { state: 'completed', url: o.url === null ? null : `https://files/${id}?v=${j.polls.length}`, objectCount: NODES.length };
    },
    timing: () => ({ pollIntervalMs: 1, timeoutMs: 60_000 }),
    pageSize: 5,
    async *download(req) {
      j.downloads.push({ url: req.url, skip: req.skip });
      let sent = 0;
      for (const n of NODES.slice(req.skip)) {
        if (breaks > 0 && sent === (o.breakAfter ?? 7)) {
          breaks--;
          throw new SluiceError('transient', 'download cut off');
        }
        sent++;
        yield { ...n };
      }
    },
  };
  return j;
}

describe('export-job backfill', () => {
  it('starts one job, polls it to the end, stages every record once with a checkpoint per page', async () => {
    const j = job({ runningPolls: 2 });
    const v = vendor();
    const r = await read(table(v, { exportJob: j.decl }));
    expect(ids(r.records)).toEqual(ALL);
    expect(j.started).toBe(1);
    expect(j.polls).toEqual(['job-1', 'job-1', 'job-1']);
    expect(v.calls).toEqual([]);
    expect(r.checkpoints).toEqual([
      { bulk: { id: 'job-1', skip: 0 } },
      { bulk: { id: 'job-1', skip: 5 } },
      { bulk: { id: 'job-1', skip: 10 } },
      { bulk: { id: 'job-1', skip: 15 } },
      { bulk: { id: 'job-1', skip: 20 } },
      { done: true },
    ]);
    expect(r.events.filter((e) => e.type === 'note').map((e) => (e as { message: string }).message)).toEqual(['job-1 running', 'job-1 running']);
  });

  it('resumes mid-download: polls the same job (none started) and skips the records already staged', async () => {
    const head = await read(table(vendor(), { exportJob: job().decl }), { stopAfter: 3 });
    const cp = head.checkpoints.at(-1)!;
    expect(cp).toEqual({ bulk: { id: 'job-1', skip: 10 } });
    const j = job({ runningPolls: 0 });
    const tail = await read(table(vendor(), { exportJob: j.decl }), { checkpoint: cp });
    expect(j.started).toBe(0);
    expect(j.polls).toEqual(['job-1']);
    expect(j.downloads).toEqual([{ url: 'https://files/job-1?v=1', skip: 10 }]);
    expect([...ids(head.records), ...ids(tail.records)]).toEqual(ALL);
  });

  it('a transient download error polls for a fresh URL and downloads again from the last staged record', async () => {
    const j = job({ breaks: 2, breakAfter: 7 });
    const r = await read(table(vendor(), { exportJob: j.decl }));
    expect(ids(r.records)).toEqual(ALL);
    expect(j.downloads.map((d) => d.skip)).toEqual([0, 5, 10]);
    expect(new Set(j.downloads.map((d) => d.url)).size).toBe(3);
    expect(r.events.filter((e) => e.type === 'retry')).toHaveLength(2);
  });

  it('a third broken download fails the read', async () => {
    const err = await failure(read(table(vendor(), { exportJob: job({ breaks: 3, breakAfter: 1 }).decl })));
    expect(err.message).toBe('download cut off');
  });

  it('a job that fails, or that the vendor refuses, sends the read to paging', async () => {
    for (const o of [{ fail: 'job ended FAILED (INTERNAL_SERVER_ERROR)' }, { refuse: true }]) {
      const v = vendor();
      const r = await read(table(v, { exportJob: job(o).decl }));
      expect(ids(r.records)).toEqual(ALL);
      expect(v.calls.length).toBe(5);
      expect(r.events.some((e) => e.type === 'note' && /paging instead/.test(e.message))).toBe(true);
      expect(r.checkpoints.some((c) => JSON.stringify(c).includes('bulk'))).toBe(false);
    }
  });

  it('not wanted: pages; an empty result (no URL) is done at once', async () => {
    const j = job({ wanted: false });
    const v = vendor();
    expect(ids((await read(table(v, { exportJob: j.decl }))).records)).toEqual(ALL);
    expect(j.started).toBe(0);
    const empty = await read(table(vendor(), { exportJob: job({ url: null }).decl }));
    expect(empty.records).toEqual([]);
    expect(empty.checkpoints).toEqual([{ bulk: { id: 'job-1', skip: 0 } }, { done: true }]);
  });

  it('a record that becomes several rows is counted once for the skip', async () => {
    const t = table(vendor(), { exportJob: job().decl, transform: (n) => [{ id: `${n['id']}#a` }, { id: `${n['id']}#b` }] });
    const head = await read(t, { stopAfter: 2 });
    expect(head.checkpoints.at(-1)).toEqual({ bulk: { id: 'job-1', skip: 3 } });
    const tail = await read(table(vendor(), { exportJob: job({ runningPolls: 0 }).decl, transform: (n) => [{ id: `${n['id']}#a` }, { id: `${n['id']}#b` }] }), { checkpoint: head.checkpoints.at(-1)! });
    expect([...ids(head.records), ...ids(tail.records)]).toEqual(ALL.flatMap((id) => [`${id}#a`, `${id}#b`]));
  });
});
