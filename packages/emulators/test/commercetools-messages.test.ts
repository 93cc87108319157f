import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT, start, type Handle } from '../src/commercetools/index';

/** Messages: removing an order, customer or inventory entry publishes its ResourceDeleted message. */
describe('commercetools emulator: Messages', () => {
  let h: Handle;
  let now = Date.parse('2026-03-01T10:00:00.000Z');
  const NO_MESSAGES = { clientId: 'no-msg', clientSecret: 'no-msg-secret-123456', scopes: DEMO_CLIENT.scopes.filter((s) => s !== 'view_messages') };
  beforeAll(async () => {
    h = await start({ seed: 5, counts: { orders: 5, customers: 3, inventory: 2, payments: 2 }, clients: [DEMO_CLIENT, NO_MESSAGES], now: () => now });
  });
  afterAll(() => h?.close());

  const token = async (c: { clientId: string; clientSecret: string }) => {
    const res = await fetch(`${h.url}/oauth/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const messages = async (params: [string, string][], client = DEMO_CLIENT) => {
    const res = await fetch(`${h.url}/${h.projectKey}/messages?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${await token(client)}` } });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('records OrderDeleted (with the order), CustomerDeleted and InventoryEntryDeleted, in the Message shape; not for tables without one', async () => {
    const order = h.store.ids_('orders')[1]!;
    const customer = h.store.ids_('customers')[0]!;
    const entry = h.store.ids_('inventory')[0]!;
    const sku = h.store.get('inventory', entry)!.sku;
    h.store.remove('orders', order);
    now += 1000;
    h.store.remove('customers', customer);
    now += 1000;
    h.store.remove('inventory', entry);
    h.store.remove('payments', h.store.ids_('payments')[0]!);
    const all = await messages([['sort', 'createdAt asc'], ['sort', 'id asc']]);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ limit: 20, offset: 0, count: 3, total: 3 });
    const [o, c, i] = all.body.results;
    expect(o).toMatchObject({ type: 'OrderDeleted', version: 1, resource: { typeId: 'order', id: order }, createdAt: '2026-03-01T10:00:00.000Z', order: { id: order } });
    expect(typeof o.id).toBe('string');
    expect(typeof o.sequenceNumber).toBe('number');
    expect(typeof o.resourceVersion).toBe('number');
    expect(c).toMatchObject({ type: 'CustomerDeleted', resource: { typeId: 'customer', id: customer }, createdAt: '2026-03-01T10:00:01.000Z' });
    expect(i).toMatchObject({ type: 'InventoryEntryDeleted', resource: { typeId: 'inventory-entry', id: entry }, sku });
  });

  it('filters by type and createdAt, pages with limit, and refuses a client without view_messages', async () => {
    const byType = await messages([['where', 'type in ("OrderDeleted", "CustomerDeleted")'], ['where', 'createdAt >= "2026-03-01T10:00:01.000Z"'], ['sort', 'createdAt asc'], ['withTotal', 'false']]);
    expect(byType.body.results.map((m: { type: string }) => m.type)).toEqual(['CustomerDeleted']);
    expect(byType.body).not.toHaveProperty('total');
    expect((await messages([['limit', '2'], ['sort', 'createdAt asc']])).body.count).toBe(2);
    const denied = await messages([], NO_MESSAGES);
    expect(denied.status).toBe(403);
    expect(denied.body.errors[0]).toMatchObject({ code: 'insufficient_scope', message: expect.stringContaining('view_messages') });
  });

  it('keeps messages 15 days', async () => {
    now += 16 * 86_400_000;
    expect((await messages([])).body.count).toBe(0);
  });
});
