import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dataFiles, stateOf, syncPages, tableRows, tempWarehouse } from './helpers';

const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };
const cursorOf = (wh: ReturnType<typeof tempWarehouse>) => stateOf(wh).then((s) => s.cursor);
const rec = (id: string, createdAt: string, updatedAt: string, extra: Record<string, unknown> = {}) => ({ id, createdAt, updatedAt, total: 100, lines: [{ sku: 'A', qty: 1 }], ...extra });

describe('warehouse modes', () => {
  it('full refresh lands typed, monthly-partitioned Parquet and replaces the table', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'full_refresh', pages: [[rec('a', '2024-01-05T10:00:00.000Z', '2024-01-05T10:00:00.000Z'), rec('b', '2024-02-05T10:00:00.000Z', '2024-02-06T10:00:00.000Z')], [rec('c', '2024-02-07T00:00:00Z', '2024-02-07T00:00:00Z', { createdAt: null })]] });
    // Monthly partitions by the UTC month of createdAt; records without one are queryable like the rest.
    const months = async () => [...new Set((await dataFiles(wh)).map((f) => path.dirname(f)))].sort();
    expect(await months()).toEqual(['year=2024/month=1', 'year=2024/month=2', 'year=__HIVE_DEFAULT_PARTITION__/month=__HIVE_DEFAULT_PARTITION__']);
    for (const f of await dataFiles(wh)) expect(fs.existsSync(path.join(wh.root, 'data', 'src', 'orders', f))).toBe(true);
    const types = await tableRows(wh, `SELECT column_name, column_type AS data_type FROM (DESCRIBE src.orders)`);
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.data_type]))).toMatchObject({ id: 'VARCHAR', createdAt: 'TIMESTAMP WITH TIME ZONE', total: 'BIGINT', lines: 'JSON', _sluice_synced_at: 'TIMESTAMP WITH TIME ZONE', _sluice_sync_id: 'VARCHAR' });
    await syncPages(wh, { shape, mode: 'full_refresh', pages: [[rec('z', '2023-12-01T00:00:00Z', '2023-12-01T00:00:00Z')]] });
    expect(await tableRows(wh, 'SELECT id FROM src.orders')).toEqual([{ id: 'z' }]);
    expect(await months()).toEqual(['year=2023/month=12']);
  });

  it('incremental merges by primary key, newest version wins, rewriting only touched months', async () => {
    const wh = tempWarehouse();
    const first = [rec('a', '2024-01-05T10:00:00Z', '2024-01-05T10:00:00Z'), rec('b', '2024-02-05T10:00:00Z', '2024-02-05T10:00:00Z'), rec('c', '2024-03-05T10:00:00Z', '2024-03-05T10:00:00Z')];
    const r1 = await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [first] });
    expect(r1.cursorAfter).toBe('2024-03-05T10:00:00Z');
    const janFile = (await dataFiles(wh)).find((f) => f.startsWith('year=2024/month=1/'));
    // b updated twice in one sync (seen on two pages), d inserted in March
    const r2 = await syncPages(wh, {
      shape, mode: 'incremental', cursorField: 'updatedAt', since: r1.cursorAfter,
      pages: [[rec('b', '2024-02-05T10:00:00Z', '2024-03-06T00:00:00Z', { total: 1 })], [rec('b', '2024-02-05T10:00:00Z', '2024-03-07T00:00:00Z', { total: 2 }), rec('d', '2024-03-09T00:00:00Z', '2024-03-09T00:00:00Z')]],
    });
    expect(r2.cursorAfter).toBe('2024-03-09T00:00:00Z');
    expect(r2.monthsTouched).toBe(2);
    const rows = await tableRows(wh, 'SELECT id, total FROM src.orders ORDER BY id');
    expect(rows).toEqual([{ id: 'a', total: 100 }, { id: 'b', total: 2 }, { id: 'c', total: 100 }, { id: 'd', total: 100 }]);
    expect((await dataFiles(wh)).filter((f) => f.startsWith('year=2024/month=1/'))).toEqual([janFile]); // January untouched
    expect(await cursorOf(wh)).toBe('2024-03-09T00:00:00Z');
  });

  it('append-only never updates and never appends the same (key, cursor) twice', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'append_only', cursorField: 'updatedAt', pages: [[rec('a', '2024-01-05T10:00:00Z', '2024-01-05T10:00:00Z')]] });
    await syncPages(wh, { shape, mode: 'append_only', cursorField: 'updatedAt', pages: [[rec('a', '2024-01-05T10:00:00Z', '2024-01-05T10:00:00Z'), rec('a', '2024-01-05T10:00:00Z', '2024-01-06T10:00:00Z', { total: 5 })]] });
    const rows = await tableRows(wh, 'SELECT id, total, updatedAt FROM src.orders ORDER BY updatedAt');
    expect(rows.map((r) => r.total)).toEqual([100, 5]);
  });

  it('schema evolution: new columns, widening and incompatible changes keep every value', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('a', '2024-01-05T10:00:00Z', '2024-01-05T10:00:00Z', { qty: 1, note: 7 })]] });
    const r = await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('b', '2024-01-06T10:00:00Z', '2024-01-06T10:00:00Z', { qty: 1.5, note: { text: 'hi' }, extra: 'x' })]] });
    expect(r.schemaChanges).toEqual(expect.arrayContaining([
      { column: 'qty', from: 'BIGINT', to: 'DOUBLE', kind: 'widened' },
      { column: 'note', from: 'BIGINT', to: 'JSON', kind: 'incompatible' },
      { column: 'extra', from: null, to: 'VARCHAR', kind: 'added' },
    ]));
    const rows = await tableRows(wh, 'SELECT id, qty, note::VARCHAR AS note, extra FROM src.orders ORDER BY id');
    expect(rows).toEqual([{ id: 'a', qty: 1, note: '7', extra: null }, { id: 'b', qty: 1.5, note: '{"text":"hi"}', extra: 'x' }]);
  });

  it('a column added by a merge that left other months alone reads NULL there', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('a', '2024-01-05T10:00:00Z', '2024-01-05T10:00:00Z'), rec('b', '2024-02-05T10:00:00Z', '2024-02-05T10:00:00Z')]] });
    const r = await syncPages(wh, { shape, mode: 'incremental', cursorField: 'updatedAt', pages: [[rec('c', '2024-02-09T10:00:00Z', '2024-02-09T10:00:00Z', { extra: 'x' })]] });
    expect(r.schemaChanges).toEqual([{ column: 'extra', from: null, to: 'VARCHAR', kind: 'added' }]);
    expect(await tableRows(wh, 'SELECT id, extra FROM src.orders ORDER BY id')).toEqual([{ id: 'a', extra: null }, { id: 'b', extra: null }, { id: 'c', extra: 'x' }]);
  });

  it('a replace that staged one key twice (moved mid-scan) keeps only the newest version', async () => {
    const wh = tempWarehouse();
    await syncPages(wh, {
      shape, mode: 'full_refresh', cursorField: 'updatedAt',
      pages: [[rec('a', '2024-01-05T10:00:00Z', '2024-01-05T10:00:00Z', { total: 1 }), rec('b', '2024-01-06T10:00:00Z', '2024-01-06T10:00:00Z')], [rec('a', '2024-03-05T10:00:00Z', '2024-03-07T00:00:00Z', { total: 2 })]],
    });
    expect(await tableRows(wh, `SELECT id, total, strftime(createdAt, '%Y-%m') AS m FROM src.orders ORDER BY id`)).toEqual([{ id: 'a', total: 2, m: '2024-03' }, { id: 'b', total: 100, m: '2024-01' }]);
  });
});

describe('staging resume', () => {
  it('resumes exactly after the last staged page, even when the heartbeat lags behind', async () => {
    const { StagingWriter } = await import('../src/index');
    const wh = tempWarehouse();
    const dir = wh.staging('src', 'orders', 'resume-1');
    const first = StagingWriter.open({ dir, cursorField: 'updatedAt' }).writer;
    first.writePage([rec('a', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')], { page: 2 });
    const lagging = structuredClone(first.state); // what the last heartbeat carried
    first.writePage([rec('b', '2024-01-02T00:00:00Z', '2024-01-02T00:00:00Z')], { page: 3 });
    first.writePage([rec('c', '2024-01-03T00:00:00Z', '2024-01-03T00:00:00Z')], { page: 4 });
    const { writer, resumed } = StagingWriter.open({ dir, cursorField: 'updatedAt', resume: lagging });
    expect(resumed).toBe(true);
    expect(writer.state.pages).toBe(3);
    expect(writer.state.checkpoint).toEqual({ page: 4 });
    expect(writer.state.maxCursor).toBe('2024-01-03T00:00:00Z');
    // a page file whose state was never written (killed between the two writes) is discarded
    const fs = await import('node:fs');
    fs.writeFileSync(`${dir}/page-0000004.ndjson`, '{"id":"d"}\n');
    const again = StagingWriter.open({ dir, cursorField: 'updatedAt' });
    expect(again.writer.state.pages).toBe(3);
    expect(fs.existsSync(`${dir}/page-0000004.ndjson`)).toBe(false);
  });
});
