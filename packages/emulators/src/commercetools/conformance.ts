import type { EmulatorConformance } from '../common/conformance';
import { ENDPOINTS, type Endpoint } from './generator';
import type { Store } from './store';

/** The connector's table name of an endpoint: `product-projections` → `product_projections`. */
export const tableOf = (endpoint: Endpoint) => endpoint.replace(/-/g, '_');

/**
 * Conformance hooks (@sluice/testing) over the store: every endpoint, named as the connector's tables.
 * `touch` updates the oldest-created record (its lastModifiedAt moves to now) and inserts one.
 */
export function conformanceHooks(store: Store): EmulatorConformance {
  const byTable = new Map(ENDPOINTS.map((e) => [tableOf(e), e]));
  const endpoint = (table: string): Endpoint => {
    const e = byTable.get(table);
    if (!e) throw new Error(`the commercetools emulator has no table ${table}`);
    return e;
  };
  return {
    tables: [...byTable.keys()],
    count: (table) => store.size(endpoint(table)),
    ids: (table) => store.ids_(endpoint(table)),
    touch(table) {
      const e = endpoint(table);
      const entries = [...store.collection(e).byId.values()].sort((a, b) => a.createdAt - b.createdAt);
      const first = entries[0];
      if (first) store.update(e, first.id);
      store.insert(e);
    },
    versions: (table) => Object.fromEntries(store.all(endpoint(table)).map((d) => [String(d.id), String(d.lastModifiedAt)])),
  };
}
