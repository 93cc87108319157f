import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  findLegacyTables,
  listTables,
  needsUpgrade,
  readSyncs,
  readTableState,
  simulatedCrash,
  tableExists,
  upgradeWarehouse,
  withLake,
  type UpgradeOptions,
  type WarehousePaths,
} from '../src/index';
import { plainDuckDB, syncPages, tableRows, tempWarehouse } from './helpers';

/**
 * A warehouse as the format before DuckLake left it (what commitStaged/writeManifest of that version
 * wrote): per table `<root>/<source>/<table>/_manifest.json` and Parquet files under month=YYYY-MM/
 * (partition column not in the files, system columns in them), plus warehouse.duckdb of views.
 */
const ORDERS_SCHEMA = [
  { name: 'id', type: 'VARCHAR' },
  { name: 'createdAt', type: 'TIMESTAMPTZ' },
  { name: 'updatedAt', type: 'TIMESTAMPTZ' },
  { name: 'total', type: 'BIGINT' },
  { name: 'lines', type: 'JSON' },
  { name: 'note', type: 'VARCHAR' },
];
const CUSTOMERS_SCHEMA = [
  { name: 'id', type: 'VARCHAR' },
  { name: 'score', type: 'DOUBLE' },
  { name: 'profile', type: 'JSON' },
];
const C1 = '2024-01-20T10:00:00.000Z';
const C2 = '2024-02-03T10:00:00.000Z';

async function writeLegacy(wh: WarehousePaths): Promise<void> {
  const engine = await plainDuckDB(path.join(wh.root, '.tmp', 'legacy'));
  const orders = path.join(wh.root, 'src', 'orders');
  const customers = path.join(wh.root, 'src', 'customers');
  const copy = async (sql: string, file: string) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await engine.conn.run(`COPY (${sql}) TO '${file}' (FORMAT parquet)`);
    return fs.statSync(file).size;
  };
  const sys = (sync: string, at: string) => `TIMESTAMPTZ '${at}' AS _sluice_synced_at, '${sync}' AS _sluice_sync_id`;
  try {
    // orders: the first sync (s1) wrote January; s2 added a column `note` and rewrote only the months it
    // touched (February, and month=unknown for a record without createdAt), so January's file lacks it.
    const jan = await copy(
      `SELECT * FROM (VALUES
         ('a', TIMESTAMPTZ '2024-01-05 10:00:00+00', TIMESTAMPTZ '2024-01-05 10:00:00+00', 100::BIGINT, '[{"sku":"A","qty":1}]'::JSON),
         ('b', TIMESTAMPTZ '2024-01-20 10:00:00+00', TIMESTAMPTZ '2024-01-20 10:00:00+00', 250::BIGINT, '[]'::JSON)) t(id, "createdAt", "updatedAt", total, lines),
       LATERAL (SELECT ${sys('s1', '2024-01-21 00:00:00+00')})`,
      path.join(orders, 'month=2024-01', 'part-s1-0.parquet'),
    );
    const feb = await copy(
      `SELECT 'c' AS id, TIMESTAMPTZ '2024-02-03 10:00:00+00' AS "createdAt", TIMESTAMPTZ '2024-02-03 10:00:00+00' AS "updatedAt", 75::BIGINT AS total, '{"gift":true}'::JSON AS lines, 'hello' AS note, ${sys('s2', '2024-02-04 00:00:00+00')}`,
      path.join(orders, 'month=2024-02', 'part-s2-0.parquet'),
    );
    const unknown = await copy(
      `SELECT 'd' AS id, NULL::TIMESTAMPTZ AS "createdAt", TIMESTAMPTZ '2024-02-01 08:00:00+00' AS "updatedAt", 5::BIGINT AS total, NULL::JSON AS lines, 'no date' AS note, ${sys('s2', '2024-02-04 00:00:00+00')}`,
      path.join(orders, 'month=unknown', 'part-s2-0.parquet'),
    );
    // the old format's garbage: a superseded file no manifest lists, and an interrupted commit's directory
    await copy(`SELECT 'a' AS id`, path.join(orders, 'month=2024-01', 'part-s0-0.parquet'));
    fs.mkdirSync(path.join(orders, '.tmp-s9'), { recursive: true });
    fs.writeFileSync(path.join(orders, '.tmp-s9', 'x.parquet'), 'partial');
    writeManifest(orders, {
      formatVersion: 1, source: 'src', table: 'orders', primaryKey: ['id'], partitionBy: 'createdAt', mode: 'incremental', cursorField: 'updatedAt', cursor: C2,
      schema: ORDERS_SCHEMA, rows: 4, updatedAt: '2024-02-04T00:00:00.000Z',
      files: [
        { path: 'month=2024-01/part-s1-0.parquet', month: '2024-01', rows: 2, bytes: jan },
        { path: 'month=2024-02/part-s2-0.parquet', month: '2024-02', rows: 1, bytes: feb, columnsKey: 'abc' },
        { path: 'month=unknown/part-s2-0.parquet', month: 'unknown', rows: 1, bytes: unknown, columnsKey: 'abc' },
      ],
      syncs: [
        { syncId: 's1', mode: 'incremental', fullRefresh: false, startedAt: '2024-01-20T23:59:00.000Z', finishedAt: '2024-01-21T00:00:00.000Z', outcome: 'succeeded', rowsRead: 2, rowsWritten: 2, pages: 1, cursorField: 'updatedAt', cursorAfter: C1, schemaChanges: [], monthsTouched: 1 },
        { syncId: 's2', mode: 'incremental', fullRefresh: false, startedAt: '2024-02-03T23:59:00.000Z', finishedAt: '2024-02-04T00:00:00.000Z', outcome: 'succeeded', rowsRead: 2, rowsWritten: 2, pages: 1, cursorField: 'updatedAt', cursorBefore: C1, cursorAfter: C2, schemaChanges: [{ column: 'note', from: null, to: 'VARCHAR', kind: 'added' }], monthsTouched: 2 },
        { syncId: 's3', mode: 'incremental', fullRefresh: false, startedAt: '2024-02-05T00:00:00.000Z', finishedAt: '2024-02-05T00:01:00.000Z', outcome: 'failed', rowsRead: 0, rowsWritten: 0, pages: 0, cursorField: 'updatedAt', cursorBefore: C2, cursorAfter: C2, error: 'HTTP 503 from the vendor', schemaChanges: [] },
      ],
    });

    // customers: unpartitioned (no partition field: every file under month=unknown/), and written by a
    // version that stored its JSON column as VARCHAR: DuckLake cannot register that file, it is copied.
    const cust = await copy(
      `SELECT * FROM (VALUES ('x', 1.5::DOUBLE, '{"tier":"gold"}'), ('y', NULL::DOUBLE, NULL)) t(id, score, profile), LATERAL (SELECT ${sys('t1', '2024-03-01 00:00:00+00')})`,
      path.join(customers, 'month=unknown', 'part-t1-0.parquet'),
    );
    writeManifest(customers, {
      formatVersion: 1, source: 'src', table: 'customers', primaryKey: ['id'], mode: 'full_refresh', schema: CUSTOMERS_SCHEMA, rows: 2, updatedAt: '2024-03-01T00:00:00.000Z',
      files: [{ path: 'month=unknown/part-t1-0.parquet', month: 'unknown', rows: 2, bytes: cust }],
      syncs: [{ syncId: 't1', mode: 'full_refresh', fullRefresh: false, startedAt: '2024-02-29T23:59:00.000Z', finishedAt: '2024-03-01T00:00:00.000Z', outcome: 'succeeded', rowsRead: 2, rowsWritten: 2, pages: 1, schemaChanges: [] }],
    });

    // warehouse.duckdb: the old catalog of views
    await engine.conn.run(`ATTACH '${wh.legacyCatalog}' AS old; CREATE SCHEMA old.src; CREATE VIEW old.src.orders AS SELECT 1 AS x; DETACH old`);
  } finally {
    engine.close();
    fs.rmSync(path.join(wh.root, '.tmp'), { recursive: true, force: true });
  }
}

function writeManifest(dir: string, m: unknown): void {
  fs.writeFileSync(path.join(dir, '_manifest.json'), JSON.stringify(m, null, 1));
}

/** What the old views showed: the manifest's files read by name, every column cast to the manifest's type. */
async function oldView(wh: WarehousePaths, table: string, schema: { name: string; type: string }[]): Promise<unknown[]> {
  const dir = path.join(wh.root, 'src', table);
  const m = JSON.parse(fs.readFileSync(path.join(dir, '_manifest.json'), 'utf8')) as { files: { path: string }[] };
  const engine = await plainDuckDB(path.join(wh.root, '.tmp', 'view'));
  try {
    const cols = [...schema, { name: '_sluice_synced_at', type: 'TIMESTAMPTZ' }, { name: '_sluice_sync_id', type: 'VARCHAR' }];
    const r = await engine.conn.runAndReadAll(
      `SELECT ${cols.map((c) => `CAST("${c.name}" AS ${c.type})::VARCHAR AS "${c.name}"`).join(', ')} FROM read_parquet([${m.files.map((f) => `'${path.join(dir, f.path)}'`).join(', ')}], union_by_name = true) ORDER BY id`,
    );
    return r.getRowObjectsJS();
  } finally {
    engine.close();
    fs.rmSync(path.join(wh.root, '.tmp'), { recursive: true, force: true });
  }
}

async function lakeView(wh: WarehousePaths, table: string, schema: { name: string }[]): Promise<unknown[]> {
  const cols = [...schema, { name: '_sluice_synced_at' }, { name: '_sluice_sync_id' }];
  return tableRows(wh, `SELECT ${cols.map((c) => `"${c.name}"::VARCHAR AS "${c.name}"`).join(', ')} FROM src.${table} ORDER BY id`);
}

async function lakeFileList(wh: WarehousePaths, table: string): Promise<string[]> {
  return withLake(wh, { readOnly: true }, async ({ conn }) => {
    const r = await conn.runAndReadAll(`SELECT data_file FROM ducklake_list_files('lake', '${table}', schema => 'src') ORDER BY 1`);
    return r.getRows().map((x) => path.relative(wh.root, String(x[0])));
  });
}

const snapshotCount = (wh: WarehousePaths) => tableRows(wh, 'SELECT count(*) AS n FROM lake.snapshots()').then((r) => Number(r[0]!.n));

async function upgrade(wh: WarehousePaths, opts: UpgradeOptions = {}) {
  const said: string[] = [];
  const result = await upgradeWarehouse(wh, { ...opts, say: (l) => said.push(l) });
  return { result, said };
}

/** `upgradeWarehouse` in a process of its own (upgrade-child.ts): each table's outcome. */
function child(root: string): Promise<{ table: string; outcome: string; message?: string }[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'upgrade-child.ts'), root], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { table: string; outcome: string }[]) : reject(new Error(`upgrade child exited ${code}: ${err}`))));
  });
}

describe('upgrade from the warehouse format before DuckLake', () => {
  it('moves every table into the lake: files registered in place (or copied when DuckLake cannot), values, types, cursor and history kept; then merges on top', async () => {
    const wh = tempWarehouse();
    await writeLegacy(wh);
    expect(findLegacyTables(wh).map((t) => `${t.source}.${t.table}`)).toEqual(['src.customers', 'src.orders']);
    expect(needsUpgrade(wh)).toBe(true);
    const before = { orders: await oldView(wh, 'orders', ORDERS_SCHEMA), customers: await oldView(wh, 'customers', CUSTOMERS_SCHEMA) };

    const { result, said } = await upgrade(wh);
    expect(result.tables.map((t) => [t.table, t.outcome, t.rows, t.registered, t.copied, t.syncs])).toEqual([
      ['customers', 'upgraded', 2, 0, 1, 1],
      ['orders', 'upgraded', 4, 3, 0, 3],
    ]);
    expect(result.legacyCatalogRemoved).toBe(true);
    expect(said.join('\n')).toMatch(/src\.customers: month=unknown\/part-t1-0\.parquet was copied into the lake, not registered: column "profile" is VARCHAR in the file but JSON in the table/);
    expect(said.join('\n')).toMatch(/src\.orders: 4 row\(s\) in the lake \(verified against the manifest\): 3 file\(s\) registered in place, 0 copied; 3 sync record\(s\) carried over; cursor updatedAt = 2024-02-03T10:00:00.000Z/);

    // Same values as the old views showed, with the same types.
    expect(await lakeView(wh, 'orders', ORDERS_SCHEMA)).toEqual(before.orders);
    expect(await lakeView(wh, 'customers', CUSTOMERS_SCHEMA)).toEqual(before.customers);
    expect((await tableRows(wh, `SELECT id, note FROM src.orders ORDER BY id`)).map((r) => r.note)).toEqual([null, null, 'hello', 'no date']); // January's file had no `note`
    const types = async (t: string) => Object.fromEntries((await tableRows(wh, `SELECT column_name, column_type FROM (DESCRIBE src.${t})`)).map((r) => [r.column_name, r.column_type]));
    expect(await types('orders')).toEqual({ id: 'VARCHAR', createdAt: 'TIMESTAMP WITH TIME ZONE', updatedAt: 'TIMESTAMP WITH TIME ZONE', total: 'BIGINT', lines: 'JSON', note: 'VARCHAR', _sluice_synced_at: 'TIMESTAMP WITH TIME ZONE', _sluice_sync_id: 'VARCHAR' });
    expect(await types('customers')).toEqual({ id: 'VARCHAR', score: 'DOUBLE', profile: 'JSON', _sluice_synced_at: 'TIMESTAMP WITH TIME ZONE', _sluice_sync_id: 'VARCHAR' });
    expect(await tableRows(wh, `SELECT profile->>'tier' AS tier FROM src.customers WHERE id = 'x'`)).toEqual([{ tier: 'gold' }]); // JSON, not a JSON string

    // orders' files are the lake's now, where they were; customers' copy is under data/ (partitioned like
    // any new table's: unpartitioned here), its old file gone.
    expect(await lakeFileList(wh, 'orders')).toEqual(['src/orders/month=2024-01/part-s1-0.parquet', 'src/orders/month=2024-02/part-s2-0.parquet', 'src/orders/month=unknown/part-s2-0.parquet']);
    const custFiles = await lakeFileList(wh, 'customers');
    expect(custFiles).toHaveLength(1);
    expect(custFiles[0]).toMatch(/^data\/src\/customers\/ducklake-[^/]+\.parquet$/);
    expect(fs.existsSync(path.join(wh.root, 'src', 'customers'))).toBe(false);
    // The old format is gone: manifests, the catalog of views, the garbage; registered files stay.
    expect(fs.existsSync(path.join(wh.root, 'src', 'orders', '_manifest.json'))).toBe(false);
    expect(fs.existsSync(wh.legacyCatalog)).toBe(false);
    expect(fs.existsSync(path.join(wh.root, 'src', 'orders', 'month=2024-01', 'part-s0-0.parquet'))).toBe(false);
    expect(fs.existsSync(path.join(wh.root, 'src', 'orders', '.tmp-s9'))).toBe(false);
    expect(fs.readdirSync(path.join(wh.root, 'src', 'orders')).sort()).toEqual(['month=2024-01', 'month=2024-02', 'month=unknown']);
    expect(findLegacyTables(wh)).toEqual([]);
    expect(needsUpgrade(wh)).toBe(false);

    // History and cursor carried over: the next sync starts from the manifest's cursor.
    await withLake(wh, { readOnly: true }, async ({ conn }) => {
      const state = await readTableState(conn, 'src', 'orders');
      expect(state).toMatchObject({ exists: true, cursor: C2, cursorField: 'updatedAt', mode: 'incremental' });
      expect(state.last).toMatchObject({ syncId: 's3', outcome: 'failed', error: 'HTTP 503 from the vendor', cursorAfter: C2 });
      expect(state.lastSucceeded).toMatchObject({ syncId: 's2', cursorBefore: C1, cursorAfter: C2, tableRows: 4, schemaChanges: [{ column: 'note', from: null, to: 'VARCHAR', kind: 'added' }] });
      expect((await readSyncs(conn, { source: 'src', table: 'orders' })).map((s) => [s.source, s.table, s.syncId, s.outcome])).toEqual([
        ['src', 'orders', 's3', 'failed'],
        ['src', 'orders', 's2', 'succeeded'],
        ['src', 'orders', 's1', 'succeeded'],
      ]);
      expect(await readTableState(conn, 'src', 'customers')).toMatchObject({ exists: true, cursor: undefined, mode: 'full_refresh', lastSucceeded: { syncId: 't1', tableRows: 2 } });
    });
    // `sluice status` names the upgrade's snapshot for each table.
    const snap = (await listTables(wh)).find((t) => t.table === 'orders')!.snapshot;
    expect(snap).toBeGreaterThan(0);

    // The next incremental sync merges on top: a (in a registered file) updated, e new; months partitioned.
    const shape = { primaryKey: ['id'] as const, partitionBy: 'createdAt' };
    const r = await syncPages(wh, {
      shape, mode: 'incremental', cursorField: 'updatedAt', since: C2,
      pages: [[
        { id: 'a', createdAt: '2024-01-05T10:00:00.000Z', updatedAt: '2024-03-01T00:00:00.000Z', total: 7, lines: [{ sku: 'A', qty: 2 }], note: 'changed' },
        { id: 'e', createdAt: '2024-03-02T00:00:00.000Z', updatedAt: '2024-03-02T00:00:00.000Z', total: 1, lines: [], note: 'new' },
      ]],
    });
    expect(r).toMatchObject({ cursorBefore: C2, cursorAfter: '2024-03-02T00:00:00.000Z', rowsWritten: 2, tableRows: 5, schemaChanges: [] });
    expect(await tableRows(wh, `SELECT id, total, note, _sluice_sync_id = 's1' AS old FROM src.orders ORDER BY id`)).toEqual([
      { id: 'a', total: 7, note: 'changed', old: false },
      { id: 'b', total: 250, note: null, old: true },
      { id: 'c', total: 75, note: 'hello', old: false },
      { id: 'd', total: 5, note: 'no date', old: false },
      { id: 'e', total: 1, note: 'new', old: false },
    ]);
    const files = await lakeFileList(wh, 'orders');
    expect(files.filter((f) => f.startsWith('data/')).map((f) => path.dirname(f)).sort()).toEqual(['data/src/orders/year=2024/month=1', 'data/src/orders/year=2024/month=3']);
    expect(files).toContain('src/orders/month=2024-01/part-s1-0.parquet'); // b still there (a deleted by a delete file)

    // A second run does nothing.
    const snapshots = await snapshotCount(wh);
    const again = await upgrade(wh);
    expect(again.result).toEqual({ tables: [], legacyCatalogRemoved: false });
    expect(again.said).toEqual([]);
    expect(await snapshotCount(wh)).toBe(snapshots);
  });

  it('a crash before the commit leaves nothing in the lake; a rerun does it all', async () => {
    const wh = tempWarehouse();
    await writeLegacy(wh);
    const crash: UpgradeOptions['crashPoint'] = (point, table) => {
      if (point === 'before-commit' && table === 'src.orders') throw simulatedCrash(point);
    };
    await expect(upgrade(wh, { crashPoint: crash })).rejects.toThrow(/simulated crash at before-commit/);
    // customers went through before the crash; orders did not
    expect(findLegacyTables(wh).map((t) => t.table)).toEqual(['orders']);
    expect(fs.existsSync(wh.legacyCatalog)).toBe(true);
    await withLake(wh, { readOnly: true }, async ({ conn }) => {
      expect(await tableExists(conn, 'src', 'orders')).toBe(false);
      expect(await readSyncs(conn, { source: 'src', table: 'orders' })).toEqual([]);
    });
    const { result } = await upgrade(wh);
    expect(result.tables.map((t) => [t.table, t.outcome, t.rows])).toEqual([['orders', 'upgraded', 4]]);
    expect(result.legacyCatalogRemoved).toBe(true);
    expect(await tableRows(wh, 'SELECT count(*) AS n FROM src.orders')).toEqual([{ n: 4 }]);
  });

  it('a crash after the commit leaves the manifest; a rerun recognises the upgrade and only finishes the cleanup', async () => {
    const wh = tempWarehouse();
    await writeLegacy(wh);
    await expect(upgrade(wh, { crashPoint: (point) => { if (point === 'after-commit') throw simulatedCrash(point); } })).rejects.toThrow(/after-commit/);
    expect(findLegacyTables(wh).map((t) => t.table)).toEqual(['customers', 'orders']); // the first table crashed right after its commit
    await expect(upgrade(wh, { crashPoint: (point, table) => { if (point === 'after-cleanup-files' && table === 'src.customers') throw simulatedCrash(point); } })).rejects.toThrow(/after-cleanup-files/);
    expect(fs.existsSync(path.join(wh.root, 'src', 'customers', 'month=unknown', 'part-t1-0.parquet'))).toBe(false); // the copied file went, its manifest not yet

    const { result, said } = await upgrade(wh);
    expect(result.tables.map((t) => [t.table, t.outcome, t.rows, t.registered, t.copied])).toEqual([
      ['customers', 'finished', 2, 0, 1],
      ['orders', 'upgraded', 4, 3, 0],
    ]);
    expect(said.join('\n')).toMatch(/src\.customers: had been upgraded already \(snapshot \d+\); finished removing its old manifest/);
    expect(findLegacyTables(wh)).toEqual([]);
    expect(await tableRows(wh, `SELECT (SELECT count(*) FROM src.customers) AS c, (SELECT count(*) FROM src.orders) AS o, (SELECT count(*) FROM sluice.syncs) AS s`)).toEqual([{ c: 2, o: 4, s: 4 }]);
  });

  it("carries the cursor over even when the manifest's history (capped at 200) no longer holds the sync that set it", async () => {
    const wh = tempWarehouse();
    await writeLegacy(wh);
    const file = path.join(wh.root, 'src', 'orders', '_manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { syncs: { outcome: string }[] };
    fs.writeFileSync(file, JSON.stringify({ ...m, syncs: m.syncs.filter((s) => s.outcome === 'failed') }));
    await upgrade(wh);
    await withLake(wh, { readOnly: true }, async ({ conn }) => {
      const state = await readTableState(conn, 'src', 'orders');
      expect(state).toMatchObject({ cursor: C2, cursorField: 'updatedAt', mode: 'incremental' });
      expect(state.lastSucceeded).toMatchObject({ syncId: 'upgrade-src-orders', tableRows: 4, warnings: [expect.stringMatching(/cursor carried over from the warehouse format before DuckLake/)] });
      expect((await readSyncs(conn, { source: 'src', table: 'orders' })).map((s) => s.syncId).sort()).toEqual(['s3', 'upgrade-src-orders']);
    });
    expect((await upgrade(wh)).result.tables).toEqual([]);
  });

  it('two processes upgrading at once (a `sluice dev` and a `sluice query` started together): each table is upgraded once, the other process finishes or finds nothing left', async () => {
    const wh = tempWarehouse();
    await writeLegacy(wh);
    const before = await oldView(wh, 'orders', ORDERS_SCHEMA);
    const outs = await Promise.all([child(wh.root), child(wh.root)]);
    const all = outs.flat();
    for (const t of ['customers', 'orders']) {
      const mine = all.filter((x) => x.table === t).map((x) => x.outcome);
      expect(mine.filter((o) => o === 'upgraded')).toHaveLength(1);
      expect(mine.every((o) => o === 'upgraded' || o === 'finished'), `${t}: ${JSON.stringify(all.filter((x) => x.table === t))}`).toBe(true);
    }
    expect(findLegacyTables(wh)).toEqual([]);
    expect(fs.existsSync(wh.legacyCatalog)).toBe(false);
    expect(await lakeView(wh, 'orders', ORDERS_SCHEMA)).toEqual(before);
    expect(await tableRows(wh, `SELECT count(*) AS n FROM sluice.syncs`)).toEqual([{ n: 4 }]);
  });

  it('copies every file when asked (or when the data is on object storage) and removes the old ones', async () => {
    const wh = tempWarehouse();
    await writeLegacy(wh);
    const before = await oldView(wh, 'orders', ORDERS_SCHEMA);
    const { result } = await upgrade(wh, { copy: true });
    expect(result.tables.map((t) => [t.table, t.registered, t.copied])).toEqual([['customers', 0, 1], ['orders', 0, 3]]);
    expect(await lakeView(wh, 'orders', ORDERS_SCHEMA)).toEqual(before);
    // copies land partitioned like new data; the record without createdAt in the default partition
    expect((await lakeFileList(wh, 'orders')).map((f) => path.dirname(f)).sort()).toEqual([
      'data/src/orders/year=2024/month=1',
      'data/src/orders/year=2024/month=2',
      'data/src/orders/year=__HIVE_DEFAULT_PARTITION__/month=__HIVE_DEFAULT_PARTITION__',
    ]);
    expect(fs.existsSync(path.join(wh.root, 'src'))).toBe(false);
  });

  it('leaves a table alone when the lake already has one of that name, and one whose files are not what its manifest says', async () => {
    const wh = tempWarehouse();
    await writeLegacy(wh);
    await syncPages(wh, { source: 'src', table: 'orders', shape: { primaryKey: ['id'] }, mode: 'full_refresh', pages: [[{ id: 'new' }]] });
    fs.rmSync(path.join(wh.root, 'src', 'customers', 'month=unknown', 'part-t1-0.parquet'));
    const { result, said } = await upgrade(wh);
    expect(result.tables.map((t) => [t.table, t.outcome])).toEqual([['customers', 'failed'], ['orders', 'conflict']]);
    expect(said.join('\n')).toMatch(/src\.customers: NOT upgraded: its manifest lists month=unknown\/part-t1-0\.parquet, which is missing/);
    expect(said.join('\n')).toMatch(/src\.orders: NOT upgraded: the lake already has a table src\.orders that was not upgraded from/);
    expect(findLegacyTables(wh)).toHaveLength(2);
    expect(fs.existsSync(wh.legacyCatalog)).toBe(true);
    expect(await tableRows(wh, 'SELECT id FROM src.orders')).toEqual([{ id: 'new' }]);
  });
});
