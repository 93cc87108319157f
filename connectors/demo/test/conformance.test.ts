import { runConformance } from '@sluice/testing';
import { start, sourceConfig } from '@sluice/emulators/demo/index';
import connector from '../src/index';

runConformance({
  connector,
  emulator: { start, sourceConfig },
  badConfig: (emu) => ({ ...sourceConfig(emu), token: 'sluice-conformance-wrong-token' }),
  badCheckMessage: /invalid API token/,
  startOptions: { orders: 120 },
  configPatch: { pageSize: 50 },
  paging: { table: 'orders', pageSize: (n) => ({ pageSize: n }), records: (n) => ({ orders: n }) },
});
