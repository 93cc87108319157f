#!/usr/bin/env node
// `npm start` / `npm run dev`: the main job on embedded defaults. With ./sluice.yaml present it syncs
// (or, with --dev, serves) that config. Without one, it starts the local API emulators, writes
// demo/sluice.yaml pointing at them, and syncs every demo source through a real Temporal dev server.
import { register } from 'tsx/esm/api';
register();
await import('./start-main.ts');
