import { describe, expect, it } from 'vitest';
import { SluiceError, keysetScan, queryTable, type DataRecord, type Json, type Position, type QueryPagingDecl, type ScanPage, type TableSpec } from '@sluice/core';
import { failure, readSpec } from './read-spec';

/**
 * Query tables with key-set paging over a transport that is not REST (a query language): the vendor hook
 * answers "the page after this position", the engine owns the loop, resume, the guards and the catalogue.
 * The vendor here is an in-memory table that sorts its keys its own way (by the reversed string, as
 * ClickHouse sorts UUIDs by their halves), so the order guard must compare keys as the vendor does.
 */

type Row = { code: string; n: number };
const ROWS: Row[] = Array.from({ length: 23 }, (_, i) => ({ code: `k${String(i * 37 % 101).padStart(3, '0')}x${i % 4}`, n: i }));
/** The vendor's order: by the reversed code. */
const vendorKey = (code: unknown) => [...String(code)].reverse().join('');
const SORTED = [...ROWS].sort((a, b) => (vendorKey(a.code) < vendorKey(b.code) ? -1 : 1));
const all = SORTED.map((r) => r.code);

interface Vendor {
  fetch: (after: Position | null, size: number) => Promise<ScanPage>;
  calls: (Position | null)[];
}

/** A query API over `rows`: strictly after the key in its order, `size` rows, "more" when the page is full. */
function vendor(rows: Row[] = SORTED, o: { ignoreAfter?: boolean } = {}): Vendor {
  const calls: (Position | null)[] = [];
  return {
    calls,
    async fetch(after, size) {
      calls.push(after);
      const from = after === null || o.ignoreAfter ? rows : rows.filter((r) => vendorKey(r.code) > vendorKey(after[0]));
      const records = from.slice(0, size).map((r) => ({ ...r }));
      return { records, more: records.length === size };
    },
  };
}

const paging = (v: Vendor, extra: Partial<QueryPagingDecl> = {}): QueryPagingDecl =>
  ({ kind: 'keyset', size: { config: 'pageSize' }, fields: ['code'], orderKey: ([code]: Position) => [vendorKey(code)], fetch: ({ after, size }) => v.fetch(after, size), ...extra }) as QueryPagingDecl;

const table = (p: QueryPagingDecl, extra: Record<string, unknown> = {}) =>
  queryTable({ vendor: 'acme', name: 'things', description: 'things', primaryKey: ['code'], query: 'QL SELECT … FROM things ORDER BY code', paging: p, ...extra });

async function read(t: TableSpec, o: { checkpoint?: Json; stopAfter?: number; pageSize?: number } = {}) {
  const r = await readSpec(t, { config: { pageSize: o.pageSize ?? 5 }, request: { checkpoint: o.checkpoint }, stopAfter: o.stopAfter });
  return { ...r, codes: r.records.map((x) => x.code) };
}


describe('key-set query tables', () => {
  it('read every record once, in the vendor order, one query per page', async () => {
    const v = vendor();
    const r = await read(table(paging(v)));
    expect(r.codes).toEqual(all);
    expect(r.checkpoints.at(-1)).toEqual({ done: true });
    // Full pages say "maybe more": one query per page, plus one empty answer when the count divides evenly.
    expect(v.calls.length).toBe(Math.floor(all.length / 5) + 1);
    expect(v.calls[0]).toBeNull();
    expect(v.calls[1]).toEqual([SORTED[4]!.code]);
  });

  it('resume from a checkpoint in the middle of the page sequence and read exactly the rest', async () => {
    const first = await read(table(paging(vendor())), { stopAfter: 2 });
    const resumed = vendor();
    const rest = await read(table(paging(resumed)), { checkpoint: first.checkpoints[1] });
    expect([...first.codes, ...rest.codes]).toEqual(all);
    expect(resumed.calls[0]).toEqual([first.codes.at(-1)]);
    // A finished read resumes to nothing, without a query.
    const done = vendor();
    expect((await read(table(paging(done)), { checkpoint: { done: true } })).codes).toEqual([]);
    expect(done.calls).toEqual([]);
  });

  it('resume from a one-field key stored bare, as connectors wrote it before the engine', async () => {
    const rest = await read(table(paging(vendor())), { checkpoint: { after: SORTED[9]!.code } });
    expect(rest.codes).toEqual(all.slice(10));
  });

  it('refuse a checkpoint that is no position, saying the next sync starts afresh', async () => {
    const e = await failure(read(table(paging(vendor())), { checkpoint: { page: 3 } }));
    expect(e.kind).toBe('config');
    expect(e.message).toMatch(/^things: cannot resume from the checkpoint \{"page":3\}.*next one starts the table afresh/);
  });

  it('fail when the vendor ignores the sort, naming the vendor, the table and the two keys', async () => {
    const shuffled = [...ROWS]; // insertion order: not the vendor's
    const page = shuffled.slice(0, 5);
    const i = page.findIndex((r, j) => j > 0 && vendorKey(r.code) < vendorKey(page[j - 1]!.code));
    const e = await failure(read(table(paging(vendor(shuffled)))));
    expect(e).toBeInstanceOf(SluiceError);
    expect(e.kind).toBe('inconsistent');
    expect(e.message).toContain(`acme things: records came back out of order (code ${JSON.stringify(vendorKey(page[i]!.code))} follows code ${JSON.stringify(vendorKey(page[i - 1]!.code))} within one page)`);
  });

  it('fail when a page does not start after the previous page (the vendor ignored the position)', async () => {
    const e = await failure(read(table(paging(vendor(SORTED, { ignoreAfter: true })))));
    expect(e.kind).toBe('inconsistent');
    expect(e.message).toContain(`a page starts at code ${JSON.stringify(vendorKey(all[0]))}, which is not after the previous page's last key code ${JSON.stringify(vendorKey(all[4]))}`);
  });

  it('compare keys as the raw values without orderKey: the vendor order then trips the guard', async () => {
    const e = await failure(read(table(paging(vendor(), { orderKey: undefined }))));
    expect(e.kind).toBe('inconsistent');
  });

  it('refuse a repeated position (an empty page that claims more) instead of looping forever', async () => {
    let calls = 0;
    const stuck: QueryPagingDecl = { kind: 'keyset', size: 5, fields: ['code'], fetch: async () => (calls++, { records: [], more: true }) };
    const e = await failure(read(table(stuck)));
    expect(e.message).toMatch(/^acme things: key-set paging returned the same position twice/);
    expect(calls).toBe(1);
  });

  it('run a per-page lookup on every page before it is yielded', async () => {
    const t = table(paging(vendor()), { perPage: { describe: 'doubles', run: async (records: DataRecord[]) => records.map((r) => ({ ...r, twice: (r.n as number) * 2 })) } });
    const r = await read(t);
    expect(r.records.map((x) => x.twice)).toEqual(SORTED.map((x) => x.n * 2));
  });

  it('serve as a plain iterator, for a lookup inside another read', async () => {
    const v = vendor();
    const seen: string[] = [];
    for await (const page of keysetScan({ vendor: 'acme', table: 'lookup', fields: ['code'], orderKey: ([c]) => [vendorKey(c)], fetch: (after) => v.fetch(after, 7) })) seen.push(...page.records.map((r) => r.code as string));
    expect(seen).toEqual(all);
  });

  it('declare a key scan through the same engine: its own select list and page size, no per-page lookup, its own catalogue entry', async () => {
    const v = vendor();
    const selects: string[] = [];
    /** The vendor answers only the selected columns, with a page size of the scan's own. */
    const keysOnly: QueryPagingDecl = { kind: 'keyset', size: 9, fields: ['code'], orderKey: ([code]: Position) => [vendorKey(code)], fetch: async ({ after, size }) => {
      selects.push(`SELECT code LIMIT ${size}`);
      const page = await v.fetch(after, size);
      return { records: page.records.map((r) => ({ code: r.code })), more: page.more };
    } };
    let lookups = 0;
    const t = table(paging(vendor()), { perPage: { describe: 'labels', run: async (r: DataRecord[]) => (lookups++, r) }, keyScan: { query: 'QL SELECT code FROM things ORDER BY code', paging: keysOnly } });
    expect(t.keyScan!.reads).toEqual({ endpoint: 'QL SELECT code FROM things ORDER BY code', paging: { kind: 'keyset', pageSize: 9, fields: ['code'] } });
    expect(t.reads!.endpoint).toBe('QL SELECT … FROM things ORDER BY code');
    const keys = await readSpec({ ...t, read: t.keyScan!.read }, { config: { pageSize: 5 } });
    expect(keys.records).toEqual(all.map((code) => ({ code })));
    expect(keys.checkpoints.at(-1)).toEqual({ done: true });
    // ceil(23 / 9) pages at the scan's own size, not the table's pageSize 5.
    expect(selects).toEqual(Array(3).fill('SELECT code LIMIT 9'));
    expect(lookups).toBe(0);
    // Resumes and guards the order as the table's read does.
    const rest = await readSpec({ ...t, read: t.keyScan!.read }, { request: { checkpoint: keys.checkpoints[0] } });
    expect(rest.records.map((r) => r.code)).toEqual(all.slice(9));
    // Without a declaration, no key scan: reconciliation uses the table's own read.
    expect(table(paging(vendor())).keyScan).toBeUndefined();
  });

  it('describe the query, the paging kind, its size and key, and the per-page lookup for the catalogue', () => {
    const t = table(paging(vendor()), { perPage: { describe: 'labels: one lookup per page', run: async (r: DataRecord[]) => r } });
    expect(t.reads).toEqual({ endpoint: 'QL SELECT … FROM things ORDER BY code', paging: { kind: 'keyset', pageSize: { config: 'pageSize' }, fields: ['code'], perPage: 'labels: one lookup per page' } });
    expect(JSON.parse(JSON.stringify(t.reads))).toEqual(t.reads);
  });
});
