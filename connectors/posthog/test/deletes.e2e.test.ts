import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';
import { start, sourceConfig, type PostHogEmulator } from '@sluice/emulators/posthog/index';
import { uuidOrder } from '../src/client';

/**
 * `deletes: { detect: reconcile, handle: soft }` on PostHog persons, end to end: `sluice sync` through
 * Temporal, the PostHog emulator (a person deleted there between syncs) and the DuckLake warehouse. The
 * reconciliation reads the ids only (the persons table's key scan: `SELECT id FROM persons … LIMIT 50000`).
 */

const HOUR = 3600_000;
type TableResultJson = { table: string; outcome: string; rowsWritten: number; rowsDeleted?: number; error?: string };

let ph: PostHogEmulator;
let env: SluiceEnv;

const source = (): SourceYaml[] => [
  { name: 'ph_del', type: 'posthog', config: { ...sourceConfig(ph), pageSize: 9 }, tables: { persons: { mode: 'incremental', deletes: { detect: 'reconcile', handle: 'soft' } } as never } },
];

async function sync(): Promise<{ code: number; result: TableResultJson; stderr: string; queries: string[] }> {
  const from = ph.queryLog.length;
  const r = await env.run('sync', 'ph_del', '--json');
  const tables = JSON.parse(r.stdout)[0].tables as TableResultJson[];
  return { code: r.code, result: tables.find((t) => t.table === 'persons') ?? tables[0]!, stderr: r.stderr, queries: ph.queryLog.slice(from).map((q) => q.query) };
}

const KEY_QUERY = /^SELECT id FROM persons( WHERE id > toUUID\('[0-9a-f-]{36}'\))? ORDER BY id ASC LIMIT 50000$/;
/** The table's own read: persons with their columns, and their distinct ids. */
const FULL_READ = /^SELECT (id, created_at, properties, is_identified FROM persons|person_id, distinct_id FROM person_distinct_ids) /;

beforeAll(async () => {
  ph = await start({ seed: 41, nowMs: Date.now() - HOUR, days: 6, customers: 30, knobs: { queryLimit: 100_000 } });
  env = await sluiceEnv({ sources: source() });
});
afterAll(async () => {
  await env?.close();
  await ph?.close();
});

describe('posthog persons: deletes: reconcile, soft', () => {
  it('marks a person deleted in PostHog with _sluice_deleted_at (the others NULL), the reconciliation reading ids only', async () => {
    const first = await sync();
    expect(first.code, first.stderr).toBe(0);
    const n = ph.project.persons.size;
    expect(n).toBeGreaterThan(9);
    expect(first.result).toMatchObject({ outcome: 'succeeded', rowsWritten: n, rowsDeleted: 0 });
    // Every sync reconciles: one key-only query (n < 50 000), after the full read.
    expect(first.queries.filter((q) => KEY_QUERY.test(q))).toHaveLength(1);

    const gone = [...ph.project.persons.keys()].sort((a, b) => (uuidOrder(a) < uuidOrder(b) ? -1 : 1))[4]!;
    expect(ph.project.deletePerson(gone)).toBe(true);
    const second = await sync();
    expect(second.code, second.stderr).toBe(0);
    expect(second.result).toMatchObject({ outcome: 'succeeded', rowsDeleted: 1 });

    const marked = await env.query<{ id: string }>(`SELECT id FROM ph_del.persons WHERE _sluice_deleted_at IS NOT NULL`);
    expect(marked.map((r) => r.id)).toEqual([gone]);
    const live = await env.query<{ id: string }>(`SELECT id FROM ph_del.persons WHERE _sluice_deleted_at IS NULL ORDER BY id`);
    expect(live.map((r) => r.id)).toEqual([...ph.project.persons.keys()].sort());

    // The sync's queries: the full read (persons pages of 9 and their distinct ids), then the key scan, which
    // selected the id alone, at PostHog's largest page.
    const keyQueries = second.queries.filter((q) => KEY_QUERY.test(q));
    expect(keyQueries).toEqual(['SELECT id FROM persons ORDER BY id ASC LIMIT 50000']);
    expect(second.queries.filter((q) => !KEY_QUERY.test(q)).every((q) => FULL_READ.test(q))).toBe(true);
    expect(second.queries.findIndex((q) => KEY_QUERY.test(q))).toBe(second.queries.length - 1);

    const [log] = await env.query<{ rows_deleted: number; reconciled_at: string | null }>(
      `SELECT rows_deleted, reconciled_at FROM sluice.syncs WHERE source = 'ph_del' AND outcome = 'succeeded' ORDER BY finished DESC LIMIT 1`,
    );
    expect(Number(log!.rows_deleted)).toBe(1);
    expect(log!.reconciled_at).toBeTruthy();
  });
});
