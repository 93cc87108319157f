#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx): no build step between `npm install` and `npx sluice`.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
