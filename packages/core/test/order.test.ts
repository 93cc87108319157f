import { describe, expect, it } from 'vitest';
import {
  SluiceError,
  anchoredPageNumber,
  checkPageOrder,
  compareKeys,
  keysetPaging,
  paginate,
  type DataRecord,
  type HttpClient,
  type HttpRequest,
  type Json,
  type Page,
} from '@sluice/core';

type Row = { ts: string; id: string };

/** A vendor API over `rows`: `where` is (ts, id) > after, `sort` is honoured unless `ignoreSort`. */
function fakeApi(rows: Row[], o: { ignoreSort?: boolean } = {}) {
  const requests: HttpRequest[] = [];
  const http = {
    options: { vendor: 'acme' },
    async request(req: HttpRequest) {
      requests.push(req);
      const after = req.query?.after as string | undefined;
      const [ts, id] = after ? (JSON.parse(after) as [string, string]) : [undefined, undefined];
      let list = rows.filter((r) => ts === undefined || r.ts > ts || (r.ts === ts && r.id > id!));
      if (!o.ignoreSort) list = [...list].sort((a, b) => compareKeys([a.ts, a.id], [b.ts, b.id]));
      return { status: 200, headers: {}, text: '', url: req.path, body: { results: list.slice(0, Number(req.query?.limit)) } };
    },
  } as unknown as HttpClient;
  return { http, requests };
}

const keyset = (size: number) =>
  keysetPaging({ fields: ['ts', 'id'], size, apply: (after, req) => (after ? { ...req, query: { ...req.query, after: JSON.stringify(after) } } : req) });

async function readAll(http: HttpClient, size: number, checkpoint?: Json): Promise<{ records: DataRecord[]; pages: Page[] }> {
  const pages: Page[] = [];
  for await (const page of paginate({ http, request: { path: '/things', query: { limit: size } }, paginator: keyset(size), records: (b) => b.results, checkpoint, table: 'things' })) pages.push(page);
  return { records: pages.flatMap((p) => p.records), pages };
}

/** Rows whose insertion order is not their (ts, id) order, with ties on ts. */
const ROWS: Row[] = Array.from({ length: 23 }, (_, i) => ({ ts: `2024-01-0${1 + ((i * 7) % 5)}T00:00:00.000Z`, id: `id-${String((i * 11) % 23).padStart(2, '0')}` }));

async function failure(p: Promise<unknown>): Promise<SluiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SluiceError);
  return err as SluiceError;
}

describe('checkPageOrder', () => {
  const base = { vendor: 'acme', table: 'things', fields: ['ts', 'id'] };

  it('accepts a non-decreasing page that starts after the previous key, and returns its last key', () => {
    expect(checkPageOrder({ ...base, after: ['a', '1'], keys: [['a', '2'], ['b', '0'], ['b', '0'], ['c', '9']] })).toEqual(['c', '9']);
    expect(checkPageOrder({ ...base, after: ['a', '1'], keys: [] })).toEqual(['a', '1']);
    expect(checkPageOrder({ ...base, after: null, keys: [undefined, ['x', '1'], undefined] })).toEqual(['x', '1']);
  });

  it('refuses a decrease within a page, naming the vendor, the table and both keys', () => {
    const e = (() => {
      try {
        checkPageOrder({ ...base, after: null, keys: [['2024-01-02', 'b'], ['2024-01-01', 'z']] });
      } catch (err) {
        return err as SluiceError;
      }
      throw new Error('no error');
    })();
    expect(e.kind).toBe('inconsistent');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('acme things');
    expect(e.message).toContain('(ts, id) ("2024-01-01", "z") follows (ts, id) ("2024-01-02", "b") within one page');
  });

  it('compares tuples: a later id with the same cursor is after, an earlier one is not', () => {
    expect(() => checkPageOrder({ ...base, after: ['t1', 'b'], keys: [['t1', 'c']] })).not.toThrow();
    expect(() => checkPageOrder({ ...base, after: ['t1', 'b'], keys: [['t1', 'a']] })).toThrow(/a page starts at \(ts, id\) \("t1", "a"\), which is not after the previous page's last key \(ts, id\) \("t1", "b"\)/);
  });

  it('a strict start refuses the previous key again; an inclusive one accepts it but not less', () => {
    expect(() => checkPageOrder({ ...base, after: ['t1', 'b'], keys: [['t1', 'b']] })).toThrow(/not after/);
    expect(checkPageOrder({ ...base, start: 'inclusive', after: ['t1'], keys: [['t1'], ['t2']] })).toEqual(['t2']);
    expect(() => checkPageOrder({ ...base, start: 'inclusive', after: ['t2'], keys: [['t1']] })).toThrow(/not at or after/);
  });

  it('compares numbers numerically, nulls first, strings by code point', () => {
    expect(compareKeys([9], [10])).toBeLessThan(0);
    expect(compareKeys([null], ['a'])).toBeLessThan(0);
    expect(compareKeys(['\u{ffff}'], ['\u{1f600}'])).toBeLessThan(0); // UTF-16 code units would say the opposite
    expect(compareKeys(['a'], ['a', 'b'])).toBeLessThan(0);
  });
});

describe('key-set paging with the order guard', () => {
  it('reads every record exactly once from an API that honours the sort', async () => {
    const { http } = fakeApi(ROWS);
    const { records, pages } = await readAll(http, 5);
    expect(records.map((r) => r.id).sort()).toEqual(ROWS.map((r) => r.id).sort());
    expect(new Set(records.map((r) => r.id)).size).toBe(ROWS.length);
    expect(pages.at(-1)!.checkpoint).toEqual({ done: true });
    expect(pages[0]!.checkpoint).toMatchObject({ last: [records[4]!.ts, records[4]!.id] });
  });

  it('fails loudly, and non-retryably, when the API ignores the sort', async () => {
    const { http } = fakeApi(ROWS, { ignoreSort: true });
    const e = await failure(readAll(http, 5));
    expect(e.kind).toBe('inconsistent');
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/^acme things: records came back out of order \(\(ts, id\) \(".*", "id-\d\d"\) follows \(ts, id\) \(".*", "id-\d\d"\) within one page\)/);
  });

  it('catches a page that starts before the previous one ended, even when each page is sorted', async () => {
    // A proxy that sorts each page but drops the key-set predicate: every page is the same sorted first page.
    const { http } = fakeApi(ROWS);
    const inner = http.request.bind(http);
    (http as { request: HttpClient['request'] }).request = (req) => inner({ ...req, query: { ...req.query, after: undefined } });
    const e = await failure(readAll(http, 5));
    expect(e.kind).toBe('inconsistent');
    expect(e.message).toContain("which is not after the previous page's last key");
  });

  it('resumes from a checkpoint in the middle of the sequence, checking the resumed page against the saved key', async () => {
    const { http } = fakeApi(ROWS);
    const first = await readAll(http, 5);
    const mid = first.pages[1]!.checkpoint as { state: { after: Json[] }; last: Json[] };
    const rest = await readAll(http, 5, mid);
    expect([...first.pages[0]!.records, ...first.pages[1]!.records, ...rest.records].map((r) => r.id)).toEqual(first.records.map((r) => r.id));
    // A checkpoint whose last key is beyond what the API returns next: the resumed page does not follow it.
    const e = await failure(readAll(http, 5, { ...mid, last: ['2099-01-01T00:00:00.000Z', 'zzz'] }));
    expect(e.message).toContain('("2099-01-01T00:00:00.000Z", "zzz")');
  });
});

describe('anchored page numbers with the order guard', () => {
  const rows = Array.from({ length: 12 }, (_, i) => ({ n: i, at: `2024-01-01 00:00:${String(Math.floor(i / 3)).padStart(2, '0')}` }));
  function api(shuffle: boolean) {
    return {
      options: { vendor: 'acme' },
      async request(req: HttpRequest) {
        const from = req.query?.from as string | undefined;
        const page = Number(req.query?.page);
        const size = Number(req.query?.pageSize);
        let list = rows.filter((r) => from === undefined || r.at >= from);
        if (shuffle) list = [...list].reverse();
        return { status: 200, headers: {}, text: '', url: req.path, body: list.slice((page - 1) * size, page * size) };
      },
    } as unknown as HttpClient;
  }
  const read = async (http: HttpClient) => {
    const out: DataRecord[] = [];
    const paginator = anchoredPageNumber({ size: 4, anchorParam: 'from', anchorOf: (r) => r.at as string, initial: null });
    for await (const p of paginate({ http, request: { path: '/list' }, paginator, records: (b) => b, table: 'list' })) out.push(...p.records);
    return out;
  };

  it('accepts the re-read anchor value (inclusive start) and reads everything', async () => {
    const out = await read(api(false));
    expect(new Set(out.map((r) => r.n)).size).toBe(rows.length);
  });

  it('a page restarted from a coarser anchor may re-read earlier keys; a next page number may not go back', async () => {
    // Anchors at minute resolution, keys to the second: a restart at the minute re-reads earlier seconds.
    const secs = Array.from({ length: 10 }, (_, i) => ({ n: i, at: `2024-01-01 00:0${Math.floor(i / 4)}:${String(10 + i).padStart(2, '0')}` }));
    const http = {
      options: { vendor: 'acme' },
      async request(req: HttpRequest) {
        const from = req.query?.from as string | undefined;
        const page = Number(req.query?.page);
        const list = secs.filter((r) => from === undefined || r.at >= from);
        return { status: 200, headers: {}, text: '', url: req.path, body: list.slice((page - 1) * 3, page * 3) };
      },
    } as unknown as HttpClient;
    const paginator = anchoredPageNumber({ size: 3, anchorParam: 'from', anchorOf: (r) => `${(r.at as string).slice(0, 16)}:00`, orderKey: (r) => [r.at], initial: null });
    const out: DataRecord[] = [];
    for await (const p of paginate({ http, request: { path: '/list' }, paginator, records: (b) => b, table: 'list' })) out.push(...p.records);
    expect(new Set(out.map((r) => r.n)).size).toBe(secs.length);
    // The same answers, resumed at page 2 of an anchor with a saved last key beyond them: refused.
    const resumed = paginate({ http, request: { path: '/list' }, paginator, records: (b) => b, table: 'list', checkpoint: { state: { anchor: null, page: 2 }, last: ['2024-01-01 00:09:00'] } });
    const e = await failure((async () => {
      for await (const _ of resumed) void _;
    })());
    expect(e.message).toContain(`a page starts at "2024-01-01 00:00:13", which is not at or after the previous page's last key "2024-01-01 00:09:00"`);
  });

  it('refuses a descending answer', async () => {
    const e = await failure(read(api(true)));
    expect(e.kind).toBe('inconsistent');
    expect(e.message).toContain('acme list: records came back out of order');
  });
});
