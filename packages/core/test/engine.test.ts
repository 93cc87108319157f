import { describe, expect, it } from 'vitest';
import { SluiceError, memoryLogger, restTable, type DataRecord, type HttpClient, type HttpRequest, type Json, type PagingDecl, type RestTableDecl, type TableSpec } from '@sluice/core';

/**
 * The engine runs declared REST tables: every paging kind against a small vendor API in memory, resuming
 * from a checkpoint in the middle of the page sequence, the cursor's filter, and the guards.
 */

type Row = { id: number; ts: string; name: string };
const ROWS: Row[] = Array.from({ length: 23 }, (_, i) => ({ id: i + 1, ts: `2024-01-${String(1 + Math.floor(i / 3)).padStart(2, '0')}T00:00:00.000Z`, name: `r${i + 1}` }));

type Api = (req: HttpRequest) => { body: unknown; headers?: Record<string, string> };

function fakeHttp(api: Api) {
  const requests: HttpRequest[] = [];
  const http = {
    options: { vendor: 'acme' },
    async request(req: HttpRequest) {
      requests.push(req);
      const { body, headers = {} } = api(req);
      return { status: 200, headers, text: JSON.stringify(body), url: req.path, body };
    },
  } as unknown as HttpClient;
  return { http, requests };
}

const q = (req: HttpRequest, k: string) => req.query?.[k];
const since = (req: HttpRequest, rows: Row[]) => (q(req, 'since') === undefined ? rows : rows.filter((r) => r.ts >= String(q(req, 'since'))));

async function read(table: TableSpec, http: HttpClient, o: { since?: string; cursorField?: string; checkpoint?: Json; stopAfter?: number; config?: Record<string, unknown> } = {}) {
  const records: DataRecord[] = [];
  const checkpoints: Json[] = [];
  for await (const page of table.read({
    source: 's',
    table: table.name,
    config: { pageSize: 5, ...o.config },
    client: { http },
    request: { mode: 'incremental', cursorField: o.cursorField ?? table.cursor?.default, since: o.since, checkpoint: o.checkpoint },
    signal: new AbortController().signal,
    report: () => undefined,
    log: memoryLogger(),
  })) {
    records.push(...page.records);
    checkpoints.push(page.checkpoint);
    if (checkpoints.length === o.stopAfter) break;
  }
  return { records, checkpoints, ids: records.map((r) => r.id) };
}

const base = (paging: PagingDecl, extra: Partial<RestTableDecl> = {}): RestTableDecl =>
  ({
    name: 'things',
    description: 'things',
    primaryKey: ['id'],
    cursor: { fields: ['ts'], default: 'ts', filter: { param: 'since' } },
    request: { path: '/{config.account}/things', params: { sort: 'id' } },
    records: 'data.items',
    paging,
    ...extra,
  }) as RestTableDecl;

const all = ROWS.map((r) => r.id);

/** Each kind: its API, and its declaration. */
const KINDS: { name: string; paging: PagingDecl; api: Api; records?: string }[] = [
  {
    name: 'page-number (reported page count)',
    paging: { kind: 'page-number', size: { config: 'pageSize' }, totalPages: 'pages' },
    api: (req) => {
      const rows = since(req, ROWS);
      const page = Number(q(req, 'page'));
      const size = Number(q(req, 'pageSize'));
      return { body: { pages: Math.ceil(rows.length / size), data: { items: rows.slice((page - 1) * size, page * size) } } };
    },
  },
  {
    name: 'offset',
    paging: { kind: 'offset', size: 4 },
    api: (req) => ({ body: { data: { items: since(req, ROWS).slice(Number(q(req, 'offset')), Number(q(req, 'offset')) + Number(q(req, 'limit'))) } } }),
  },
  {
    name: 'keyset',
    paging: { kind: 'keyset', size: { config: 'pageSize' }, sizeParam: 'limit', fields: ['id'], after: ([id], req) => ({ ...req, query: { ...req.query, after_id: Number(id) } }) },
    api: (req) => ({ body: { data: { items: since(req, ROWS).filter((r) => r.id > Number(q(req, 'after_id') ?? 0)).slice(0, Number(q(req, 'limit'))) } } }),
  },
  {
    name: 'cursor-token',
    paging: { kind: 'cursor-token', param: 'token', token: 'next_token' },
    api: (req) => {
      const rows = since(req, ROWS);
      const at = Number(q(req, 'token') ?? 0);
      return { body: { data: { items: rows.slice(at, at + 6) }, next_token: at + 6 < rows.length ? String(at + 6) : null } };
    },
  },
  {
    name: 'next-url',
    paging: { kind: 'next-url', url: 'next' },
    api: (req) => {
      const at = Number(/at=(\d+)/.exec(req.path)?.[1] ?? 0);
      return { body: { data: { items: ROWS.slice(at, at + 7) }, next: at + 7 < ROWS.length ? `/acct/things?at=${at + 7}` : null } };
    },
  },
  {
    name: 'link-header',
    paging: { kind: 'link-header' },
    api: (req) => {
      const at = Number(/at=(\d+)/.exec(req.path)?.[1] ?? 0);
      return { body: { data: { items: ROWS.slice(at, at + 7) } }, headers: (at + 7 < ROWS.length ? { link: `</acct/things?at=${at + 7}>; rel="next"` } : {}) as Record<string, string> };
    },
  },
  { name: 'single', paging: { kind: 'single' }, api: () => ({ body: ROWS }), records: '' },
];

describe('the engine runs every paging kind', () => {
  for (const k of KINDS) {
    it(`${k.name}: reads every record once, and a resumed read from a middle checkpoint reads the rest`, async () => {
      const table = restTable(base(k.paging, k.records !== undefined ? { records: k.records } : {}));
      const { http, requests } = fakeHttp(k.api);
      const full = await read(table, http, { config: { account: 'acct' } });
      expect(full.ids).toEqual(all);
      expect(requests[0]!.path).toBe('/acct/things');
      expect(full.checkpoints.at(-1)).toEqual({ done: true });
      if (full.checkpoints.length < 3) return;
      // A crash after the second page: the next attempt resumes from its checkpoint and reads the rest exactly.
      const first = await read(table, fakeHttp(k.api).http, { config: { account: 'acct' }, stopAfter: 2 });
      const rest = await read(table, fakeHttp(k.api).http, { config: { account: 'acct' }, checkpoint: first.checkpoints[1] });
      expect([...first.ids, ...rest.ids]).toEqual(all);
      // A finished read resumes to nothing.
      expect((await read(table, fakeHttp(k.api).http, { config: { account: 'acct' }, checkpoint: { done: true } })).ids).toEqual([]);
    });
  }
});

describe('the cursor filter', () => {
  const pages: PagingDecl = { kind: 'page-number', size: 50 };
  const api: Api = (req) => ({ body: { data: { items: since(req, ROWS).slice(0, 50) } } });

  it('feeds the lower bound to the filter parameter, formatted and templated', async () => {
    const table = restTable(base(pages, { cursor: { fields: ['ts'], default: 'ts', filter: { param: 'where', template: 'ts >= "{value}"', format: (s) => s.slice(0, 10) } } }));
    const { http, requests } = fakeHttp(api);
    await read(table, http, { since: '2024-01-05T12:00:00.000Z', config: { account: 'a' } });
    expect(requests[0]!.query).toMatchObject({ where: 'ts >= "2024-01-05"', sort: 'id', page: 1, pageSize: 50 });
  });

  it('uses the parameter of the cursor field in use, and refuses a field that cannot filter', async () => {
    const table = restTable(base(pages, { cursor: { fields: ['ts', 'created'], default: 'ts', filter: { param: { ts: 'since' } } } }));
    const { http, requests } = fakeHttp(api);
    const r = await read(table, http, { since: '2024-01-05T00:00:00.000Z', config: { account: 'a' } });
    expect(requests[0]!.query?.since).toBe('2024-01-05T00:00:00.000Z');
    expect(r.records.every((x) => String(x.ts) >= '2024-01-05')).toBe(true);
    const err = await read(table, fakeHttp(api).http, { since: '2024-01-05T00:00:00.000Z', cursorField: 'created', config: { account: 'a' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as Error).message).toMatch(/cursor "created" cannot filter the request/);
  });

  it('sends no filter without a lower bound (first sync, full refresh)', async () => {
    const { http, requests } = fakeHttp(api);
    await read(restTable(base(pages)), http, { config: { account: 'a' } });
    expect(requests[0]!.query).not.toHaveProperty('since');
  });

  it('names the missing config field a path or page size needs', async () => {
    const err = await read(restTable(base({ kind: 'page-number', size: { config: 'pageSize' } })), fakeHttp(api).http, { config: { pageSize: 5 } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/no "account"/);
  });
});

describe('the guards', () => {
  const keyset: PagingDecl = { kind: 'keyset', size: 5, sizeParam: 'limit', fields: ['id'], after: ([id], req) => ({ ...req, query: { ...req.query, after_id: Number(id) } }) };

  it('fails a key-set scan whose vendor ignores the sort, naming the vendor, table and keys', async () => {
    const shuffled = [...ROWS].sort((a, b) => (a.id * 7) % 23 - (b.id * 7) % 23);
    const api: Api = (req) => ({ body: { data: { items: shuffled.filter((r) => r.id > Number(q(req, 'after_id') ?? 0)).slice(0, 5) } } });
    const err = await read(restTable(base(keyset)), fakeHttp(api).http, { config: { account: 'a' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as Error).message).toMatch(/acme/);
    expect((err as Error).message).toMatch(/things/);
  });

  it('fails a page that does not start after the previous page (the vendor ignored the key)', async () => {
    const api: Api = (req) => ({ body: { data: { items: ROWS.slice(0, Number(q(req, 'limit'))) } } });
    const err = await read(restTable(base(keyset)), fakeHttp(api).http, { config: { account: 'a' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
  });

  it('refuses a repeated position instead of looping forever', async () => {
    const api: Api = () => ({ body: { data: { items: ROWS.slice(0, 3) }, next_token: 'same' } });
    const err = await read(restTable(base({ kind: 'cursor-token', param: 'token', token: 'next_token' })), fakeHttp(api).http, { config: { account: 'a' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/same position twice/);
  });

  it('fails a response without the record list', async () => {
    const err = await read(restTable(base({ kind: 'single' })), fakeHttp(() => ({ body: { error: 'nope' } })).http, { config: { account: 'a' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/no record list/);
  });
});

describe('the catalogue', () => {
  it('describes endpoint, paging kind and size, and the filter, without hooks', () => {
    const t = restTable(
      base(
        { kind: 'keyset', size: { config: 'pageSize' }, sizeParam: 'limit', fields: ['ts', 'id'], after: (_k, r) => r },
        { cursor: { fields: ['ts'], default: 'ts', filter: { param: 'where', template: 'ts >= "{value}"' } } },
      ),
    );
    expect(t.reads).toEqual({
      endpoint: 'GET /{config.account}/things?sort=id → data.items',
      paging: { kind: 'keyset', pageSize: { config: 'pageSize' }, sizeParam: 'limit', fields: ['ts', 'id'] },
      filter: 'where=ts >= "{value}"',
    });
    expect(JSON.parse(JSON.stringify(t.reads))).toEqual(t.reads);
  });
});

describe('sliced reads (key-set tables)', () => {
  type Rec = { id: string; at: string; v: number };
  const day = 86400_000;
  const start = Date.UTC(2024, 0, 1);
  /** 400 records over ~200 days, skewed: half of them in the last 20 days. */
  const make = () =>
    new Map<string, Rec>(
      Array.from({ length: 400 }, (_, i) => {
        const t = i < 200 ? start + i * day * 0.9 : start + 180 * day + (i - 200) * 0.1 * day;
        const r = { id: `r${String(i).padStart(3, '0')}`, at: new Date(t).toISOString(), v: 1 };
        return [r.id, r] as const;
      }),
    );

  /** A vendor with `where` predicates (ge / lt on `at`, after (at, id)), sorted by (at, id), answering after a delay. */
  function vendor(store: Map<string, Rec>, o: { failOn?: (where: string[]) => boolean } = {}) {
    let inFlight = 0;
    let maxInFlight = 0;
    const requests: HttpRequest[] = [];
    const http = {
      options: { vendor: 'acme' },
      async request(req: HttpRequest) {
        requests.push(req);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        const where = ([] as string[]).concat((req.query?.where as string[] | string | undefined) ?? []);
        if (o.failOn?.(where)) throw new SluiceError('permission', 'denied');
        let rows = [...store.values()].sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id));
        for (const w of where) {
          let m: RegExpExecArray | null;
          if ((m = /^at >= (.+)$/.exec(w))) rows = rows.filter((r) => r.at >= m![1]!);
          else if ((m = /^at < (.+)$/.exec(w))) rows = rows.filter((r) => r.at < m![1]!);
          else if ((m = /^after (\S+) (\S+)$/.exec(w))) rows = rows.filter((r) => r.at > m![1]! || (r.at === m![1] && r.id > m![2]!));
        }
        const body = { results: rows.slice(0, Number(req.query?.limit)).map((r) => ({ ...r })), ...(req.query?.withTotal === true ? { total: rows.length } : {}) };
        return { status: 200, headers: {}, text: '', url: req.path, body };
      },
    } as unknown as HttpClient;
    return { http, requests, maxInFlight: () => maxInFlight };
  }

  const slicedDecl = {
    name: 'things',
    description: 'things',
    primaryKey: ['id'],
    cursor: { fields: ['at'], default: 'at', filter: { param: 'where', template: 'at >= {value}' } },
    request: { path: '/things' },
    records: 'results',
    paging: { kind: 'keyset', size: 10, sizeParam: 'limit', fields: ['at', 'id'], after: ([at, id], req) => ({ ...req, query: { ...req.query, where: [...([] as string[]).concat((req.query?.where as string[]) ?? []), `after ${String(at)} ${String(id)}`] } }) },
    slices: { upper: { param: 'where', template: 'at < {value}' }, concurrency: 3, perReader: 3 },
  } satisfies RestTableDecl;
  const sliced = restTable(slicedDecl);

  const ids = (records: DataRecord[]) => records.map((r) => String(r.id)).sort();

  it('a first read is split into slices read concurrently, and reads every record exactly once', async () => {
    const store = make();
    const v = vendor(store);
    const r = await read(sliced, v.http, {});
    expect(ids(r.records)).toEqual([...store.keys()].sort());
    expect(v.maxInFlight()).toBe(3);
    expect(r.checkpoints.at(-1)).toEqual({ done: true });
    const plan = (r.checkpoints[0] as { sliced: { edges: string[] } }).sliced;
    expect(plan.edges).toHaveLength(10);
  });

  it('an incremental read of recent changes is not sliced; SLUICE_SLICES=force slices it, =off never slices', async () => {
    const store = make();
    const since = new Date(Date.now() - 3600_000).toISOString();
    for (let i = 0; i < 30; i++) store.set(`new${i}`, { id: `new${String(i).padStart(2, '0')}`, at: new Date(Date.now() - 3000_000 + i * 60_000).toISOString(), v: 1 });
    const recent = [...store.values()].filter((r) => r.at >= since).map((r) => r.id).sort();
    let v = vendor(store);
    let r = await read(sliced, v.http, { since });
    expect(ids(r.records)).toEqual(recent);
    expect(v.maxInFlight()).toBe(1);
    expect(v.requests).toHaveLength(4);
    process.env.SLUICE_SLICES = 'force';
    try {
      v = vendor(store);
      r = await read(sliced, v.http, { since });
      expect(ids(r.records)).toEqual(recent);
      expect(v.maxInFlight()).toBeGreaterThan(1);
      process.env.SLUICE_SLICES = 'off';
      v = vendor(store);
      r = await read(sliced, v.http, {});
      expect(ids(r.records)).toHaveLength(430);
      expect(v.maxInFlight()).toBe(1);
    } finally {
      delete process.env.SLUICE_SLICES;
    }
  });

  it('a retried attempt resumes every slice where it stopped: together, each record exactly once', async () => {
    const store = make();
    const first = await read(sliced, vendor(store).http, { stopAfter: 17 });
    const v = vendor(store);
    const rest = await read(sliced, v.http, { checkpoint: first.checkpoints.at(-1) });
    const both = [...first.records, ...rest.records].map((r) => String(r.id));
    expect(both.sort()).toEqual([...store.keys()].sort());
    expect(new Set(both).size).toBe(both.length);
  });

  it('a record modified after the open-ended slice finished is read by the tail pass', async () => {
    const store = make();
    const v = vendor(store);
    const records: DataRecord[] = [];
    let modified = false;
    for await (const page of sliced.read({
      source: 's',
      table: 'things',
      config: {},
      client: { http: v.http },
      request: { mode: 'full_refresh', cursorField: 'at', since: undefined, checkpoint: undefined },
      signal: new AbortController().signal,
      report: () => undefined,
      log: memoryLogger(),
    })) {
      records.push(...page.records);
      const s = (page.checkpoint as { sliced?: { states: ({ done?: boolean } | null)[] } }).sliced;
      // The last slice is done while earlier ones still run: a record nobody has read yet moves to now.
      if (!modified && s && s.states.at(-1)?.done && s.states.some((x) => !x?.done)) {
        const unread = [...store.values()].find((r) => !records.some((x) => x.id === r.id));
        if (unread) {
          store.set(unread.id, { ...unread, at: new Date().toISOString(), v: 2 });
          modified = true;
        }
      }
    }
    expect(modified).toBe(true);
    expect(ids(records.filter((r, i, a) => a.findLastIndex((x) => x.id === r.id) === i))).toEqual([...store.keys()].sort());
    expect(records.some((r) => r.v === 2)).toBe(true);
  });

  it("sized by the vendor's count: a table of a few pages is one scan; a large one gets slices of at least two pages", async () => {
    const counted = restTable({ ...slicedDecl, slices: { ...slicedDecl.slices, count: { params: { withTotal: true }, total: 'total' } } });
    const small = new Map([...make()].slice(0, 50));
    let v = vendor(small);
    let r = await read(counted, v.http, {});
    expect(ids(r.records)).toEqual([...small.keys()].sort());
    expect(v.maxInFlight()).toBe(1);
    expect(v.requests).toHaveLength(5 + 1); // one scan: 5 pages and the empty one that ends it (the count rode on the first)
    const store = make();
    v = vendor(store);
    r = await read(counted, v.http, {});
    expect(ids(r.records)).toEqual([...store.keys()].sort());
    expect(v.maxInFlight()).toBe(3);
    expect((r.checkpoints[0] as { sliced: { edges: string[] } }).sliced.edges.length - 1).toBe(9);
  });

  it('a window re-sync (--until) asks the vendor for nothing after the window, sliced or not', async () => {
    const store = make();
    const until = '2024-03-01T00:00:00.000Z';
    const inWindow = [...store.values()].filter((r) => r.at >= '2024-01-20T00:00:00.000Z' && r.at <= until).map((r) => r.id).sort();
    for (const mode of ['off', 'force']) {
      process.env.SLUICE_SLICES = mode;
      try {
        const v = vendor(store);
        const records: DataRecord[] = [];
        for await (const page of sliced.read({
          source: 's',
          table: 'things',
          config: {},
          client: { http: v.http },
          request: { mode: 'incremental', cursorField: 'at', since: '2024-01-20T00:00:00.000Z', until, checkpoint: undefined },
          signal: new AbortController().signal,
          report: () => undefined,
          log: memoryLogger(),
        }))
          records.push(...page.records);
        expect(ids(records), mode).toEqual(inWindow);
        expect(v.requests.every((r) => ([] as string[]).concat(r.query?.where as string[]).includes('at < 2024-03-01T00:00:00.001Z')), mode).toBe(true);
      } finally {
        delete process.env.SLUICE_SLICES;
      }
    }
  });

  it('a slice that fails fails the read, and the other slices stop', async () => {
    const store = make();
    const v = vendor(store, { failOn: (where) => where.some((w) => w.startsWith('at < ')) && where.some((w) => w.startsWith('after ')) });
    const err = await read(sliced, v.http, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    const n = v.requests.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(v.requests.length).toBe(n);
  });
});
