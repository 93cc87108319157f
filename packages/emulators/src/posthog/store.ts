import { createHash } from 'node:crypto';
import { PRODUCTS, Rng } from '../common/random';

/**
 * PostHog's data for one project, mutable at run time: events, persons, the distinct-id → person map
 * built by `$identify`, and cohorts. Times are microseconds since the epoch (DateTime64(6) in ClickHouse).
 */
export interface PhEvent {
  uuid: string;
  event: string;
  distinct_id: string;
  timestampUs: number;
  /** Ingestion time: a late-arriving event has an old timestamp and a recent created_at. */
  createdAtUs: number;
  properties: Record<string, unknown>;
}

export interface PhPerson {
  id: string;
  createdAtUs: number;
  properties: Record<string, unknown>;
  is_identified: boolean;
}

export interface PhCohort {
  id: number;
  name: string;
  description: string;
  groups: unknown[];
  filters: Record<string, unknown>;
  deleted: boolean;
  is_calculating: boolean;
  is_static: boolean;
  count: number;
  created_at: string;
  last_calculation: string;
  created_by: { id: number; email: string; first_name: string };
}

/** A commerce customer the storefront's identified visitors correspond to (matched by email). */
export interface StorefrontCustomer {
  email: string;
  firstName?: string;
  lastName?: string;
}

/** A commerce order (Shopify / commercetools emulator): its customer's email and creation time. */
export interface CommerceOrder {
  id?: string | number;
  email: string | null;
  createdAt: string;
}

/**
 * ClickHouse's order of UUID values: by the second 64-bit half, then the first (each as an unsigned
 * integer), not by their text (ClickHouse/ClickHouse#51063, "won't fix"; the UUID2 type that sorts as
 * text is not what PostHog's tables use). `ORDER BY uuid` and `uuid > toUUID(…)` follow it. As a string
 * that sorts in that order: the second half's hex digits, then the first half's.
 */
export function clickhouseUuidOrder(uuid: string): string {
  const hex = uuid.toLowerCase().replace(/-/g, '');
  return hex.slice(16) + hex.slice(0, 16);
}

/** A deterministic UUID from a string: PostHog gives personless events a person_id derived from the distinct_id. */
export function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${'89ab'[parseInt(h[16]!, 16) % 4]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const productHandle = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

export class PostHogProject {
  readonly events: PhEvent[] = [];
  readonly persons = new Map<string, PhPerson>();
  /** distinct_id → person id (person_distinct_ids). */
  readonly pdi = new Map<string, string>();
  readonly cohorts: PhCohort[] = [];
  private rng: Rng;

  constructor(
    readonly id: number,
    readonly name: string,
    seed: number,
    /** Fixed offset of the project's timezone; HogQL renders DateTimes in it. */
    public timezoneOffsetMinutes = 0,
    readonly siteUrl = 'https://shop.example.com',
  ) {
    this.rng = new Rng(seed ^ 0x5eed);
  }

  personIdOf(distinctId: string): string {
    return this.pdi.get(distinctId) ?? uuidFrom(`personless:${this.id}:${distinctId}`);
  }

  /** Inserts an event now (any timestamp, including an old one: a late-arriving event). */
  addEvent(e: { event: string; distinct_id: string; timestamp: Date | number | string; properties?: Record<string, unknown>; uuid?: string; createdAt?: Date | number }): PhEvent {
    const ts = e.timestamp instanceof Date ? e.timestamp.getTime() * 1000 : typeof e.timestamp === 'string' ? Date.parse(e.timestamp) * 1000 : e.timestamp * 1000;
    const created = e.createdAt === undefined ? Date.now() * 1000 : (e.createdAt instanceof Date ? e.createdAt.getTime() : e.createdAt) * 1000;
    const ev: PhEvent = {
      uuid: e.uuid ?? this.rng.uuid(),
      event: e.event,
      distinct_id: e.distinct_id,
      timestampUs: Math.round(ts),
      createdAtUs: Math.round(created),
      properties: e.properties ?? {},
    };
    this.events.push(ev);
    return ev;
  }

  /**
   * `posthog.identify(distinctId, $set)` from a browser whose anonymous id is `anonId`: emits `$identify` and
   * links the anonymous id to the identified person (created if new, as with person_profiles: identified_only).
   */
  identify(anonId: string, distinctId: string, set: Record<string, unknown>, at: number | Date, opts: { createdAt?: number | Date } = {}): { event: PhEvent; person: PhPerson } {
    const atMs = at instanceof Date ? at.getTime() : at;
    let personId = this.pdi.get(distinctId);
    let person = personId ? this.persons.get(personId) : undefined;
    if (!person) {
      personId = this.rng.uuid();
      person = { id: personId, createdAtUs: Math.round(atMs * 1000), properties: {}, is_identified: true };
      this.persons.set(personId, person);
      this.pdi.set(distinctId, personId);
    }
    Object.assign(person.properties, set);
    person.is_identified = true;
    person.createdAtUs = Math.min(person.createdAtUs, Math.round(atMs * 1000));
    this.pdi.set(anonId, person.id);
    const event = this.addEvent({
      event: '$identify',
      distinct_id: distinctId,
      timestamp: atMs,
      createdAt: opts.createdAt,
      properties: { $anon_distinct_id: anonId, $set: set, $lib: 'web', $current_url: `${this.siteUrl}/account/login` },
    });
    return { event, person };
  }

  /**
   * Deletes a person as PostHog's "Delete person" does: the person row and its distinct-id links are marked
   * deleted (`is_deleted`), so HogQL's `persons` and `person_distinct_ids` no longer list them. Its events stay
   * (PostHog deletes them only when asked to, later, by an asynchronous ClickHouse mutation); they now resolve
   * to a personless id. Returns whether the person existed.
   */
  deletePerson(id: string): boolean {
    if (!this.persons.delete(id)) return false;
    for (const [distinctId, personId] of [...this.pdi]) if (personId === id) this.pdi.delete(distinctId);
    return true;
  }

  /** Events sorted by timestamp (ties by uuid, in ClickHouse's UUID order), for tests. */
  sortedEvents(): PhEvent[] {
    const key = new Map(this.events.map((e) => [e, clickhouseUuidOrder(e.uuid)]));
    return [...this.events].sort((a, b) => a.timestampUs - b.timestampUs || (key.get(a)! < key.get(b)! ? -1 : key.get(a)! > key.get(b)! ? 1 : 0));
  }

  /** Generates a storefront's traffic over `days` days ending at `nowMs`. */
  generate(o: {
    nowMs: number;
    days: number;
    customers: StorefrontCustomer[];
    anonymousVisitors: number;
    visitRate?: number;
    /** Commerce orders: each order by a known customer gets the session that led to it, ending in `checkout started` minutes before. */
    orders?: CommerceOrder[];
  }): void {
    const rng = this.rng;
    const products = PRODUCTS.map((p) => ({ ...p, handle: productHandle(p.name) }));
    const startMs = o.nowMs - o.days * 86400_000;
    // Created long ago but never inside the future: microsecond precision like ClickHouse's DateTime64(6).
    const when = () => startMs * 1000 + Math.floor(rng.next() * (o.days * 86400_000 - 3600_000) * 1000);
    const browser = () => rng.pick(['Chrome', 'Safari', 'Firefox', 'Edge']);
    const session = (distinctId: string, startUs: number, customer?: StorefrontCustomer, identifyAnon?: string) => {
      const sessionId = rng.uuid();
      const common = { $session_id: sessionId, $browser: browser(), $device_type: rng.pick(['Desktop', 'Mobile', 'Tablet']), $lib: 'web' };
      let t = startUs;
      const step = () => (t += rng.int(5, 180) * 1e6 + rng.int(0, 999_999));
      const page = (path: string) =>
        this.addEvent({
          event: '$pageview',
          distinct_id: distinctId,
          timestamp: t / 1000,
          createdAt: t / 1000 + 2000,
          properties: { ...common, $current_url: `${this.siteUrl}${path}`, $pathname: path, $host: new URL(this.siteUrl).host },
        });
      const fix = (e: PhEvent) => ((e.timestampUs = Math.round(t)), (e.createdAtUs = Math.round(t) + 2_000_000), e);
      fix(page('/'));
      const viewed = Array.from({ length: rng.int(1, 4) }, () => rng.pick(products));
      for (const p of viewed) {
        step();
        fix(page(`/products/${p.handle}`));
      }
      let id = distinctId;
      if (customer && identifyAnon) {
        step();
        const { event } = this.identify(identifyAnon, customer.email, { email: customer.email, ...(customer.firstName ? { name: `${customer.firstName} ${customer.lastName ?? ''}`.trim() } : {}) }, t / 1000);
        fix(event);
        id = customer.email;
      }
      if (rng.bool(0.45)) {
        const p = viewed[viewed.length - 1]!;
        step();
        fix(
          this.addEvent({
            event: 'product added to cart',
            distinct_id: id,
            timestamp: t / 1000,
            properties: { ...common, $current_url: `${this.siteUrl}/products/${p.handle}`, product_handle: p.handle, sku: p.sku, price: p.cents / 100, quantity: rng.int(1, 3), currency: 'USD' },
          }),
        );
        if (rng.bool(0.6)) {
          step();
          fix(
            this.addEvent({
              event: 'checkout started',
              distinct_id: id,
              timestamp: t / 1000,
              properties: { ...common, $current_url: `${this.siteUrl}/checkout`, cart_total: p.cents / 100, currency: 'USD' },
            }),
          );
        }
      }
    };

    for (const c of o.customers) {
      if (!rng.bool(o.visitRate ?? 0.85)) continue;
      const visits = rng.int(1, 4);
      const starts = Array.from({ length: visits }, when).sort((a, b) => a - b);
      starts.forEach((s, i) => {
        const anon = rng.uuid();
        // The first visit logs in (identify); later visits are either logged in already or identify again.
        if (i === 0 || rng.bool(0.4)) session(anon, s, c, anon);
        else session(c.email, s);
      });
    }
    for (let v = 0; v < o.anonymousVisitors; v++) {
      const anon = rng.uuid();
      for (let i = rng.int(1, 2); i > 0; i--) session(anon, when());
    }

    const byEmail = new Map(o.customers.map((c) => [c.email.toLowerCase(), c]));
    for (const order of o.orders ?? []) {
      const c = order.email ? byEmail.get(order.email.toLowerCase()) : undefined;
      if (!c) continue;
      const orderUs = Date.parse(order.createdAt) * 1000;
      const checkoutUs = orderUs - rng.int(60, 900) * 1e6 - rng.int(0, 999_999);
      const p = rng.pick(products);
      const common = { $session_id: rng.uuid(), $browser: browser(), $device_type: rng.pick(['Desktop', 'Mobile']), $lib: 'web' };
      const anon = rng.uuid();
      const at = (us: number, event: string, distinctId: string, properties: Record<string, unknown>) => {
        const e = this.addEvent({ event, distinct_id: distinctId, timestamp: 0, properties: { ...common, ...properties } });
        e.timestampUs = Math.round(us);
        e.createdAtUs = Math.round(us) + 2_000_000;
        return e;
      };
      const viewUs = checkoutUs - rng.int(120, 1800) * 1e6;
      at(viewUs, '$pageview', anon, { $current_url: `${this.siteUrl}/products/${p.handle}`, $pathname: `/products/${p.handle}` });
      const loginUs = viewUs + rng.int(5, 60) * 1e6;
      const { event } = this.identify(anon, c.email, { email: c.email }, loginUs / 1000);
      event.timestampUs = Math.round(loginUs);
      event.createdAtUs = Math.round(loginUs) + 2_000_000;
      at(loginUs + rng.int(5, 60) * 1e6, 'product added to cart', c.email, { $current_url: `${this.siteUrl}/products/${p.handle}`, product_handle: p.handle, sku: p.sku, price: p.cents / 100, quantity: 1, currency: 'USD' });
      at(checkoutUs, 'checkout started', c.email, { $current_url: `${this.siteUrl}/checkout`, cart_total: p.cents / 100, currency: 'USD', order_hint: order.id ?? null });
    }

    const iso = (ms: number) => new Date(ms).toISOString();
    const user = { id: 1, email: 'owner@example.com', first_name: 'Shop' };
    const customers = [...this.persons.values()].length;
    this.cohorts.push(
      {
        id: 1,
        name: 'Identified shoppers',
        description: 'Persons with an email',
        groups: [{ properties: [{ key: 'email', type: 'person', operator: 'is_set', value: 'is_set' }] }],
        filters: { properties: { type: 'OR', values: [{ type: 'AND', values: [{ key: 'email', type: 'person', operator: 'is_set', value: 'is_set' }] }] } },
        deleted: false,
        is_calculating: false,
        is_static: false,
        count: customers,
        created_at: iso(startMs - 20 * 86400_000),
        last_calculation: iso(o.nowMs - 3600_000),
        created_by: user,
      },
      {
        id: 2,
        name: 'Cart abandoners',
        description: 'Added to cart in the last 30 days without checking out',
        groups: [{ action_id: null, event_id: 'product added to cart', days: 30 }],
        filters: { properties: { type: 'OR', values: [{ type: 'AND', values: [{ key: 'product added to cart', type: 'behavioral', value: 'performed_event', event_type: 'events', time_value: 30, time_interval: 'day' }] }] } },
        deleted: false,
        is_calculating: false,
        is_static: false,
        count: Math.floor(customers / 3),
        created_at: iso(startMs - 10 * 86400_000),
        last_calculation: iso(o.nowMs - 3600_000),
        created_by: user,
      },
      {
        id: 3,
        name: 'VIP (imported)',
        description: 'Uploaded from a CSV',
        groups: [],
        filters: {},
        deleted: false,
        is_calculating: false,
        is_static: true,
        count: 5,
        created_at: iso(startMs - 5 * 86400_000),
        last_calculation: iso(startMs - 5 * 86400_000),
        created_by: user,
      },
    );
  }
}
