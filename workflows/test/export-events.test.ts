import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EVENT_NAMES, eventUuid, isHistorical, orderEvents, packBatches, personEvent, type CustomerRow, type MapContext, type OrderRow } from '../src/export-events';

const ctx = (o: Partial<MapContext> = {}): MapContext => ({ exportName: 'shop_to_posthog', source: 'shop', sourceType: 'shopify', names: DEFAULT_EVENT_NAMES, distinctId: 'email', baselineUs: undefined, ...o });
const us = (iso: string) => Date.parse(iso) * 1000;

const customer = (o: Partial<CustomerRow> = {}): CustomerRow => ({
  id: 'gid://shopify/Customer/7',
  email: 'Ada.Lovelace@Example.com',
  first_name: 'Ada',
  last_name: 'Lovelace',
  phone: '+15550001',
  orders_count: 3,
  total_spent: '120.50',
  currency: 'USD',
  updated_us: us('2024-05-01T10:00:00Z'),
  version: String(us('2024-05-01T10:00:00Z')),
  ...o,
});

const order = (o: Partial<OrderRow> = {}): OrderRow => ({
  id: 'gid://shopify/Order/1001',
  name: '#1001',
  created_us: us('2024-05-02T09:00:00Z'),
  updated_us: us('2024-05-02T09:00:00Z'),
  customer_id: 'gid://shopify/Customer/7',
  customer_known: true,
  customer_email: 'ada.lovelace@example.com',
  order_email: 'ada.lovelace@example.com',
  revenue: '40.00',
  currency: 'USD',
  line_items: 2,
  cancelled: false,
  cancelled_us: null,
  refunded: '0.00',
  ...o,
});

describe('event uuids', () => {
  it('are RFC 4122 version 5 uuids, the same for the same (export, record, kind, version)', () => {
    const a = eventUuid('e', 'gid://shopify/Order/1', 'order', 1);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(eventUuid('e', 'gid://shopify/Order/1', 'order', 1)).toBe(a);
  });
  it('differ when any part differs, and parts cannot run into each other', () => {
    const base = eventUuid('e', 'r', 'order', 1);
    const others = [eventUuid('f', 'r', 'order', 1), eventUuid('e', 's', 'order', 1), eventUuid('e', 'r', 'cancelled', 1), eventUuid('e', 'r', 'order', 2), eventUuid('e', 'ro', 'rder', 1)];
    expect(new Set([base, ...others]).size).toBe(6);
  });
  it('no collisions over 100k records', () => {
    const s = new Set<string>();
    for (let i = 0; i < 100_000; i++) s.add(eventUuid('x', String(i), 'order', 1));
    expect(s.size).toBe(100_000);
  });
  it('follow the v5 construction (SHA-1 of namespace + name)', () => {
    const u = eventUuid('a', 'b', 'c', 'd');
    const ns = Buffer.from('9b2c4a1e6f7d4e0a8c3b5d2f1a0e7c64', 'hex');
    const h = crypto.createHash('sha1').update(ns).update('a\u0000b\u0000c\u0000d').digest();
    expect(u.replace(/-/g, '').slice(0, 12)).toBe(h.subarray(0, 6).toString('hex'));
  });
});

describe('persons', () => {
  it('$identify with the lower-cased email as distinct id and $set of the customer', () => {
    const e = personEvent(customer(), ctx());
    expect(e).toMatchObject({ event: '$identify', distinct_id: 'ada.lovelace@example.com', timestamp: '2024-05-01T10:00:00.000Z' });
    expect(e.properties.$set).toEqual({
      email: 'ada.lovelace@example.com',
      name: 'Ada Lovelace',
      first_name: 'Ada',
      last_name: 'Lovelace',
      phone: '+15550001',
      shopify_customer_id: 'gid://shopify/Customer/7',
      orders_count: 3,
      total_spent: 120.5,
      total_spent_currency: 'USD',
    });
  });
  it('the vendor id as distinct id when configured, or when the customer has no email', () => {
    expect(personEvent(customer(), ctx({ distinctId: 'customer_id' })).distinct_id).toBe('gid://shopify/Customer/7');
    expect(personEvent(customer({ email: null }), ctx()).distinct_id).toBe('gid://shopify/Customer/7');
  });
  it('missing (excluded) values are left out of $set, not sent as null', () => {
    const set = personEvent(customer({ phone: null, first_name: null }), ctx()).properties.$set as Record<string, unknown>;
    expect(set).not.toHaveProperty('phone');
    expect(set).not.toHaveProperty('first_name');
    expect(set.name).toBe('Lovelace');
  });
  it('a changed customer is a new event (new uuid); the same state is the same uuid', () => {
    const a = personEvent(customer(), ctx());
    expect(personEvent(customer(), ctx()).uuid).toBe(a.uuid);
    expect(personEvent(customer({ version: 'later' }), ctx()).uuid).not.toBe(a.uuid);
  });
});

describe('orders', () => {
  it('a new order: `order completed` at its creation time, to its customer, with revenue', () => {
    const [e, ...rest] = orderEvents(order(), ctx());
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ event: 'order completed', distinct_id: 'ada.lovelace@example.com', timestamp: '2024-05-02T09:00:00.000Z' });
    expect(e!.properties).toMatchObject({ order_id: 'gid://shopify/Order/1001', order_name: '#1001', revenue: 40, currency: 'USD', line_items: 2, source: 'shopify', sluice_source: 'shop' });
    expect(e!.properties).not.toHaveProperty('$process_person_profile');
  });
  it('an order created before the last finished run is not new: only its later cancellation/refund is sent', () => {
    const o = order({ updated_us: us('2024-06-01T00:00:00Z'), cancelled: true, cancelled_us: us('2024-06-01T00:00:00Z'), refunded: '40.00' });
    const events = orderEvents(o, ctx({ baselineUs: us('2024-05-15T00:00:00Z') }));
    expect(events.map((e) => e.event)).toEqual(['order cancelled', 'order refunded']);
    expect(events[0]!.timestamp).toBe('2024-06-01T00:00:00.000Z');
    expect(events[1]!.properties.refunded_amount).toBe(40);
  });
  it('event names are configurable', () => {
    const names = { order: 'Purchase', refunded: 'Refund', cancelled: 'Cancel' };
    expect(orderEvents(order({ cancelled: true, cancelled_us: us('2024-05-03T00:00:00Z'), refunded: '5' }), ctx({ names })).map((e) => e.event)).toEqual(['Purchase', 'Cancel', 'Refund']);
  });
  it('a guest order creates no person of its own', () => {
    const [e] = orderEvents(order({ customer_id: null, customer_known: false, customer_email: null, order_email: 'Guest@Example.com' }), ctx());
    expect(e!.distinct_id).toBe('guest@example.com');
    expect(e!.properties.$process_person_profile).toBe(false);
    const [anon] = orderEvents(order({ customer_id: null, customer_known: false, customer_email: null, order_email: null }), ctx());
    expect(anon!.distinct_id).toBe('guest:gid://shopify/Order/1001');
  });
  it("a known customer's orders go to the same distinct id as the customer's person", () => {
    const c = customer({ email: null });
    const [e] = orderEvents(order({ customer_email: null }), ctx());
    expect(e!.distinct_id).toBe(personEvent(c, ctx()).distinct_id);
  });
  it('a second partial refund is a second event; the same refund sent again keeps its uuid', () => {
    const a = orderEvents(order({ refunded: '10.00' }), ctx({ baselineUs: us('2025-01-01T00:00:00Z') }));
    const b = orderEvents(order({ refunded: '10.00' }), ctx({ baselineUs: us('2025-01-01T00:00:00Z') }));
    const c = orderEvents(order({ refunded: '25.00' }), ctx({ baselineUs: us('2025-01-01T00:00:00Z') }));
    expect(a[0]!.uuid).toBe(b[0]!.uuid);
    expect(c[0]!.uuid).not.toBe(a[0]!.uuid);
  });
});

describe('batches', () => {
  const rows = Array.from({ length: 25 }, (_, i) => ({ id: `r${String(i).padStart(2, '0')}`, updated_us: 1000 + i, n: i % 3 }));
  const eventsOf = (r: (typeof rows)[number]) => Array.from({ length: r.n }, (_, k) => ({ uuid: `${r.id}-${k}`, event: 'x', distinct_id: 'd', timestamp: '2024-01-01T00:00:00Z', properties: {} }));

  it('hold at most maxEvents events, never split a record, and carry the cursor of their last record', () => {
    const batches = packBatches(rows, eventsOf, { maxEvents: 5, maxBytes: 1e9 });
    expect(batches.flatMap((b) => b.events.map((e) => e.uuid))).toEqual(rows.flatMap((r) => eventsOf(r).map((e) => e.uuid)));
    expect(batches.reduce((s, b) => s + b.records, 0)).toBe(rows.length);
    for (const b of batches) expect(b.events.length).toBeLessThanOrEqual(5);
    let seen = 0;
    for (const b of batches) {
      seen += b.records;
      expect(b.cursor).toEqual({ updatedUs: rows[seen - 1]!.updated_us, id: rows[seen - 1]!.id });
    }
  });
  it('are bounded in bytes', () => {
    const batches = packBatches(rows, eventsOf, { maxEvents: 1000, maxBytes: 400 });
    for (const b of batches) expect(b.events.reduce((s, e) => s + JSON.stringify(e).length + 1, 0)).toBeLessThanOrEqual(400 + 200);
    expect(batches.length).toBeGreaterThan(3);
  });
  it('a record with more events than a batch holds gets a batch of its own', () => {
    const big = [{ id: 'a', updated_us: 1, n: 7 }, { id: 'b', updated_us: 2, n: 1 }];
    const batches = packBatches(big, eventsOf, { maxEvents: 3, maxBytes: 1e9 });
    expect(batches.map((b) => b.events.length)).toEqual([7, 1]);
  });
  it('historical_migration only when every event is older than 48 hours', () => {
    const now = Date.parse('2024-06-10T00:00:00Z');
    const ev = (t: string) => ({ uuid: 'u', event: 'x', distinct_id: 'd', timestamp: t, properties: {} });
    expect(isHistorical([ev('2024-06-01T00:00:00Z'), ev('2024-06-07T00:00:00Z')], now)).toBe(true);
    expect(isHistorical([ev('2024-06-01T00:00:00Z'), ev('2024-06-09T12:00:00Z')], now)).toBe(false);
    expect(isHistorical([], now)).toBe(false);
  });
});
