import { expect } from 'vitest';
import { sourceConfig, type ApiClient, type Handle } from '@sluice/emulators/commercetools/index';
import type { SluiceEnv, SourceYaml } from '@sluice/testing/harness';
import { endpointOf } from './helpers';

/** What the commercetools end-to-end files share: the tables, a client without view_payments, and the equality check. */
export const TABLES = ['orders', 'carts', 'customers', 'payments', 'product_projections', 'categories', 'discount_codes', 'inventory'];
export const NO_PAYMENTS: ApiClient = { clientId: 'e2e-no-payments', clientSecret: 'e2e-no-payments-secret-42', scopes: ['view_orders', 'view_customers', 'view_products', 'view_categories', 'view_discount_codes'] };
export const iso = (v: unknown) => new Date(v as string).toISOString();

/** Helpers bound to one source name and to the file's emulator handle and environment (read when called). */
export function ctE2e(name: string, current: () => { h: Handle; env: SluiceEnv }) {
  const source = (tables: SourceYaml['tables'], client?: ApiClient, extra: Record<string, unknown> = {}): SourceYaml[] => [
    { name, type: 'commercetools', config: { ...sourceConfig(current().h, client), ...extra }, tables },
  ];
  const allTables = (mode: string) => Object.fromEntries(TABLES.map((t) => [t, { mode }]));
  /** Warehouse rows (id, version, lastModifiedAt) equal the emulator's, for each table given. */
  async function expectWarehouseEqualsEmulator(tables = TABLES) {
    const { h, env } = current();
    for (const table of tables) {
      const rows = await env.query<{ id: string; version: number; lastModifiedAt: string; createdAt: string }>(
        `SELECT id, version, "lastModifiedAt", "createdAt" FROM ${name}.${table} ORDER BY id`,
      );
      const docs = h.store.all(endpointOf(table));
      expect(rows.length, table).toBe(docs.length);
      expect(
        rows.map((r) => [r.id, Number(r.version), iso(r.lastModifiedAt), iso(r.createdAt)]),
        table,
      ).toEqual(docs.map((d) => [d.id, d.version, d.lastModifiedAt, d.createdAt]));
    }
  }
  return { source, allTables, expectWarehouseEqualsEmulator };
}
