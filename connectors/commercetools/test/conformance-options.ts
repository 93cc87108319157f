import type { runConformance } from '@sluice/testing';
import { start, sourceConfig } from '@sluice/emulators/commercetools/index';
import connector from '../src/index';

const counts = { orders: 60, carts: 20, customers: 30, payments: 20, 'product-projections': 20, categories: 10, 'discount-codes': 10, inventory: 20 };

/** The commercetools conformance suite's options, shared by the plain and the sliced runs. */
export const conformanceOptions = {
  connector,
  emulator: { start, sourceConfig: (emu) => sourceConfig(emu) },
  badConfig: (emu) => ({ ...sourceConfig(emu), clientSecret: 'sluice-conformance-wrong-secret' }),
  badCheckMessage: /invalid client id or secret/,
  startOptions: { counts },
  paging: { table: 'orders', pageSize: (n) => ({ pageSize: n }), records: (n) => ({ counts: { ...counts, orders: n } }) },
} satisfies Parameters<typeof runConformance<Awaited<ReturnType<typeof start>>>>[0];
