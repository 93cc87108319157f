import { SluiceError, connectionPages, toUtcIso, type Connection, type DeleteFeed } from '@sluice/core';
import { learnBucket, post, searchTime, shopifyCost } from './graphql-table';
import { PageCostModel } from './query-cost';
import type { ShopifyClient } from './client';
import type { ShopifyConfig } from './config';

/**
 * `deletes: { detect: vendor }` for Shopify: the `deletionEvents` connection of the Admin API, the one
 * record of a deleted product (or collection). Shopify keeps deletion events for products and collections
 * only; orders, customers, inventory items and transactions have none and reconcile.
 *
 * - `subjectTypes: [PRODUCT]`, `sortKey: CREATED_AT` (the event's `occurredAt`), ascending: oldest first.
 * - From the feed cursor on: `query: "occurred_at:>='<since, floored to the second>'"` (inclusive; the
 *   applied deletion of an id listed twice is the same), and events before it are dropped here too.
 * - `subjectId` is the deleted record's GID (`gid://shopify/Product/123`), the tables' primary key; a bare
 *   numeric id is turned into that GID.
 * - Deprecated in the Admin API since 2024-01 (Shopify points to `events`), still served by 2025-01 and later.
 * - Shopify documents no retention for deletion events: no `retentionMs`.
 */
export type DeletionSubject = 'PRODUCT' | 'COLLECTION';

const GID_TYPE: Record<DeletionSubject, string> = { PRODUCT: 'Product', COLLECTION: 'Collection' };

export const deletionEventsQuery = (subject: DeletionSubject) => `query SluiceDeletionEvents($first: Int!, $after: String, $query: String) {
  deletionEvents(first: $first, after: $after, query: $query, subjectTypes: [${subject}], sortKey: CREATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { occurredAt subjectId subjectType }
  }
}`;

/** The `query:` filter of the events from `since` on (undefined: every event Shopify keeps). */
export const deletionSearch = (since: string | undefined) => (since ? `occurred_at:>='${searchTime(since)}'` : undefined);

/** The deleted record's key as the table stores it: its GID. */
export function deletedId(subject: DeletionSubject, subjectId: unknown): string {
  const type = GID_TYPE[subject];
  const s = typeof subjectId === 'number' ? String(subjectId) : typeof subjectId === 'string' ? subjectId : '';
  if (/^\d+$/.test(s)) return `gid://shopify/${type}/${s}`;
  if (new RegExp(`^gid://shopify/${type}/\\d+$`).test(s)) return s;
  throw new SluiceError('bad_response', `Shopify answered a ${subject} deletion event with subjectId ${JSON.stringify(subjectId)}, not a ${type} id; nothing was deleted`);
}

type DeletionEvent = { occurredAt?: unknown; subjectId?: unknown; subjectType?: unknown };

export function deletionEventsFeed(subject: DeletionSubject): DeleteFeed<ShopifyConfig, ShopifyClient> {
  const query = deletionEventsQuery(subject);
  return {
    describe: `POST /admin/api/{config.apiVersion}/graphql.json: deletionEvents(subjectTypes: [${subject}], sortKey: CREATED_AT, query: "occurred_at:>='{since}'")`,
    requires: 'read_products',
    async *read(ctx) {
      const q = { client: ctx.client, signal: ctx.signal, report: ctx.report };
      const search = deletionSearch(ctx.since);
      const floor = ctx.since ? Date.parse(searchTime(ctx.since)) : -Infinity;
      await learnBucket(q);
      const pages = connectionPages<DeletionEvent>({
        vendor: 'Shopify',
        table: `${ctx.table} (deletion events)`,
        connection: 'deletionEvents',
        size: ctx.config.pageSize,
        cost: shopifyCost(q, new PageCostModel(query, 'first')),
        // Oldest first: a page never starts before the previous page's last event.
        order: {
          key: (n) => {
            const ms = typeof n.occurredAt === 'string' ? Date.parse(n.occurredAt) : NaN;
            return Number.isFinite(ms) ? [new Date(ms).toISOString()] : undefined;
          },
          start: 'inclusive',
          fields: ['occurredAt'],
        },
        async fetch(req) {
          const { data, cost } = await post(q)({ query, variables: { first: req.first, after: req.after, query: search ?? null }, cost: req.cost });
          const connection = data['deletionEvents'] as Connection<DeletionEvent> | null | undefined;
          if (!connection) throw new SluiceError('bad_response', 'Shopify answered without deletionEvents');
          return { connection, cost };
        },
      });
      for await (const page of pages) {
        const events = page.nodes.filter((n) => n.subjectType === subject && Date.parse(String(n.occurredAt)) >= floor);
        const last = page.nodes[page.nodes.length - 1];
        yield {
          ids: events.map((n) => deletedId(subject, n.subjectId)),
          lastEventAt: last ? (toUtcIso(String(last.occurredAt)) ?? String(last.occurredAt)) : undefined,
        };
      }
    },
  };
}
