import { runConformance } from '@sluice/testing';
import { start, sourceConfig } from '@sluice/emulators/posthog/index';
import connector from '../src/index';

runConformance({
  connector,
  emulator: { start, sourceConfig },
  badConfig: (emu) => ({ ...sourceConfig(emu), personalApiKey: 'phx_sluice_conformance_wrong_key_000000000000000' }),
  badCheckMessage: /Invalid API key/,
  startOptions: { days: 3, customers: 10, anonymousVisitors: 10 },
});
