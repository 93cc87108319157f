/** `sluice …` with the benchmark probe loaded first (bench/lib/probe.ts). Args as for the CLI. */
await import('./probe');
// Imported only now, so the probe's module hook (--engine proto) sees the engine being resolved.
const { main } = await import('../../packages/cli/src/main');

process.exitCode = await main(process.argv.slice(2));
export {};
