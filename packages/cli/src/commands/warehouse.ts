import { needsUpgrade, upgradeWarehouse, type UpgradedTable, type WarehousePaths } from '@sluice/warehouse';
import { loadConfig } from '../config';
import { textTable } from '../format';
import { UsageError, type Io } from '../io';

/**
 * `sluice warehouse upgrade`, and the same upgrade run automatically before the first command that uses
 * the lake: a warehouse written before DuckLake (`<path>/<source>/<table>/_manifest.json`) is moved
 * into it once (see @sluice/warehouse upgrade.ts).
 */

/** Commands that read or write the lake (directly or through the worker they run). */
const LAKE_COMMANDS = new Set(['sync', 'query', 'status', 'dev', 'worker', 'maintenance', 'rollback']);

/**
 * Called before every command (commander's preAction hook in main.ts): for those that use the lake,
 * upgrades a warehouse of the format before DuckLake first, with a message. Costs a directory scan
 * when there is nothing to upgrade.
 */
export async function autoUpgrade(command: string, configFile: string, io: Io): Promise<void> {
  if (!LAKE_COMMANDS.has(command)) return;
  await upgradeIfNeeded((await loadConfig(configFile)).warehouse, io.info);
}

/** Upgrades the warehouse if it still holds the format before DuckLake; refuses to go on if a table could not be. */
export async function upgradeIfNeeded(paths: WarehousePaths, say: (line: string) => void): Promise<void> {
  if (!needsUpgrade(paths)) return;
  const r = await upgradeWarehouse(paths, { say });
  const stuck = r.tables.filter((t) => t.outcome === 'failed' || t.outcome === 'conflict');
  if (stuck.length) throw new UsageError(`${stuckMessage(stuck)}; nothing else runs until it is: fix that and run \`sluice warehouse upgrade\``);
  say('warehouse upgraded to DuckLake (once, automatically: `sluice warehouse upgrade` does the same by hand)');
}

export async function warehouseUpgradeCommand(opts: { config: string; copy?: boolean }, io: Io): Promise<number> {
  const cfg = await loadConfig(opts.config);
  const paths = cfg.warehouse;
  if (!needsUpgrade(paths)) {
    io.out(`nothing to upgrade: the warehouse at ${paths.root} holds no table of the format before DuckLake`);
    return 0;
  }
  const r = await upgradeWarehouse(paths, { say: io.info, copy: opts.copy });
  if (r.tables.length)
    io.out(textTable(['table', 'outcome', 'rows', 'files registered', 'files copied', 'sync records', 'note'], r.tables.map((t) => [`${t.source}.${t.table}`, t.outcome, t.rows, t.registered, t.copied, t.syncs, t.message ?? ''])));
  const stuck = r.tables.filter((t) => t.outcome === 'failed' || t.outcome === 'conflict');
  if (stuck.length) {
    io.error(stuckMessage(stuck));
    return 1;
  }
  return 0;
}

function stuckMessage(stuck: UpgradedTable[]): string {
  return `the warehouse upgrade left ${stuck.length} table(s) in the format before DuckLake: ${stuck.map((t) => `${t.source}.${t.table}: ${t.message}`).join('; ')}`;
}
