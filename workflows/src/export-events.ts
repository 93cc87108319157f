import crypto from 'node:crypto';
import type { StreamCursor } from './export-shared';

/**
 * Commerce records → PostHog capture events, and events → bounded batches. Pure functions: the export
 * activity reads the rows from the lake (export-read.ts) and sends the batches (export-capture.ts).
 *
 * Exactly once rests on two things: each event's `uuid` is derived from what the event is (export name,
 * vendor record id, event kind, version), so a batch sent again after a crash carries the same uuids and
 * PostHog keeps one of each; and the cursor only moves once PostHog accepted a batch.
 */

/** A customer as the export reads it, whatever the vendor (columns a policy removed are null). */
export interface CustomerRow {
  id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  orders_count: number | null;
  total_spent: string | null;
  currency: string | null;
  updated_us: number;
  /** What makes this state of the customer distinct (commercetools `version`, else the updated time). */
  version: string;
}

/** An order as the export reads it, joined to its customer. */
export interface OrderRow {
  id: string;
  name: string | null;
  created_us: number;
  updated_us: number;
  customer_id: string | null;
  /** Whether the order's customer is in the customers table (then the order goes to that customer's person). */
  customer_known: boolean;
  /** The customer's email (lower-cased) when the order's customer is in the customers table. */
  customer_email: string | null;
  order_email: string | null;
  revenue: string | null;
  currency: string | null;
  line_items: number | null;
  /** Set when the vendor reports a cancellation; the time when it reports one (Shopify), else the updated time. */
  cancelled: boolean;
  cancelled_us: number | null;
  /** Amount refunded so far (Shopify `totalRefunded`), when the vendor reports it. */
  refunded: string | null;
}

export interface EventNames {
  order: string;
  refunded: string;
  cancelled: string;
}
export const DEFAULT_EVENT_NAMES: EventNames = { order: 'order completed', refunded: 'order refunded', cancelled: 'order cancelled' };

export type DistinctIdOf = 'email' | 'customer_id';

export interface CaptureEvent {
  uuid: string;
  event: string;
  distinct_id: string;
  timestamp: string;
  properties: Record<string, unknown>;
}

export interface MapContext {
  exportName: string;
  /** The `from:` source (a property of every event) and its type. */
  source: string;
  sourceType: string;
  names: EventNames;
  distinctId: DistinctIdOf;
  /**
   * The orders cursor of the last run that finished: an order created after it is new. (Not the current
   * cursor: after a crash mid-run, orders created before the current cursor may not have been sent yet.)
   */
  baselineUs: number | undefined;
}

/** RFC 4122 name-based (version 5, SHA-1) UUIDs, in a namespace of Sluice's own. */
const NAMESPACE = Buffer.from('9b2c4a1e6f7d4e0a8c3b5d2f1a0e7c64', 'hex');
export function eventUuid(exportName: string, recordId: string, kind: string, version: string | number): string {
  const name = [exportName, recordId, kind, String(version)].join('\u0000');
  const h = crypto.createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();
const num = (v: string | null) => (v === null || v === undefined || v === '' ? null : Number(v));

/** The distinct id of a customer: the lower-cased email, or the vendor id (configured, or when there is no email). */
export function customerDistinctId(c: { id: string; email: string | null }, mode: DistinctIdOf): string {
  const email = c.email?.trim().toLowerCase();
  return mode === 'email' && email ? email : c.id;
}

/** `$identify` for a new or changed customer: PostHog creates the person, or links and updates it. */
export function personEvent(c: CustomerRow, ctx: MapContext): CaptureEvent {
  const set: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v !== null && v !== undefined && v !== '') set[k] = v;
  };
  put('email', c.email?.toLowerCase());
  put('name', [c.first_name, c.last_name].filter(Boolean).join(' ') || null);
  put('first_name', c.first_name);
  put('last_name', c.last_name);
  put('phone', c.phone);
  put(`${ctx.sourceType}_customer_id`, c.id);
  put('orders_count', c.orders_count === null ? null : Number(c.orders_count));
  put('total_spent', num(c.total_spent));
  put('total_spent_currency', c.currency);
  return {
    uuid: eventUuid(ctx.exportName, c.id, '$identify', c.version),
    event: '$identify',
    distinct_id: customerDistinctId(c, ctx.distinctId),
    timestamp: iso(c.updated_us),
    properties: { $set: set, $lib: 'sluice', sluice_source: ctx.source },
  };
}

/**
 * The events of one order: `order completed` when it is new (at its creation time), `order cancelled` and
 * `order refunded` when the vendor reports them. Guest orders (no known customer) carry
 * `$process_person_profile: false`, so they create no person of their own.
 */
export function orderEvents(o: OrderRow, ctx: MapContext): CaptureEvent[] {
  const known = o.customer_known && o.customer_id !== null;
  const distinct = known ? customerDistinctId({ id: o.customer_id!, email: o.customer_email }, ctx.distinctId) : (o.order_email?.toLowerCase() || `guest:${o.id}`);
  const base: Record<string, unknown> = {
    order_id: o.id,
    ...(o.name !== null ? { order_name: o.name } : {}),
    ...(o.currency !== null ? { currency: o.currency } : {}),
    ...(o.line_items !== null ? { line_items: Number(o.line_items) } : {}),
    source: ctx.sourceType,
    sluice_source: ctx.source,
    $lib: 'sluice',
    ...(known ? {} : { $process_person_profile: false }),
  };
  const isNew = (us: number) => ctx.baselineUs === undefined || us > ctx.baselineUs;
  const out: CaptureEvent[] = [];
  if (isNew(o.created_us)) {
    out.push({
      uuid: eventUuid(ctx.exportName, o.id, 'order', 1),
      event: ctx.names.order,
      distinct_id: distinct,
      timestamp: iso(o.created_us),
      properties: { ...base, revenue: num(o.revenue) },
    });
  }
  // A cancellation happens once: its uuid has no version, so a resend (the order changed again) is dropped by PostHog.
  if (o.cancelled && (o.cancelled_us === null || isNew(o.cancelled_us))) {
    out.push({
      uuid: eventUuid(ctx.exportName, o.id, 'cancelled', 1),
      event: ctx.names.cancelled,
      distinct_id: distinct,
      timestamp: iso(o.cancelled_us ?? o.updated_us),
      properties: { ...base, revenue: num(o.revenue) },
    });
  }
  // Each new refunded total is an event of its own (a second partial refund is a second event).
  const refunded = num(o.refunded);
  if (refunded !== null && refunded > 0) {
    out.push({
      uuid: eventUuid(ctx.exportName, o.id, 'refunded', o.refunded!),
      event: ctx.names.refunded,
      distinct_id: distinct,
      timestamp: iso(o.updated_us),
      properties: { ...base, refunded_amount: refunded },
    });
  }
  return out;
}

export interface Batch {
  events: CaptureEvent[];
  /** Records whose events the batch carries. */
  records: number;
  /** The cursor once PostHog accepted the batch: the last record's (updated time, id). */
  cursor: StreamCursor;
}

export interface BatchLimits {
  maxEvents: number;
  /** Bound on the JSON size of one request (PostHog refuses bodies over 20 MB). */
  maxBytes: number;
}

/**
 * Packs the events of records (in cursor order) into batches of at most `maxEvents` events and `maxBytes`
 * of JSON. A record's events never straddle two batches: the cursor moves by whole records, so a crash
 * between batches re-sends no record half. A record with more events than a batch holds gets a batch of its own.
 */
export function packBatches<R extends { id: string; updated_us: number }>(records: R[], eventsOf: (r: R) => CaptureEvent[], limits: BatchLimits): Batch[] {
  const out: Batch[] = [];
  let current: Batch | undefined;
  let bytes = 0;
  for (const r of records) {
    const events = eventsOf(r);
    const size = events.reduce((s, e) => s + JSON.stringify(e).length + 1, 0);
    if (current && current.events.length > 0 && (current.events.length + events.length > limits.maxEvents || bytes + size > limits.maxBytes)) {
      out.push(current);
      current = undefined;
    }
    if (!current) {
      current = { events: [], records: 0, cursor: { updatedUs: r.updated_us, id: r.id } };
      bytes = 0;
    }
    current.events.push(...events);
    current.records++;
    current.cursor = { updatedUs: Number(r.updated_us), id: r.id };
    bytes += size;
  }
  if (current) out.push(current);
  return out;
}

/** PostHog's advice for backfills: flag batches whose events are all older than 48 hours, so they skip spike detection. */
export function isHistorical(events: CaptureEvent[], nowMs: number): boolean {
  return events.length > 0 && events.every((e) => Date.parse(e.timestamp) < nowMs - 48 * 3600_000);
}
