/** `sluice …` with the benchmark probe loaded first (bench/lib/probe.ts). Args as for the CLI. */
await import('./probe');
// Imported after the probe, so the probe has wrapped StagingWriter before the worker uses it.
const { main } = await import('../../packages/cli/src/main');

process.exitCode = await main(process.argv.slice(2));
export {};
