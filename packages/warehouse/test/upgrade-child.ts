// Child process for the upgrade's concurrency test: `<root>` upgrades the warehouse there and prints
// the outcome of each table as one JSON line.
import { WarehousePaths, upgradeWarehouse } from '../src/index';

const [root] = process.argv.slice(2) as [string];
const r = await upgradeWarehouse(new WarehousePaths(root));
process.stdout.write(JSON.stringify(r.tables.map((t) => ({ table: t.table, outcome: t.outcome, message: t.message }))) + '\n');
