import { runConformance } from '@sluice/testing';
import { start, sourceConfig } from '@sluice/emulators/posthog/index';
import connector from '../src/index';

runConformance({
  connector,
  emulator: { start, sourceConfig },
  badConfig: (emu) => ({ ...sourceConfig(emu), personalApiKey: 'phx_sluice_conformance_wrong_key_000000000000000' }),
  badCheckMessage: /Invalid API key/,
  startOptions: { days: 3, customers: 10, anonymousVisitors: 10 },
  // Events are paged inside time windows; one window over the whole 30-day backfill makes every
  // HogQL query a page, so page counts measure the paging alone.
  paging: { table: 'events', pageSize: (n) => ({ pageSize: n, windowHours: 30 * 24 }), records: (n) => ({ events: n }) },
});
