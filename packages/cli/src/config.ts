import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node } from 'yaml';
import { z } from 'zod';
import { SYNC_MODES, planTable, registerSecret, type Connector, type SyncMode } from '@sluice/core';
import { CONNECTORS } from '@sluice/connectors/registry';
import { NAME_PATTERN, WarehousePaths, type CatalogLocation, type DataLocation } from '@sluice/warehouse';
import { temporalDefaults } from './temporal.config';
import { exportEntrySchema, exportProblems, registerExportSecrets, runtimeExport } from './config-exports';
import type { RuntimeExport } from '@sluice/workflows/export-shared';
import type { SchemaContract } from '@sluice/core';
import type { ColumnPolicy } from '@sluice/core/policies/columns';
import type { DeletesPolicy } from '@sluice/core/policies/deletes';
import { columnPolicyOf, columnsSchema, deletesPolicyOf, deletesSchema, feedTables, hashKeySchema, resolveHashKey, schemaContractSchema } from './table-policies';

/**
 * sluice.yaml: parsed with `yaml` (keeping positions), `${ENV}` references substituted, validated with
 * zod, and each source's `config:` validated by its connector's own schema. Every problem is reported at
 * once, each naming the file, line, YAML path, what was expected and the allowed values.
 */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file} is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

const duration = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(s|m|h|d)$/, 'expected a duration like 30m, 1h or 1d');

export const scheduleSchema = z.union([
  z.strictObject({ every: duration, jitter: duration.optional(), paused: z.boolean().optional() }),
  z.strictObject({ cron: z.string().min(9, 'expected a cron expression like "0 * * * *"'), jitter: duration.optional(), paused: z.boolean().optional() }),
]);

export const tableSchema = z.strictObject({
  mode: z.enum(SYNC_MODES).optional(),
  cursor: z.string().optional(),
  schedule: scheduleSchema.optional(),
  /** Data policies (table-policies.ts): fields excluded or hashed before staging; the schema contract. */
  columns: columnsSchema.optional(),
  schema: schemaContractSchema.optional(),
  deletes: deletesSchema.optional(),
});

export const sourceSchema = z.strictObject({
  name: z.string().regex(NAME_PATTERN, 'expected a name of lowercase letters, digits and _ starting with a letter (it becomes the DuckDB schema name)'),
  type: z.string(),
  schedule: scheduleSchema.optional(),
  config: z.record(z.string(), z.unknown()).default({}),
  tables: z.record(z.string(), tableSchema.nullable()).optional(),
  /** The key of the tables' `columns.hash` (default: SLUICE_HASH_KEY); a secret. */
  hashKey: hashKeySchema,
});

/** `${S3_ENDPOINT:-}` substitutes to an empty string: that means "not set". */
const optionalText = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

export const warehouseSchema = z.strictObject({
  /** Local working directory: staging, spill files, the embedded Temporal server; and the embedded lake. */
  path: z.string().default('./warehouse'),
  /** DuckLake catalog: `postgres://user:password@host:5432/db` (scale-out) or a SQLite file path; default `<path>/catalog.sqlite`. */
  catalog: optionalText,
  /** Data files: `s3://bucket/prefix/` (scale-out) or a local directory; default `<path>/data/`. */
  data: optionalText,
  s3: z
    .strictObject({
      endpoint: optionalText,
      region: optionalText,
      accessKeyId: optionalText,
      secretAccessKey: optionalText,
      sessionToken: optionalText,
      urlStyle: z.enum(['path', 'vhost']).optional(),
      useSsl: z.boolean().optional(),
    })
    .optional(),
});

export const fileSchema = z.strictObject({
  warehouse: warehouseSchema.default({ path: './warehouse' }),
  temporal: z
    .strictObject({
      address: z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port, e.g. localhost:7233'),
      namespace: z.string().default(temporalDefaults.namespace),
      taskQueue: z.string().default(temporalDefaults.taskQueue),
      /** The cluster's Web UI, for links in alerts (the embedded dev server's is known). */
      uiUrl: z.url().optional(),
    })
    .optional(),
  // Sources are validated one by one below, so one bad source does not hide the problems of another.
  sources: z.array(z.unknown()).default([]),
  alerts: z.strictObject({ webhook: z.url(), afterFailedIntervals: z.number().int().positive().default(1) }).optional(),
  metrics: z.strictObject({ port: z.number().int().min(0).max(65535) }).optional(),
  redis: z.strictObject({ url: z.string() }).optional(),
  funnel: z.record(z.string(), z.unknown()).optional(),
  /** The warehouse's maintenance workflow (merge small files, expire snapshots, delete unneeded files): daily when omitted. */
  maintenance: z.strictObject({ schedule: scheduleSchema.optional(), retentionDays: z.number().min(0).default(7) }).optional(),
  /** Exports of commerce data into PostHog (config-exports.ts). */
  exports: z.array(exportEntrySchema(scheduleSchema)).default([]),
});
export type ConfigFile = Omit<z.output<typeof fileSchema>, 'sources'> & { sources: z.output<typeof sourceSchema>[] };
type SourceEntry = z.output<typeof sourceSchema>;

/** A table as sluice.yaml configures it, settings resolved by `planTable` (a declared table is core's `ResolvedTable`). */
export interface ConfiguredTable {
  name: string;
  mode: SyncMode;
  cursorField?: string;
  /** A table-level schedule: this table runs on its own Temporal Schedule instead of its source's. */
  schedule?: z.output<typeof scheduleSchema>;
  /** `columns:`: fields excluded or hashed before staging. */
  columns?: ColumnPolicy;
  /** `schema:`: the table's schema contract (default evolve). */
  schema?: SchemaContract;
  /** `deletes:`: how deleted records are detected and handled. */
  deletes?: DeletesPolicy;
}
export interface ResolvedSource {
  name: string;
  type: string;
  connector: Connector;
  config: unknown;
  tables: ConfiguredTable[];
  schedule?: z.output<typeof scheduleSchema>;
  /** The key of hashed columns (a registered secret); set when a table hashes something. */
  hashKey?: string;
}
export interface LoadedConfig {
  file: string;
  dir: string;
  warehouse: WarehousePaths;
  temporal?: { address: string; namespace: string; taskQueue: string; uiUrl?: string };
  sources: ResolvedSource[];
  /** `exports:`, resolved (each holds its project key, a registered secret). */
  exports: RuntimeExport[];
  raw: ConfigFile;
}

/** Substitutes ${VAR} and ${VAR:-default} in every string; returns the variables that were missing. */
function substituteEnv(node: unknown, env: NodeJS.ProcessEnv, at: (string | number)[], missing: { name: string; at: (string | number)[] }[]): unknown {
  if (typeof node === 'string') {
    const userinfo = at.length === 2 && at[0] === 'warehouse' && at[1] === 'catalog' ? urlUserinfo(node) : undefined;
    return node.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined, offset: number) => {
      const v = env[name];
      const value = v !== undefined && v !== '' ? v : fallback;
      if (value === undefined) {
        missing.push({ name, at });
        return '';
      }
      // `postgres://sluice:${PGPASSWORD}@host/db`: the password is whatever the variable holds (a `/`,
      // `#`, `?`, `@` or `%` in it would otherwise cut or change the URL), so it goes in percent-encoded.
      return userinfo && offset > userinfo[0] && offset < userinfo[1] ? encodeURIComponent(value) : value;
    });
  }
  if (Array.isArray(node)) return node.map((v, i) => substituteEnv(v, env, [...at, i], missing));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, substituteEnv(v, env, [...at, k], missing)]));
  return node;
}

/** Where the user (and password) of a `postgres://user:password@host…` template are: [after '//', the '@']. */
function urlUserinfo(template: string): [number, number] | undefined {
  const scheme = /^postgres(ql)?:\/\//i.exec(template);
  if (!scheme) return undefined;
  const start = scheme[0].length;
  // The authority ends at the first '/' outside a ${…} reference (a fallback may hold one).
  const rest = template.slice(start).replace(/\$\{[^}]*\}/g, (m) => 'x'.repeat(m.length));
  const end = start + (rest.includes('/') ? rest.indexOf('/') : rest.length);
  const atSign = template.lastIndexOf('@', end - 1);
  return atSign >= start ? [start - 1, atSign] : undefined;
}

export const formatPath = (p: readonly PropertyKey[]) =>
  p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');

function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, p: readonly PropertyKey[]): number | undefined {
  for (let n = p.length; n >= 0; n--) {
    const node = doc.getIn(p.slice(0, n) as unknown[], true) as Node | undefined;
    if (node && (isMap(node) || isSeq(node) || isScalar(node)) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  const got = value === undefined ? 'nothing' : JSON.stringify(value)?.slice(0, 60);
  switch (issue.code) {
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; got ${got}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_type':
      return value === undefined ? `required (${issue.expected})` : `expected ${issue.expected}; got ${got}`;
    case 'invalid_union':
      return `${issue.message}; got ${got}`;
    default:
      return `${issue.message}${value !== undefined ? `; got ${got}` : ''}`;
  }
}

/** A user's value, quoted and shortened: an error names the value, it does not echo 100 kB of it. */
const show = (v: unknown) => {
  const text = typeof v === 'string' ? v : String(JSON.stringify(v));
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}…` : text);
};

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  return p.reduce<unknown>((acc, k) => (acc && typeof acc === 'object' ? (acc as Record<PropertyKey, unknown>)[k] : undefined), root);
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(abs, [code === 'ENOENT' ? `file not found: create sluice.yaml (see sluice.example.yaml) or pass --config PATH` : `cannot read the file: ${(err as Error).message}`]);
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(abs, doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: malformed YAML: ${e.message.split('\n')[0]}`));
  }
  const problems: string[] = [];
  const where = (p: readonly PropertyKey[]) => {
    const line = lineOf(doc, counter, p);
    return `${line ? `line ${line}, ` : ''}${formatPath(p) || '(top level)'}`;
  };
  const plain = doc.toJS() ?? {};
  const missing: { name: string; at: (string | number)[] }[] = [];
  const substituted = substituteEnv(plain, env, [], missing);
  registerExportSecrets(substituted);
  for (const m of missing) {
    const srcName = m.at[0] === 'sources' ? valueAt(plain, ['sources', m.at[1]!, 'name']) : undefined;
    problems.push(`${where(m.at)}: environment variable ${m.name} is not set${typeof srcName === 'string' ? ` (source "${srcName.slice(0, 64)}")` : ''}: export it, or write \${${m.name}:-default}`);
  }
  const parsed = fileSchema.safeParse(substituted);
  if (!parsed.success) for (const issue of parsed.error.issues) problems.push(`${where(issue.path)}: ${describeIssue(issue, valueAt(substituted, issue.path))}`);
  // One pass reports every problem: the sources are checked even when the rest of the file is not valid.
  const listed = (substituted as { sources?: unknown } | null)?.sources;
  const rawSources: unknown[] = parsed.success ? parsed.data.sources : Array.isArray(listed) ? listed : [];
  const entries: SourceEntry[] = [];
  for (const [i, raw] of rawSources.entries()) {
    const sp = sourceSchema.safeParse(raw);
    if (sp.success) {
      entries.push(sp.data);
      continue;
    }
    for (const issue of sp.error.issues) problems.push(`${where(['sources', i, ...issue.path])}: ${describeIssue(issue, valueAt(raw, issue.path))}`);
    // Still check what can be checked (type, connector config, table names) of a source with a bad name,
    // a bad table setting or a bad schedule: a table whose settings are invalid keeps its name (its
    // problems are reported above), so an unknown table name is reported in the same pass.
    const r = raw as Partial<SourceEntry> | undefined;
    const tables = z.record(z.string(), z.unknown()).safeParse(r?.tables);
    const config = z.record(z.string(), z.unknown()).safeParse(r?.config);
    entries.push({
      name: typeof r?.name === 'string' ? r.name : `sources[${i}]`,
      type: typeof r?.type === 'string' ? r.type : '',
      config: config.success ? config.data : {},
      tables: tables.success ? Object.fromEntries(Object.entries(tables.data).map(([name, t]) => [name, tableSchema.nullable().safeParse(t).data ?? null])) : undefined,
      schedule: undefined,
      hashKey: undefined,
    });
  }
  const sources: ResolvedSource[] = [];
  const seen = new Map<string, number>();
  for (const [i, s] of entries.entries()) {
    const at = ['sources', i];
    if (s.type === '') continue;
    if (seen.has(s.name)) problems.push(`${where([...at, 'name'])}: duplicate source name ${show(s.name)} (also sources[${seen.get(s.name)}]); names must be unique`);
    seen.set(s.name, i);
    if (s.name === 'sluice' || s.name === 'funnel' || s.name === 'main') problems.push(`${where([...at, 'name'])}: ${show(s.name)} is reserved; choose another source name`);
    if (s.name === 'maintenance') problems.push(`${where([...at, 'name'])}: "maintenance" is reserved (the warehouse maintenance workflow is sluice:maintenance); choose another source name`);
    const load = CONNECTORS[s.type];
    if (!load) {
      problems.push(`${where([...at, 'type'])}: unknown source type ${show(s.type)}; known types: ${Object.keys(CONNECTORS).sort().join(', ')}`);
      continue;
    }
    let connector: Connector;
    try {
      connector = await load();
    } catch (err) {
      problems.push(`${where([...at, 'type'])}: the ${s.type} connector failed to load: ${(err as Error).message}`);
      continue;
    }
    const cp = connector.config.safeParse(s.config);
    if (!cp.success) {
      for (const issue of cp.error.issues) {
        const p = [...at, 'config', ...issue.path];
        problems.push(`${where(p)}: ${describeIssue(issue, valueAt(s.config, issue.path))}${connector.secrets.includes(String(issue.path[0])) ? '' : ''}`);
      }
    } else {
      for (const key of connector.secrets) registerSecret((cp.data as Record<string, unknown>)[key]);
    }
    const tables: ConfiguredTable[] = [];
    const declared = new Map(connector.tables.map((t) => [t.name, t]));
    const entries = s.tables ? Object.entries(s.tables) : connector.tables.map((t) => [t.name, null] as const);
    for (const [name, tcfg] of entries) {
      const spec = declared.get(name);
      const tp = [...at, 'tables', name];
      if (!spec) {
        problems.push(`${where(tp)}: ${s.type} has no table ${show(name)}; tables: ${[...declared.keys()].join(', ')}`);
        continue;
      }
      const columns = columnPolicyOf(tcfg?.columns);
      const deletes = deletesPolicyOf(tcfg?.deletes);
      const { plan, problems: refused } = planTable(spec, { mode: tcfg?.mode, cursor: tcfg?.cursor, columns, schema: tcfg?.schema, deletes });
      for (const p of refused) {
        if (p.setting === 'columns') problems.push(`${where([...tp, 'columns', p.list, p.index])}: ${s.type}.${name}: ${p.reason}; got ${show(p.value)}`);
        else if (p.setting === 'window') continue;
        else if (p.setting === 'deletes') problems.push(`${where([...tp, 'deletes', p.field])}: ${s.type}.${name}: ${p.reason}; got ${show(p.value)}${p.value === 'vendor' && !spec.deleteFeed ? feedTables(connector.tables) : ''}`);
        else if (p.setting === 'mode') problems.push(`${where([...tp, 'mode'])}: ${s.type}.${name} does not support ${show(p.value)}; modes: ${p.allowed.join(', ')}`);
        else if (p.allowed.length === 0) problems.push(`${where([...tp, 'cursor'])}: ${s.type}.${name} has no cursor (full refresh only)`);
        else problems.push(`${where([...tp, 'cursor'])}: expected one of ${p.allowed.map((f) => `"${f}"`).join(', ')}; got ${show(p.value)}`);
      }
      tables.push({ name, mode: plan.mode, cursorField: plan.cursorField, ...(tcfg?.schedule ? { schedule: tcfg.schedule } : {}), ...(columns ? { columns } : {}), ...(tcfg?.schema ? { schema: tcfg.schema } : {}), ...(deletes ? { deletes } : {}) });
    }
    // The key is resolved once per source, and only when a table hashes: a source without hashing needs none.
    let hashKey: string | undefined;
    const hashing = tables.find((t) => t.columns?.hash.length);
    if (hashing) {
      const k = resolveHashKey(s.hashKey, env);
      if ('problem' in k) problems.push(`${where(s.hashKey !== undefined ? [...at, 'hashKey'] : [...at, 'tables', hashing.name, 'columns', 'hash'])}: ${k.problem}`);
      else registerSecret((hashKey = k.key));
    } else if (s.hashKey) registerSecret(s.hashKey);
    if (cp.success) sources.push({ name: s.name, type: s.type, connector, config: cp.data, tables, schedule: s.schedule, ...(hashKey ? { hashKey } : {}) });
  }
  if (!parsed.success) throw new ConfigError(abs, problems);
  const cfg: ConfigFile = { ...parsed.data, sources: entries };
  problems.push(...warehouseProblems(cfg.warehouse).map((m) => `${where(['warehouse', ...m.at])}: ${m.message}`));
  problems.push(...exportProblems(cfg.exports, entries.map((e) => sources.find((r) => r.name === e.name) ?? { name: e.name, type: e.type })).map((m) => `${where(m.at)}: ${m.message}`));
  if (problems.length) throw new ConfigError(abs, problems);
  const dir = path.dirname(abs);
  return {
    file: abs,
    dir,
    warehouse: warehousePaths(cfg.warehouse, dir),
    temporal: cfg.temporal,
    sources,
    exports: cfg.exports.map((e) => runtimeExport(e, sources.find((s) => s.name === e.from)!.type)),
    raw: cfg,
  };
}

type WarehouseConfig = z.output<typeof warehouseSchema>;

/** What is wrong with a warehouse block that its schema cannot say (URLs, combinations). */
function warehouseProblems(w: WarehouseConfig): { at: string[]; message: string }[] {
  const out: { at: string[]; message: string }[] = [];
  if (w.catalog && /^[a-z][a-z0-9+.-]*:\/\//i.test(w.catalog) && !/^postgres(ql)?:\/\//i.test(w.catalog))
    out.push({ at: ['catalog'], message: `expected postgres://user:password@host:5432/database (a DuckLake catalog in PostgreSQL) or the path of a SQLite file; got ${JSON.stringify(w.catalog.replace(/\/\/[^@/]*@/, '//***@'))}` });
  if (w.catalog && /^postgres(ql)?:\/\//i.test(w.catalog)) {
    try {
      const u = new URL(w.catalog);
      if (!u.hostname || u.pathname.replace(/^\//, '') === '') out.push({ at: ['catalog'], message: 'expected postgres://user:password@host:5432/database: the host and the database name are required' });
    } catch {
      out.push({ at: ['catalog'], message: 'not a valid postgres:// URL (percent-encode special characters of the password, or use ${PGPASSWORD})' });
    }
  }
  if (w.data && /^[a-z][a-z0-9+.-]*:\/\//i.test(w.data) && !/^s3:\/\/[^/]+/i.test(w.data))
    out.push({ at: ['data'], message: `expected s3://bucket/prefix/ (S3-compatible object storage) or a local directory; got ${JSON.stringify(w.data)}` });
  if (w.s3 && !(w.data && /^s3:\/\//i.test(w.data))) out.push({ at: ['s3'], message: 'warehouse.s3 configures object storage, but warehouse.data is not an s3:// URL: set data: s3://bucket/prefix/' });
  if (w.s3 && Boolean(w.s3.accessKeyId) !== Boolean(w.s3.secretAccessKey))
    out.push({ at: ['s3', w.s3.accessKeyId ? 'secretAccessKey' : 'accessKeyId'], message: 'accessKeyId and secretAccessKey go together (or leave both out to use the AWS credential chain)' });
  return out;
}

/** The warehouse's locations; secrets (catalog password, bucket keys) are registered for redaction. */
function warehousePaths(w: WarehouseConfig, dir: string): WarehousePaths {
  const root = path.resolve(dir, w.path);
  let catalog: CatalogLocation | undefined;
  if (w.catalog && /^postgres(ql)?:\/\//i.test(w.catalog)) {
    const u = new URL(w.catalog);
    const password = u.password ? decodeURIComponent(u.password) : undefined;
    if (password) registerSecret(password);
    catalog = { kind: 'postgres', host: u.hostname, port: Number(u.port || 5432), database: decodeURIComponent(u.pathname.slice(1)), user: decodeURIComponent(u.username || 'postgres'), ...(password !== undefined ? { password } : {}) };
  } else if (w.catalog) catalog = { kind: 'sqlite', file: path.resolve(dir, w.catalog.replace(/^sqlite:/, '')) };
  const data: DataLocation | undefined = !w.data ? undefined : /^s3:\/\//i.test(w.data) ? { kind: 's3', url: w.data.endsWith('/') ? w.data : `${w.data}/` } : { kind: 'local', dir: path.resolve(dir, w.data) + path.sep };
  if (w.s3?.secretAccessKey) registerSecret(w.s3.secretAccessKey);
  if (w.s3?.sessionToken) registerSecret(w.s3.sessionToken);
  return new WarehousePaths(root, { ...(catalog ? { catalog } : {}), ...(data ? { data } : {}), ...(w.s3 ? { s3: w.s3 } : {}) });
}
