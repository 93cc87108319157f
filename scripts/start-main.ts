import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { main } from '../packages/cli/src/main';
import { EMULATORS } from '../packages/emulators/src/registry';
import { CONNECTORS } from '@sluice/connectors/registry';
import type { EmulatorServer } from '../packages/emulators/src/common/http';

const dev = process.argv.includes('--dev');
const say = (m: string) => process.stderr.write(`${m}\n`);

async function run(): Promise<number> {
  if (fs.existsSync('sluice.yaml')) {
    say('using ./sluice.yaml');
    return main(dev ? ['dev'] : ['sync']);
  }
  const dir = path.resolve('demo');
  fs.mkdirSync(dir, { recursive: true });
  const handles: EmulatorServer[] = [];
  const byType = new Map<string, EmulatorServer>();
  const sources: Record<string, unknown>[] = [];
  // Source names per emulator type; the demo syncs every emulator that ships with Sluice.
  const names: Record<string, string> = { demo: 'demo_shop', commercetools: 'ct', shipstation: 'shipstation', shopify: 'shopify', posthog: 'posthog' };
  for (const [type, load] of Object.entries(EMULATORS)) {
    if (!CONNECTORS[type]) continue; // an emulator whose connector is not registered yet
    try {
      const mod = await load();
      const handle = await mod.start({ seed: 1 });
      handles.push(handle);
      byType.set(type, handle);
      sources.push({ name: names[type] ?? type, type, schedule: { every: '1h' }, config: mod.sourceConfig(handle) });
      say(`emulator ${type.padEnd(14)} ${handle.url}`);
    } catch (err) {
      say(`emulator ${type.padEnd(14)} not available (${(err as Error).message.split('\n')[0]})`);
    }
  }
  // The Shopify store's customers and orders go on to the PostHog emulator (README, "Exports to PostHog").
  // `sync` alone exports afterwards (manual); `dev` exports after each sync.
  const posthog = byType.get('posthog') as (EmulatorServer & { projectId?: number }) | undefined;
  const exports =
    posthog?.projectId !== undefined && sources.some((s) => s.name === 'shopify')
      ? [{ name: 'shopify_to_posthog', type: 'posthog', from: 'shopify', schedule: dev ? 'after_sync' : 'manual', config: { host: posthog.url, projectApiKey: `phc_${posthog.projectId}` } }]
      : [];
  const configPath = path.join(dir, 'sluice.yaml');
  fs.writeFileSync(
    configPath,
    `# Written by npm start: every source points at a local emulator of its vendor's API.\n# Copy to ./sluice.yaml and put real credentials (as \${ENV} references) to sync the real APIs.\n` +
      stringify({ warehouse: { path: './warehouse' }, sources, ...(exports.length ? { exports } : {}) }),
  );
  say(`config: ${path.relative(process.cwd(), configPath)}\n`);
  let code: number;
  try {
    code = await main(['--config', configPath, dev ? 'dev' : 'sync']);
    if (!dev && code === 0 && exports.length) code = await main(['--config', configPath, 'export']);
    if (!dev && fs.existsSync(path.join(dir, 'warehouse', 'catalog.sqlite'))) {
      say('\nWhat landed (sluice query "SELECT … FROM sluice.syncs"):');
      await main(['--config', configPath, 'query', `SELECT source, "table", mode, outcome, rows_written, cursor_after FROM sluice.syncs ORDER BY source, "table"`]);
      say(`\nQuery it yourself:  npx sluice --config ${path.relative(process.cwd(), configPath)} query "SELECT * FROM demo_shop.orders LIMIT 5"`);
      say('Watch syncs in the Temporal Web UI:  npm run dev');
    }
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
  return code;
}

process.exitCode = await run();
