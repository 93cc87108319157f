import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startCommercetools, sourceConfig, DEMO_CLIENT, type ApiClient, type Handle as CtEmulator } from '../../packages/emulators/src/commercetools/index';
import { loadConfig } from '../../packages/cli/src/config';
import { withLake } from '../../packages/warehouse/src/lake';
import { sluiceEnv, type SluiceEnv, type SourceYaml } from '@sluice/testing/harness';

/**
 * Deletions from the vendor's own feed (issue 18, `deletes: { detect: vendor }`), end to end: `sluice sync`
 * through Temporal, the commercetools emulator (records deleted there between syncs publish OrderDeleted /
 * CustomerDeleted Messages) and the DuckLake warehouse.
 */

type TableResultJson = { table: string; outcome: string; rowsWritten: number; rowsDeleted?: number; error?: string };
const NO_MESSAGES: ApiClient = { clientId: 'feed-no-messages', clientSecret: 'feed-no-messages-secret-1', scopes: DEMO_CLIENT.scopes.filter((s) => s !== 'view_messages') };
const COUNTS = { orders: 12, customers: 8, carts: 0, payments: 0, 'product-projections': 0, categories: 0, 'discount-codes': 0, inventory: 0 };

describe('deletes: { detect: vendor } (commercetools Messages)', () => {
  let emu: CtEmulator;
  let env: SluiceEnv;
  const sources = (orders: Record<string, unknown> = { detect: 'vendor' }): SourceYaml[] => [
    { name: 'feed_ct', type: 'commercetools', config: { ...sourceConfig(emu, DEMO_CLIENT), pageSize: 5 }, tables: { orders: { mode: 'incremental', deletes: orders } as never, customers: { mode: 'incremental', deletes: { detect: 'vendor', handle: 'hard' } } as never } },
    { name: 'feed_ct_noscope', type: 'commercetools', config: sourceConfig(emu, NO_MESSAGES), tables: { orders: { mode: 'incremental', deletes: { detect: 'vendor' } } as never } },
  ];
  async function sync(...args: string[]): Promise<{ code: number; tables: Record<string, TableResultJson>; stderr: string }> {
    const r = await env.run('sync', ...args, '--json');
    const tables = Object.fromEntries((JSON.parse(r.stdout)[0].tables as TableResultJson[]).map((t) => [t.table, t]));
    return { code: r.code, tables, stderr: r.stderr };
  }
  const feedCursor = async (table: string) =>
    (await env.query<{ c: string | null }>(`SELECT max(delete_feed_cursor) AS c FROM sluice.syncs WHERE source = 'feed_ct' AND "table" = '${table}' AND outcome = 'succeeded'`))[0]!.c;
  const messageRequests = () => emu.requests.filter((r) => r.path.endsWith('/messages'));

  beforeAll(async () => {
    emu = await startCommercetools({ seed: 1818, counts: COUNTS, clients: [DEMO_CLIENT, NO_MESSAGES] });
    env = await sluiceEnv({ sources: sources() });
  });
  afterAll(async () => {
    await env?.close();
    await emu?.close();
  });

  it('soft-marks / hard-removes exactly the records deleted at the vendor between syncs; the feed cursor is saved and advances', async () => {
    const first = await sync('feed_ct');
    expect(first.code, first.stderr).toBe(0);
    expect(first.tables.orders).toMatchObject({ outcome: 'succeeded', rowsWritten: 12, rowsDeleted: 0 });
    expect(first.tables.customers).toMatchObject({ outcome: 'succeeded', rowsWritten: 8, rowsDeleted: 0 });
    const c1 = await feedCursor('orders');
    expect(c1).toBeTruthy();

    const orderIds = emu.store.ids_('orders');
    const goneOrders = [orderIds[2]!, orderIds[7]!].sort();
    const goneCustomer = emu.store.ids_('customers')[3]!;
    for (const id of goneOrders) expect(emu.store.remove('orders', id)).toBe(true);
    expect(emu.store.remove('customers', goneCustomer)).toBe(true);
    expect(emu.store.messages.map((m) => m.type)).toEqual(['OrderDeleted', 'OrderDeleted', 'CustomerDeleted']);
    const before = messageRequests().length;

    const second = await sync('feed_ct');
    expect(second.code, second.stderr).toBe(0);
    expect(second.tables.orders).toMatchObject({ outcome: 'succeeded', rowsDeleted: 2 });
    expect(second.tables.customers).toMatchObject({ outcome: 'succeeded', rowsDeleted: 1 });
    // The feed was read from the saved cursor, for each table its own message type.
    const asked = messageRequests().slice(before).map((r) => new URLSearchParams(r.query).getAll('where'));
    expect(asked).toContainEqual(['type = "OrderDeleted"', `createdAt >= "${c1}"`]);
    expect(asked).toContainEqual(expect.arrayContaining(['type = "CustomerDeleted"']));

    const marked = await env.query<{ id: string }>(`SELECT id FROM feed_ct.orders WHERE _sluice_deleted_at IS NOT NULL ORDER BY id`);
    expect(marked.map((r) => r.id)).toEqual(goneOrders);
    expect(await env.query(`SELECT count(*)::INT AS n FROM feed_ct.orders WHERE _sluice_deleted_at IS NULL`)).toEqual([{ n: 10 }]);
    const customers = await env.query<{ id: string }>(`SELECT id FROM feed_ct.customers ORDER BY id`);
    expect(customers.map((r) => r.id)).toEqual(emu.store.ids_('customers'));
    const c2 = await feedCursor('orders');
    expect(Date.parse(c2!)).toBeGreaterThan(Date.parse(c1!));
    const [log] = await env.query<{ rows_deleted: number }>(`SELECT rows_deleted FROM sluice.syncs WHERE source = 'feed_ct' AND "table" = 'orders' AND outcome = 'succeeded' ORDER BY finished DESC LIMIT 1`);
    expect(Number(log!.rows_deleted)).toBe(2);

    // Nothing new at the vendor: nothing more is marked, the cursor still moves on.
    const third = await sync('feed_ct', '--table', 'orders');
    expect(third.code, third.stderr).toBe(0);
    expect(third.tables.orders!.rowsDeleted).toBe(0);
    expect(Date.parse((await feedCursor('orders'))!)).toBeGreaterThanOrEqual(Date.parse(c2!));
  });

  it('a feed cursor older than the vendor keeps its Messages fails clearly and deletes nothing; a reconciliation catches up and the feed resumes', async () => {
    const cfg = await loadConfig(env.configPath);
    const old = new Date(Date.now() - 20 * 86_400_000).toISOString();
    await withLake(cfg.warehouse, {}, ({ conn }) => conn.run(`UPDATE sluice.syncs SET delete_feed_cursor = '${old}' WHERE source = 'feed_ct' AND "table" = 'orders' AND delete_feed_cursor IS NOT NULL`));
    const gone = emu.store.ids_('orders')[0]!;
    emu.store.remove('orders', gone);
    const before = await env.query(`SELECT id, _sluice_deleted_at FROM feed_ct.orders ORDER BY id`);

    const failed = await sync('feed_ct', '--table', 'orders');
    expect(failed.code).toBe(1);
    expect(failed.tables.orders!.outcome).toBe('failed');
    expect(failed.tables.orders!.error).toContain(`was last read up to ${old}`);
    expect(failed.tables.orders!.error).toMatch(/keeps its events only 15 day\(s\).*may have been missed; nothing was deleted\. Reconcile once/);
    expect(await env.query(`SELECT id, _sluice_deleted_at FROM feed_ct.orders ORDER BY id`)).toEqual(before);

    await env.writeConfig(sources({ detect: 'reconcile' }));
    const graphqlBefore = emu.requests.filter((r) => r.path.endsWith('/graphql')).length;
    const reconciled = await sync('feed_ct', '--table', 'orders');
    expect(reconciled.code, reconciled.stderr).toBe(0);
    expect(reconciled.tables.orders!.rowsDeleted).toBe(1);
    // The key scan selected ids through the GraphQL API (key-only), not full records through REST.
    expect(emu.requests.filter((r) => r.path.endsWith('/graphql')).length).toBeGreaterThan(graphqlBefore);
    expect(Date.now() - Date.parse((await feedCursor('orders'))!)).toBeLessThan(86_400_000);

    await env.writeConfig(sources());
    const resumed = await sync('feed_ct', '--table', 'orders');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.tables.orders!.rowsDeleted).toBe(0);
    expect(await env.query(`SELECT count(*)::INT AS n FROM feed_ct.orders WHERE _sluice_deleted_at IS NOT NULL`)).toEqual([{ n: 3 }]);
  });

  it('without view_messages: the sync fails naming the scope, and sluice check says so', async () => {
    const r = await sync('feed_ct_noscope');
    expect(r.code).toBe(1);
    expect(r.tables.orders!.outcome).toBe('failed');
    expect(r.tables.orders!.error).toContain('missing scope view_messages');
    expect(r.tables.orders!.error).toContain('deletes: { detect: reconcile }');

    const check = await env.run('check', 'feed_ct_noscope');
    expect(check.stdout).toMatch(/⚠ deletes: \{ detect: vendor \} on orders: missing scope view_messages/);
    const fine = await env.run('check', 'feed_ct');
    expect(fine.code, fine.stdout + fine.stderr).toBe(0);
    expect(fine.stdout).not.toContain('view_messages');
  });

  it('sluice connectors commercetools shows which tables have a vendor delete feed', async () => {
    const text = await env.run('connectors', 'commercetools');
    expect(text.stdout).toContain('vendor delete feed');
    expect(text.stdout).toMatch(/deletes\s+vendor feed: GET \/\{config\.projectKey\}\/messages where type = "OrderDeleted", requires view_messages, kept 15 days/);
    const json = JSON.parse((await env.run('connectors', 'commercetools', '--json')).stdout) as { tables: { name: string; deleteFeed?: { requires?: string } }[] }[];
    expect(json[0]!.tables.filter((t) => t.deleteFeed).map((t) => t.name)).toEqual(['orders', 'customers', 'inventory']);
    expect(json[0]!.tables.find((t) => t.name === 'orders')!.deleteFeed).toMatchObject({ requires: 'view_messages', retentionMs: 15 * 86_400_000 });
  });
});
