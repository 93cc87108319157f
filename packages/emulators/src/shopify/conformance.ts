import { conformanceFromTables, type EmulatorConformance, type TableHooks } from '../common/conformance';
import { orderTransactions } from './generator';
import { gid } from './schema';
import type { ShopifyStore } from './store';

/**
 * Conformance hooks (@sluice/testing) over the store, named as the connector's tables; ids are the
 * GraphQL gids the connector stores. `touch` updates the first record (its updatedAt moves to now) and
 * creates one; for transactions (read through their orders) it refunds part of an order, which adds a
 * REFUND transaction and moves the order's updatedAt, and creates an order (with its SALE).
 */
export function conformanceHooks(store: ShopifyStore): EmulatorConformance {
  const first = <T>(m: Map<number, T>) => m.values().next().value as T | undefined;
  /** `ids` and `versions` of a store map whose records the connector keys by gid. */
  const byGid = <T extends { id: number; updatedAt: string }>(m: Map<number, T>, type: string) => ({
    ids: () => [...m.values()].map((r) => gid(type, r.id)),
    versions: () => Object.fromEntries([...m.values()].map((r) => [gid(type, r.id), r.updatedAt])),
  });
  const tables: Record<string, TableHooks> = {
    orders: {
      ...byGid(store.orders, 'Order'),
      touch() {
        const o = first(store.orders);
        if (o) store.update('orders', o.id, { note: `conformance ${store.stamp()}` });
        store.createOrder({ customerId: first(store.customers)?.id });
      },
    },
    transactions: {
      ids: () => [...store.orders.values()].flatMap((o) => orderTransactions(o).map((t) => gid('OrderTransaction', t.id))),
      versions: () => Object.fromEntries([...store.orders.values()].flatMap((o) => orderTransactions(o).map((t) => [gid('OrderTransaction', t.id), o.updatedAt]))),
      touch() {
        const o = [...store.orders.values()].find((x) => x.financialStatus === 'PAID' && x.refunded === 0);
        if (o) store.update('orders', o.id, { refunded: 100, financialStatus: 'PARTIALLY_REFUNDED' });
        store.createOrder({ customerId: first(store.customers)?.id });
      },
    },
    customers: {
      ...byGid(store.customers, 'Customer'),
      touch() {
        const c = first(store.customers);
        if (!c) return;
        store.update('customers', c.id, { note: `conformance ${store.stamp()}` });
        const { id: _id, createdAt: _c, updatedAt: _u, ...rest } = c;
        const n = store.newId('customers');
        store.insert('customers', { ...rest, id: n, email: `conformance.${n}@example.com` });
      },
    },
    products: {
      ...byGid(store.products, 'Product'),
      touch() {
        const p = first(store.products);
        if (!p) return;
        store.update('products', p.id, { tags: [...p.tags, 'conformance'] });
        const { id: _id, createdAt: _c, updatedAt: _u, ...rest } = p;
        const n = store.newId('products');
        store.insert('products', { ...rest, id: n, handle: `${p.handle}-conformance-${n}`, variantIds: [] });
      },
    },
  };
  return conformanceFromTables('shopify', tables);
}
