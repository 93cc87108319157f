import fs from 'node:fs';
import path from 'node:path';
import { UsageError, type Io } from '../io';

/**
 * `sluice new connector NAME`: writes a connector that works as generated (one example table over a
 * page-numbered REST endpoint, its config schema, a README), an emulator of that API, the conformance
 * test that ties them together, and the two registry lines. Then the developer replaces the example
 * with the vendor's real endpoints, emulator first. See docs/connectors.md.
 */

const NAME = /^[a-z][a-z0-9_]*$/;

/** The repository root: the nearest directory above `from` holding connectors/registry.ts. */
export function findRepoRoot(from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'connectors', 'registry.ts')) && fs.existsSync(path.join(dir, 'packages', 'emulators', 'src', 'registry.ts'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export interface NewConnectorResult {
  root: string;
  files: string[];
}

export function newConnector(opts: { name: string; root?: string }): NewConnectorResult {
  const { name } = opts;
  if (!NAME.test(name)) throw new UsageError(`connector name "${name}" must be snake_case: a lowercase letter, then lowercase letters, digits or _ (it becomes the \`type:\` in sluice.yaml)`);
  const root = opts.root ? path.resolve(opts.root) : (findRepoRoot(process.cwd()) ?? findRepoRoot(import.meta.dirname));
  if (!root || !fs.existsSync(path.join(root, 'connectors', 'registry.ts'))) throw new UsageError(`no Sluice repository at ${opts.root ?? process.cwd()} (looked for connectors/registry.ts); run this in a checkout or pass --root`);
  const connectorDir = path.join(root, 'connectors', name);
  const emulatorFile = path.join(root, 'packages', 'emulators', 'src', name, 'index.ts');
  const connectorRegistry = path.join(root, 'connectors', 'registry.ts');
  const emulatorRegistry = path.join(root, 'packages', 'emulators', 'src', 'registry.ts');
  if (fs.existsSync(connectorDir)) throw new UsageError(`connectors/${name}/ already exists`);
  if (fs.existsSync(path.dirname(emulatorFile))) throw new UsageError(`packages/emulators/src/${name}/ already exists`);
  const connectorLine = `  ${name}: async () => (await import('./${name}/src/index')).default,`;
  const emulatorLine = `  ${name}: () => import('./${name}/index'),`;
  // Check both registries before writing anything, so a failure leaves the tree as it was.
  const connectorRegistryText = withLine(fs.readFileSync(connectorRegistry, 'utf8'), 'CONNECTORS', name, connectorLine, 'connectors/registry.ts');
  const emulatorRegistryText = withLine(fs.readFileSync(emulatorRegistry, 'utf8'), 'EMULATORS', name, emulatorLine, 'packages/emulators/src/registry.ts');

  const files: Record<string, string> = {
    [path.join(connectorDir, 'package.json')]: packageJson(name),
    [path.join(connectorDir, 'src', 'index.ts')]: connectorSource(name),
    [path.join(connectorDir, 'test', 'conformance.test.ts')]: testSource(name),
    [path.join(connectorDir, 'README.md')]: readme(name),
    [emulatorFile]: emulatorSource(name),
  };
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  fs.writeFileSync(connectorRegistry, connectorRegistryText);
  fs.writeFileSync(emulatorRegistry, emulatorRegistryText);
  return { root, files: [...Object.keys(files), connectorRegistry, emulatorRegistry].map((f) => path.relative(root, f)) };
}

/** Adds `line` as the last entry of `export const <object> = { ... };`. */
function withLine(text: string, object: string, name: string, line: string, file: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`export const ${object}`));
  if (start < 0) throw new UsageError(`${file}: cannot find \`export const ${object}\``);
  const end = lines.findIndex((l, i) => i > start && /^\};?\s*$/.test(l));
  if (end < 0) throw new UsageError(`${file}: cannot find the end of ${object}`);
  if (lines.slice(start, end).some((l) => new RegExp(`^\\s*['"]?${name}['"]?\\s*:`).test(l))) throw new UsageError(`${file}: "${name}" is already registered`);
  lines.splice(end, 0, line);
  return lines.join('\n');
}

export async function newCommand(opts: { what: string; name: string; root?: string }, io: Io): Promise<number> {
  if (opts.what !== 'connector') throw new UsageError(`sluice new ${opts.what}: only \`sluice new connector NAME\` exists`);
  const r = newConnector({ name: opts.name, root: opts.root });
  for (const f of r.files) io.out(`  wrote ${f}`);
  io.info(
    [
      '',
      `Next:`,
      `  npm install --no-audit --no-fund                 # links the new workspace`,
      `  npx vitest run connectors/${opts.name}           # the conformance suite, through Temporal, against the emulator`,
      `  then make packages/emulators/src/${opts.name}/index.ts speak the vendor's API, and connectors/${opts.name}/src/index.ts read it.`,
      `  Guide: docs/connectors.md`,
    ].join('\n'),
  );
  return 0;
}

const title = (name: string) => name.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');

function packageJson(name: string): string {
  return `${JSON.stringify({ name: `@sluice/connector-${name.replace(/_/g, '-')}`, version: '0.1.0', private: true, type: 'module', description: `${title(name)} connector`, exports: { '.': './src/index.ts' } }, null, 2)}\n`;
}

function connectorSource(name: string): string {
  return `import { z } from 'zod';
import { HttpClient, bearerAuth, concurrencyLimiter, defineConnector, restTable, SluiceError } from '@sluice/core';

/**
 * ${title(name)}: generated by \`sluice new connector ${name}\`. One example table over a page-numbered REST
 * endpoint with bearer auth; replace it with the vendor's endpoints (docs/connectors.md). A table is data:
 * the request, where the records sit, the paging kind, the filter the cursor feeds. Core's engine runs it.
 */
const config = z.strictObject({
  baseUrl: z.url().default('https://api.example.com'),
  apiKey: z.string().min(1, 'required: the API key'),
  pageSize: z.number().int().min(1).max(200).default(100),
});
type Config = z.output<typeof config>;
type Client = { http: HttpClient };

const items = restTable<Config, Client>({
  name: 'items',
  description: 'Example table: every item, updated in place',
  primaryKey: ['id'],
  partitionBy: 'created_at',
  cursor: { fields: ['updated_at'], default: 'updated_at', filter: { param: 'updated_since' } },
  request: { path: '/v1/items' },
  records: 'data',
  paging: { kind: 'page-number', size: { config: 'pageSize' }, sizeParam: 'per_page', totalPages: 'total_pages' },
});

export default defineConnector({
  type: '${name}',
  description: '${title(name)}',
  config,
  secrets: ['apiKey'],
  connect: (cfg): Client => ({
    http: new HttpClient({ vendor: '${name}', baseUrl: cfg.baseUrl, auth: bearerAuth(cfg.apiKey), governor: concurrencyLimiter({ maxConcurrent: 4 }), retries: 4, minRetryDelayMs: 200 }),
  }),
  async check({ client }) {
    try {
      const r = await client.http.get<{ data: unknown[] }>('/v1/items', { per_page: 1 });
      return { ok: true, message: \`API key accepted; \${r.body.data.length ? 'read one item' : 'no items yet'}\` };
    } catch (err) {
      if (err instanceof SluiceError && err.kind === 'auth') throw new SluiceError('auth', 'invalid API key: create a new one in the ${title(name)} settings');
      throw err;
    }
  },
  tables: [items],
});
`;
}

function emulatorSource(name: string): string {
  return `import { Router, startServer, type EmulatorServer } from '../common/http';
import { Rng, PRODUCTS } from '../common/random';
import type { EmulatorConformance } from '../common/conformance';

/**
 * ${title(name)} emulator: generated by \`sluice new connector ${name}\`. Bearer auth and
 * \`GET /v1/items?updated_since=&page=&per_page=\` answering \`{data, page, total_pages}\`, ascending by
 * \`updated_at\`. Make it answer exactly as the vendor does (shapes, errors, limits) before the connector.
 */
export interface Item {
  id: number;
  name: string;
  status: 'active' | 'archived';
  amount_cents: number;
  created_at: string;
  updated_at: string;
}

export interface ${pascal(name)}Emulator extends EmulatorServer {
  apiKey: string;
  items: Map<number, Item>;
  conformance: EmulatorConformance;
}

export async function start(options: { seed?: number; port?: number; items?: number; apiKey?: string } = {}): Promise<${pascal(name)}Emulator> {
  const rng = new Rng(options.seed ?? 42);
  const apiKey = options.apiKey ?? '${name}-demo-key';
  const items = new Map<number, Item>();
  let nextId = 1;
  const make = (at: Date): Item => {
    const id = nextId++;
    const p = rng.pick(PRODUCTS);
    return { id, name: p.sku, status: 'active', amount_cents: p.cents * rng.int(1, 3), created_at: at.toISOString(), updated_at: at.toISOString() };
  };
  const count = options.items ?? 120;
  const base = Date.UTC(2024, 0, 1);
  for (let i = 0; i < count; i++) {
    const item = make(new Date(base + Math.floor((i / Math.max(1, count)) * 300 * 86_400_000)));
    items.set(item.id, item);
  }

  const router = new Router().get('/v1/items', (req) => {
    if (req.headers.authorization !== \`Bearer \${apiKey}\`) return { status: 401, body: { error: 'unauthorized', message: 'invalid API key' } };
    const page = Number(req.query.get('page') ?? 1);
    const perPage = Math.min(Number(req.query.get('per_page') ?? 50), 200);
    if (!Number.isInteger(page) || page < 1) return { status: 400, body: { error: 'bad_request', message: 'page must be a positive integer' } };
    const since = req.query.get('updated_since');
    const all = [...items.values()].filter((o) => !since || o.updated_at >= since).sort((a, b) => a.updated_at.localeCompare(b.updated_at) || a.id - b.id);
    return { status: 200, body: { data: all.slice((page - 1) * perPage, page * perPage), page, per_page: perPage, total_pages: Math.max(1, Math.ceil(all.length / perPage)) } };
  });
  const server = await startServer(router, { port: options.port });
  return Object.assign(server, {
    apiKey,
    items,
    conformance: {
      tables: ['items'],
      count: () => items.size,
      ids: () => [...items.keys()].map(String),
      touch() {
        const now = new Date();
        const first = items.values().next().value;
        if (first) Object.assign(first, { status: first.status === 'active' ? 'archived' : 'active', updated_at: now.toISOString() });
        const item = make(now);
        items.set(item.id, item);
      },
      versions: () => Object.fromEntries([...items.values()].map((o) => [String(o.id), o.updated_at])),
    },
  });
}

export function sourceConfig(handle: ${pascal(name)}Emulator): Record<string, unknown> {
  return { baseUrl: handle.url, apiKey: handle.apiKey };
}
`;
}

function testSource(name: string): string {
  return `import { runConformance } from '@sluice/testing';
import { start, sourceConfig } from '@sluice/emulators/${name}/index';
import connector from '../src/index';

// The standard checks, through Temporal, against the emulator (docs/connectors.md). Vendor-specific
// tests (odd pagination, error mapping, rate limits) go in further files next to this one.
runConformance({
  connector,
  emulator: { start, sourceConfig },
  badConfig: (emu) => ({ ...sourceConfig(emu), apiKey: 'sluice-conformance-wrong-key' }),
  badCheckMessage: /invalid API key/,
  startOptions: { items: 120 },
  configPatch: { pageSize: 50 },
  paging: { table: 'items', pageSize: (n) => ({ pageSize: n }), records: (n) => ({ items: n }) },
});
`;
}

function readme(name: string): string {
  return `# ${title(name)} connector

Generated by \`sluice new connector ${name}\`. Describe the vendor, the API version read, and how to get
credentials.

## Config
\`\`\`yaml
sources:
  - name: ${name}
    type: ${name}
    config:
      apiKey: \${${name.toUpperCase()}_API_KEY}
      # baseUrl: https://api.example.com   # override for proxies and the emulator
\`\`\`

## Tables
| table | primary key | cursor | partition by | modes |
|---|---|---|---|---|
| items | id | updated_at | created_at | incremental, full_refresh, append_only |

## Tests
\`npx vitest run connectors/${name}\` runs the conformance suite against \`packages/emulators/src/${name}\`.
`;
}

function pascal(name: string): string {
  return name.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}
