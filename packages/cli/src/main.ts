import { Command, CommanderError, Option } from 'commander';
import { redact } from '@sluice/core';
import { ConfigError } from './config';
import { TemporalUnreachable } from './temporal';
import { UsageError, processIo, type Io } from './io';
import { syncCommand } from './commands/sync';
import {
  checkCommand,
  connectorsCommand,
  devCommand,
  queryCommand,
  schedulesApplyCommand,
  setupCommand,
  statusCommand,
  validateCommand,
  workerCommand,
} from './commands/other';
import { registerMaintenanceCommands } from './commands/maintenance';
import { registerExportCommand } from './commands/export';
import { autoUpgrade, warehouseUpgradeCommand } from './commands/warehouse';

const collect = (v: string, prev: string[]) => [...prev, v];

/** Runs the CLI; returns the exit code. Errors are one clear message; stacks only with --verbose. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code = 0;
  const program = new Command('sluice')
    .description('Sync SaaS APIs into monthly-partitioned Parquet + DuckDB, orchestrated by Temporal')
    .option('-c, --config <path>', 'config file', 'sluice.yaml')
    .option('--verbose', 'print stack traces on errors')
    .exitOverride()
    .configureOutput({ writeErr: (s) => io.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .showHelpAfterError();
  const cfg = () => program.opts<{ config: string }>().config;
  const run = (fn: () => Promise<number>) => async () => {
    code = await fn();
  };

  program.command('validate').description('parse and validate the config; list every problem').action(run(() => validateCommand({ config: cfg() }, io)));
  program.command('check [source]').description('verify credentials by reading one record per source, and the PostHog key of each export (SOURCE may name an export)').action((source?: string) => run(() => checkCommand({ config: cfg(), source }, io))());
  program
    .command('sync [source]')
    .description('run syncs now, through Temporal, with live progress')
    .option('-t, --table <table>', 'only this table (repeatable)', collect, [])
    .option('--full-refresh', 're-import the tables whatever their mode', false)
    .option('--since <date>', 're-read only the window from this cursor value (2024-01-01 = midnight UTC, or an ISO instant) and merge it; rows outside it and the saved cursor stay')
    .option('--until <date>', 'with --since: end of the window (inclusive); the vendor is still read to the present and later records are dropped before staging')
    .option('--confirm-deletes', 'let a deletes: reconcile table delete more than its deletes.maxFraction in this run (after checking the vendor really lost those records)', false)
    .option('--json', 'print the results as JSON')
    .action((source: string | undefined, o: { table: string[]; fullRefresh: boolean; since?: string; until?: string; confirmDeletes: boolean; json?: boolean }) => run(() => syncCommand({ config: cfg(), source, ...o }, io))());
  program.command('status').description('per table: mode, cursor, last sync, outcome, rows, next run').option('--json', 'machine-readable').action((o: { json?: boolean }) => run(() => statusCommand({ config: cfg(), ...o }, io))());
  program
    .command('query <sql>')
    .description('run read-only SQL against the warehouse (schemas = sources, views = tables)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .action((sql: string, o: { format: string }) => run(() => queryCommand({ config: cfg(), sql, format: o.format }, io))());
  program.command('schedules').description('manage Temporal Schedules').command('apply').description('make Temporal Schedules match the config').action(run(() => schedulesApplyCommand({ config: cfg() }, io)));
  program.command('worker').description('run a worker against the configured Temporal cluster').action(run(() => workerCommand({ config: cfg() }, io)));
  program.command('dev').description('embedded Temporal dev server (with Web UI) + worker + schedules, until interrupted').action(run(() => devCommand({ config: cfg() }, io)));
  program.command('connectors [name]').description('list connectors and their tables').option('--json', 'machine-readable').action((name: string | undefined, o: { json?: boolean }) => run(() => connectorsCommand({ name, ...o }, io))());
  program.command('new <what> <name>').description('scaffold: `sluice new connector NAME` writes connectors/NAME, its emulator and its conformance test').option('--root <dir>', 'repository root (default: found from the current directory)').action((what: string, name: string, o: { root?: string }) => run(async () => (await import('./commands/new')).newCommand({ what, name, ...o }, io))());
  program
    .command('warehouse')
    .description('the warehouse itself')
    .command('upgrade')
    .description('move a warehouse written before DuckLake (_manifest.json per table) into the lake, once (also done automatically by every command that uses the lake)')
    .option('--copy', 'copy the data files into the lake instead of registering them where they are')
    .action((o: { copy?: boolean }) => run(() => warehouseUpgradeCommand({ config: cfg(), ...o }, io))());
  // A warehouse written before DuckLake is upgraded before the first command that uses the lake.
  program.hook('preAction', (_program, command) => autoUpgrade(command.name(), cfg(), io));
  registerMaintenanceCommands(program, { config: cfg, run, io });
  registerExportCommand(program, { config: cfg, run, io });
  program.command('setup').description('find or build the Temporal CLI and prepare the workflow bundle').action(run(() => setupCommand({}, io)));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const verbose = argv.includes('--verbose');
    if (err instanceof ConfigError || err instanceof UsageError || err instanceof TemporalUnreachable) io.error(redact(err.message));
    else io.error(redact((err as Error)?.message ?? String(err)));
    if (verbose && err instanceof Error && err.stack) io.stderr.write(`${redact(err.stack)}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
