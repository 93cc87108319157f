import { runConformance } from '@sluice/testing';
import { start, sourceConfig } from '@sluice/emulators/shopify/index';
import connector from '../src/index';

runConformance({
  connector,
  emulator: { start, sourceConfig },
  badConfig: (emu) => ({ ...sourceConfig(emu), accessToken: 'shpat_sluice_conformance_wrong_token' }),
  badCheckMessage: /invalid access token/,
  startOptions: { orders: 40, customers: 20, products: 10, locations: 2 },
  paging: { table: 'customers', pageSize: (n) => ({ pageSize: n }), records: (n) => ({ customers: n }) },
});
