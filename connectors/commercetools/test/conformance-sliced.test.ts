import { runConformance } from '@sluice/testing';
import { start, sourceConfig } from '@sluice/emulators/commercetools/index';
import connector from '../src/index';

/**
 * The conformance suite with sliced reads forced on every read (not only first syncs and large catch-ups):
 * paging, resume after a failure in the middle of several slices, incremental after updates, all modes.
 * Each test file runs in its own process, so the variable reaches only this suite's worker.
 */
process.env.SLUICE_SLICES = 'force';

const counts = { orders: 60, carts: 20, customers: 30, payments: 20, 'product-projections': 20, categories: 10, 'discount-codes': 10, inventory: 20 };

runConformance({
  connector,
  emulator: { start, sourceConfig: (emu) => sourceConfig(emu) },
  badConfig: (emu) => ({ ...sourceConfig(emu), clientSecret: 'sluice-conformance-wrong-secret' }),
  badCheckMessage: /invalid client id or secret/,
  startOptions: { counts },
  paging: { table: 'orders', pageSize: (n) => ({ pageSize: n }), records: (n) => ({ counts: { ...counts, orders: n } }) },
  sourcePrefix: 'cfs_commercetools',
});
