/** `sluice …` with the benchmark probe loaded first (bench/lib/probe.ts). Args as for the CLI. */
import './probe';
import { main } from '../../packages/cli/src/main';

process.exitCode = await main(process.argv.slice(2));
