import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { Connector, ResolvedTable, SyncMode } from '@sluice/core';
import type { EmulatorServer, Fault } from '@sluice/emulators/common/http';
import type { EmulatorConformance } from '@sluice/emulators/common/conformance';
import { sluiceEnv, type CliResult, type SluiceEnv, type SourceYaml } from './harness';
import { CONNECTORS } from '@sluice/connectors/registry';
import { activityAttempts, activityResults, captureTemporalLogs, historyText, listRuns } from './temporal';
import { checkPartitions } from './warehouse';

/**
 * The conformance suite: the standard checks every connector passes, run through the real path an
 * operator uses (sluice.yaml → CLI → Temporal workflows → worker activities → Parquet + DuckDB) against
 * the connector's emulator. A connector's test file calls it once:
 *
 *   runConformance({ connector, emulator: { start, sourceConfig }, badConfig: (emu) => ({ ...sourceConfig(emu), token: 'wrong-token' }) });
 *
 * Checks that need something the emulator or the options do not provide are skipped, with the reason
 * printed in the report (never silently passed).
 */

/** Which requests are page reads of a table (token and other auth endpoints are not). */
export type PageRequestFilter = (r: { method: string; path: string }) => boolean;

export interface ConformanceOptions<H extends EmulatorServer> {
  connector: Connector;
  emulator: { start(options?: any): Promise<H>; sourceConfig(handle: H): Record<string, unknown> };
  /** The connector config with credentials the vendor rejects (secrets in it must never show up anywhere). */
  badConfig: (handle: H) => Record<string, unknown>;
  /**
   * The emulator's conformance hooks, when the handle does not carry them as `handle.conformance` (or to
   * adapt an emulator's own store API from the test file).
   */
  hooks?: (handle: H) => EmulatorConformance | undefined;
  /** What `sluice check` must say about the bad credentials (the vendor-specific, operator-grade message). */
  badCheckMessage?: RegExp;
  /** Options for the main emulator: keep the data small, the suite syncs every table several times. */
  startOptions?: Record<string, unknown>;
  /** Extra config for every source of the suite (e.g. a small page size). */
  configPatch?: Record<string, unknown>;
  /** Tables to check; default every table. */
  tables?: readonly string[];
  /**
   * Page-size boundaries and resume need a table whose record count and page size can be set. Without
   * this, those two checks are skipped.
   */
  paging?: {
    table: string;
    /** Config that sets the page size, e.g. `(n) => ({ pageSize: n })`. */
    pageSize: (size: number) => Record<string, unknown>;
    /** Emulator start options giving the table exactly n records, e.g. `(n) => ({ orders: n })`. */
    records: (n: number) => Record<string, unknown>;
    /** Default 10. */
    size?: number;
  };
  /**
   * The failure injected into one page of the resume check: it must not be retried by the HTTP client
   * but must be by Temporal. Default: HTTP 200 with `{}` (valid JSON, no record list).
   */
  resumeFault?: Fault['kind'];
  /** Default: every request whose path does not look like a token endpoint. */
  isPageRequest?: PageRequestFilter;
  /** 429 answers tolerated over the whole suite (default 0: the connector's governor keeps under the limit). */
  maxRateLimited?: number;
  /** Prefix of the suite's source names (default `cf_<type>`); must be unique across concurrently running suites. */
  sourcePrefix?: string;
}

const defaultIsPage: PageRequestFilter = (r) => !/(^|\/)(oauth|token|auth)(\/|$)/i.test(r.path);
const MODE_SUFFIX: Record<SyncMode, string> = { incremental: 'inc', full_refresh: 'full', append_only: 'app' };

export function runConformance<H extends EmulatorServer>(opts: ConformanceOptions<H>): void {
  const { connector } = opts;
  const prefix = opts.sourcePrefix ?? `cf_${connector.type}`;
  const tables: ResolvedTable[] = connector.tables.filter((t) => !opts.tables || opts.tables.includes(t.name));
  const modes = [...new Set(tables.flatMap((t) => t.modes))].sort() as SyncMode[];
  const sourceOf = (mode: SyncMode) => `${prefix}_${MODE_SUFFIX[mode]}`;
  const tablesIn = (mode: SyncMode) => tables.filter((t) => t.modes.includes(mode));
  const isPage = opts.isPageRequest ?? defaultIsPage;
  const pageSize = opts.paging?.size ?? 10;
  const BAD = `${prefix}_bad`;
  const BOUNDARY = [3 * pageSize, 3 * pageSize + 1, 3 * pageSize - 1];
  const RESUME_PAGES = 8;

  describe(`conformance: ${connector.type}`, () => {
    let emu: H;
    let hooks: EmulatorConformance | undefined;
    const pagingEmus: H[] = [];
    let resumeEmu: H | undefined;
    let env: SluiceEnv;
    const outputs: CliResult[] = [];
    const sourceConfigs: Record<string, unknown>[] = [];
    const logs = captureTemporalLogs();
    const ran = new Set<string>();

    const run = async (...args: string[]) => {
      const r = await env.run(...args);
      outputs.push(r);
      return r;
    };
    const sync = async (source: string, ...args: string[]) => {
      ran.add(`sluice:${source}`);
      const r = await run('sync', source, '--json', ...args);
      let results: { outcome: string; tables: { table: string; outcome: string; rowsRead: number; rowsWritten: number; error?: string }[] }[] = [];
      try {
        results = JSON.parse(r.stdout);
      } catch {
        // asserted by callers through the exit code
      }
      return { ...r, tables: results.flatMap((s) => s.tables) };
    };
    const hooksFor = (ctx: TestContext, table: string): EmulatorConformance | undefined => {
      if (!hooks) ctx.skip(`the ${connector.type} emulator has no \`conformance\` hooks (count/ids/touch): cannot compare the warehouse with the source`);
      if (!hooks.tables.includes(table)) return undefined;
      return hooks;
    };
    const keyExpr = (t: ResolvedTable) => `concat_ws('|', ${t.primaryKey.map((k) => `CAST("${k}" AS VARCHAR)`).join(', ')})`;
    const warehouseIds = async (source: string, t: ResolvedTable) =>
      (await env.query<{ k: string }>(`SELECT DISTINCT ${keyExpr(t)} AS k FROM "${source}"."${t.name}"`)).map((r) => r.k).sort();
    const pageRequests = (e: H, from = 0) => e.requests.slice(from).filter((r) => isPage(r)).length;

    beforeAll(async () => {
      const registered = CONNECTORS[connector.type];
      if (!registered) throw new Error(`connector "${connector.type}" is not in connectors/registry.ts: add \`${connector.type}: async () => (await import('./${connector.type}/src/index')).default,\``);
      if ((await registered()).type !== connector.type) throw new Error(`connectors/registry.ts maps "${connector.type}" to another connector`);
      emu = await opts.emulator.start({ seed: 1, ...opts.startOptions });
      hooks = opts.hooks ? opts.hooks(emu) : (emu as H & { conformance?: EmulatorConformance }).conformance;
      const good = { ...opts.emulator.sourceConfig(emu), ...opts.configPatch };
      const bad = { ...opts.badConfig(emu), ...opts.configPatch };
      sourceConfigs.push(good, bad);
      const sources: SourceYaml[] = modes.map((m) => ({ name: sourceOf(m), type: connector.type, config: good, tables: Object.fromEntries(tablesIn(m).map((t) => [t.name, { mode: m }])) }));
      sources.push({ name: BAD, type: connector.type, config: bad, tables: { [tables[0]!.name]: null } });
      if (opts.paging) {
        const p = opts.paging;
        const table = tables.find((t) => t.name === p.table);
        if (!table) throw new Error(`paging.table "${p.table}" is not a table of ${connector.type}`);
        const mode: SyncMode = table.modes.includes('full_refresh') ? 'full_refresh' : table.defaultMode;
        for (const [i, n] of BOUNDARY.entries()) {
          const e = await opts.emulator.start({ seed: 2 + i, ...opts.startOptions, ...p.records(n) });
          pagingEmus.push(e);
          const config = { ...opts.emulator.sourceConfig(e), ...opts.configPatch, ...p.pageSize(pageSize) };
          sourceConfigs.push(config);
          sources.push({ name: `${prefix}_pg${i}`, type: connector.type, config, tables: { [p.table]: { mode } } });
        }
        resumeEmu = await opts.emulator.start({ seed: 9, ...opts.startOptions, ...p.records(RESUME_PAGES * pageSize) });
        const config = { ...opts.emulator.sourceConfig(resumeEmu), ...opts.configPatch, ...p.pageSize(pageSize) };
        sourceConfigs.push(config);
        sources.push({ name: `${prefix}_rs`, type: connector.type, config, tables: { [p.table]: { mode } } });
      }
      env = await sluiceEnv({ sources });
    });

    afterAll(async () => {
      await env?.close();
      for (const e of [emu, ...pagingEmus, resumeEmu]) await e?.close();
    });

    it('check passes with good credentials', async () => {
      const source = sourceOf(modes[0]!);
      ran.add(`sluice:${source}:check`);
      const r = await run('check', source);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`✓ ${source} (${connector.type}):`);
    });

    it('check and sync fail clearly with bad credentials, without retrying', async () => {
      ran.add(`sluice:${BAD}:check`);
      const r = await run('check', BAD);
      expect(r.code).toBe(1);
      const line = r.stdout.split('\n').find((l) => l.startsWith(`✗ ${BAD} (${connector.type}): `));
      expect(line, r.stdout + r.stderr).toBeDefined();
      const message = line!.slice(`✗ ${BAD} (${connector.type}): `.length);
      expect(message.length, 'the check message says what is wrong').toBeGreaterThan(10);
      if (opts.badCheckMessage) expect(message).toMatch(opts.badCheckMessage);
      const s = await sync(BAD);
      expect(s.code).toBe(1);
      expect(s.stderr).toContain(`${BAD}.${tables[0]!.name}`);
      // A rejected credential is not retried: retrying cannot fix it and only delays the operator.
      const attempts = await activityAttempts(env.client, `sluice:${BAD}:${tables[0]!.name}`);
      expect(attempts.filter((a) => a.type === 'extractTable')).toEqual([{ type: 'extractTable', attempt: 1 }]);
    });

    for (const mode of modes) {
      it(`every table syncs in ${mode} (${tablesIn(mode).map((t) => t.name).join(', ')}); primary key unique`, async (ctx) => {
        const source = sourceOf(mode);
        const r = await sync(source);
        expect(r.code, r.stderr).toBe(0);
        expect(r.tables.map((t) => t.table).sort()).toEqual(tablesIn(mode).map((t) => t.name).sort());
        for (const t of r.tables) expect(t.outcome, `${source}.${t.table}: ${t.error ?? ''}`).toBe('succeeded');
        const read = new Map(r.tables.map((t) => [t.table, t.rowsRead]));
        const unchecked: string[] = [];
        const sizes: string[] = [];
        for (const t of tablesIn(mode)) {
          const [c] = await env.query<{ n: number; k: number }>(`SELECT count(*)::INTEGER AS n, count(DISTINCT ${keyExpr(t)})::INTEGER AS k FROM "${source}"."${t.name}"`);
          sizes.push(`${t.name}=${c!.n}`);
          if (mode === 'append_only') {
            const cursor = t.cursor!.default;
            const [d] = await env.query<{ v: number }>(`SELECT count(DISTINCT (${keyExpr(t)}, "${cursor}"))::INTEGER AS v FROM "${source}"."${t.name}"`);
            expect(d!.v, `${source}.${t.name}: (primary key, ${cursor}) unique`).toBe(c!.n);
          } else {
            expect(c!.k, `${source}.${t.name}: primary key (${t.primaryKey.join(', ')}) unique`).toBe(c!.n);
          }
          // A whole extract holds each record once: more records read than rows kept means the declared
          // key is not unique at the vendor (distinct records collapsed) or paging returned some twice.
          if (mode === 'full_refresh') expect(read.get(t.name), `${source}.${t.name}: records read vs distinct (${t.primaryKey.join(', ')})`).toBe(c!.n);
          const h = hooks?.tables.includes(t.name) ? hooks : undefined;
          if (!h) {
            unchecked.push(t.name);
            continue;
          }
          expect(c!.k, `${source}.${t.name}: every record of the source`).toBe(h.count(t.name));
          expect(await warehouseIds(source, t)).toEqual(h.ids(t.name).sort());
        }
        expect(sizes.some((x) => !x.endsWith('=0')), `every table of ${source} is empty (${sizes.join(', ')}): the emulator should hold data`).toBe(true);
        if (unchecked.length) await ctx.annotate(`not compared with the source (no emulator hooks): ${unchecked.join(', ')}; rows: ${sizes.join(', ')}`);
      });
    }

    it('incremental after updates at the source equals the source', async (ctx) => {
      if (!modes.includes('incremental')) ctx.skip(`${connector.type} declares no incremental table`);
      const source = sourceOf('incremental');
      const checked = tablesIn('incremental').filter((t) => hooksFor(ctx, t.name));
      if (!checked.length) ctx.skip('the emulator hooks know none of the incremental tables');
      if (!ran.has(`sluice:${source}`)) expect((await sync(source)).code).toBe(0);
      for (const t of checked) hooks!.touch(t.name);
      const r = await sync(source);
      expect(r.code, r.stderr).toBe(0);
      for (const t of checked) {
        const h = hooks!;
        const [c] = await env.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM "${source}"."${t.name}"`);
        expect(c!.n, `${source}.${t.name}: rows`).toBe(h.count(t.name));
        expect(await warehouseIds(source, t), `${source}.${t.name}: ids`).toEqual(h.ids(t.name).sort());
        if (h.versions) {
          const cursor = t.cursor!.default;
          const rows = await env.query<{ k: string; v: unknown }>(`SELECT ${keyExpr(t)} AS k, "${cursor}" AS v FROM "${source}"."${t.name}"`);
          const want = h.versions(t.name);
          const differ = rows.filter((row) => !sameInstant(row.v, want[row.k]));
          expect(differ.slice(0, 5).map((d) => `${d.k}: warehouse ${String(d.v)}, source ${want[d.k]}`), `${source}.${t.name}: ${cursor} as at the source`).toEqual([]);
        }
      }
      if (modes.includes('append_only')) {
        const app = sourceOf('append_only');
        const a = await sync(app);
        expect(a.code, a.stderr).toBe(0);
        for (const t of tablesIn('append_only').filter((x) => hooks!.tables.includes(x.name))) {
          expect(await warehouseIds(app, t), `${app}.${t.name}: every record once at least`).toEqual(hooks!.ids(t.name).sort());
        }
      }
    });

    it('partition field present, a UTC timestamp, and every file in its UTC month', async (ctx) => {
      const mode = modes.includes('incremental') ? 'incremental' : modes[0]!;
      const source = sourceOf(mode);
      const partitioned = tablesIn(mode).filter((t) => t.partitionBy);
      if (!partitioned.length) ctx.skip(`no ${connector.type} table declares partitionBy`);
      if (!ran.has(`sluice:${source}`)) expect((await sync(source)).code).toBe(0);
      for (const t of partitioned) {
        const rep = await checkPartitions(env.warehouse, source, t.name, t.partitionBy!);
        expect(rep.problems, `${source}.${t.name}`).toEqual([]);
        const [c] = await env.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM "${source}"."${t.name}"`);
        if (c!.n > 0) expect(rep.dated, `${source}.${t.name}: rows with ${t.partitionBy}`).toBeGreaterThan(0);
        expect(rep.dated + rep.undated).toBe(c!.n);
      }
    });

    it(`pagination: many pages and exact page-size boundaries (${BOUNDARY.join(', ')} records, ${pageSize} a page)`, async (ctx) => {
      if (!opts.paging) ctx.skip('no `paging` option (table, pageSize, records): page-size boundaries not checked');
      const t = tables.find((x) => x.name === opts.paging!.table)!;
      for (const [i, n] of BOUNDARY.entries()) {
        const e = pagingEmus[i]!;
        const source = `${prefix}_pg${i}`;
        const before = e.requests.length;
        const r = await sync(source);
        expect(r.code, r.stderr).toBe(0);
        const [c] = await env.query<{ n: number; k: number }>(`SELECT count(*)::INTEGER AS n, count(DISTINCT ${keyExpr(t)})::INTEGER AS k FROM "${source}"."${t.name}"`);
        expect(c, `${n} records in pages of ${pageSize}`).toEqual({ n, k: n });
        const pages = Math.ceil(n / pageSize);
        const requests = pageRequests(e, before);
        // Every page once; at most one more request to learn that the last full page was the last. Sliced
        // (forced): each slice may end on one more request, plus the probe and the tail pass.
        const slices = process.env.SLUICE_SLICES === 'force' ? ((t.reads?.paging.slices as { max?: number } | undefined)?.max ?? 0) : 0;
        expect(requests, `${n} records in pages of ${pageSize}: page requests`).toBeGreaterThanOrEqual(pages);
        expect(requests, `${n} records in pages of ${pageSize}: page requests`).toBeLessThanOrEqual(pages + 1 + (slices ? slices + 2 : 0));
      }
    });

    it(`resume: an extract that fails mid-way is retried by Temporal from its last checkpoint`, async (ctx) => {
      if (!opts.paging || !resumeEmu) ctx.skip('no `paging` option: cannot size a table to many pages for the resume check');
      const e = resumeEmu!;
      const t = tables.find((x) => x.name === opts.paging!.table)!;
      const source = `${prefix}_rs`;
      const n = RESUME_PAGES * pageSize;
      // A clean run first: how many page requests a whole extract takes.
      let before = e.requests.length;
      const clean = await sync(source);
      expect(clean.code, clean.stderr).toBe(0);
      const cleanRequests = pageRequests(e, before);
      // Then the same extract with its 4th page failing once, in a way the HTTP client does not retry.
      let seen = 0;
      const fault: Fault = { times: 1, match: (req) => isPage(req) && ++seen === 4, kind: opts.resumeFault ?? { type: 'status', status: 200, body: {} } };
      e.faults.push(fault);
      before = e.requests.length;
      const r = await sync(source);
      e.faults.splice(e.faults.indexOf(fault), 1);
      expect(fault.times, 'the fault was hit').toBe(0);
      expect(r.code, r.stderr).toBe(0);
      const [c] = await env.query<{ n: number; k: number }>(`SELECT count(*)::INTEGER AS n, count(DISTINCT ${keyExpr(t)})::INTEGER AS k FROM "${source}"."${t.name}"`);
      expect(c).toEqual({ n, k: n });
      const extra = pageRequests(e, before) - cleanRequests;
      // The failed request, plus at most one page read again; a restart from scratch would re-read 3.
      expect(extra, 'page requests beyond a clean extract').toBeGreaterThanOrEqual(1);
      expect(extra, 'page requests beyond a clean extract').toBeLessThanOrEqual(2);
      const results = (await activityResults(env.client, `sluice:${source}:${t.name}`, 'extractTable')) as { resumedPages?: number }[];
      expect(results.at(-1)?.resumedPages, 'the retried attempt resumed from staged pages').toBeGreaterThanOrEqual(2);
    });

    it('rate limit respected: no request of the whole suite was answered 429', async () => {
      const all = [emu, ...pagingEmus, ...(resumeEmu ? [resumeEmu] : [])].flatMap((e) => e.requests);
      expect(all.length).toBeGreaterThan(0);
      const limited = all.filter((r) => r.status === 429);
      if (limited.length > (opts.maxRateLimited ?? 0)) {
        expect(limited.map((r) => `${r.method} ${r.path}${r.query}`).slice(0, 5), `${limited.length} of ${all.length} requests answered 429 (tolerated: ${opts.maxRateLimited ?? 0})`).toEqual([]);
      }
    });

    it('secrets absent from CLI output, worker logs, Temporal history and the warehouse', async (ctx) => {
      const secrets = [...new Set(sourceConfigs.flatMap((c) => connector.secrets.map((k) => c[k]).filter((v): v is string => typeof v === 'string' && v.length >= 4)))];
      // A secret the connector does not declare is redacted nowhere: every field named like one must be declared.
      const undeclared = Object.keys(sourceConfigs[0] ?? {}).filter((k) => /token|secret|password|api_?key|private_?key/i.test(k) && !connector.secrets.includes(k));
      expect(undeclared, 'config fields named like secrets but missing from `secrets:`').toEqual([]);
      if (!secrets.length) ctx.skip(`${connector.type} declares no secret config fields`);
      if (!ran.size) await sync(sourceOf(modes[0]!));
      const found: string[] = [];
      const look = (where: string, text: string) => {
        for (const s of secrets) if (text.includes(s)) found.push(`${where} contains ${s.slice(0, 3)}…`);
      };
      outputs.forEach((o, i) => look(`CLI run ${i + 1}`, o.stdout + o.stderr));
      if (logs.installed) look('worker logs', logs.lines.join('\n'));
      else await ctx.annotate('worker logs not captured: the Temporal Runtime was installed before the suite');
      const runs = await listRuns(env.client, env.taskQueue, [...ran]);
      expect(runs.length).toBeGreaterThan(0);
      for (const w of runs) look(`history of ${w.workflowId}`, historyText(await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory()));
      for (const f of walk(env.warehouse)) if (f.endsWith('.json')) look(path.relative(env.warehouse, f), fs.readFileSync(f, 'utf8'));
      look('sluice.syncs', JSON.stringify(await env.query('SELECT * FROM sluice.syncs')));
      for (const m of modes) for (const t of tablesIn(m)) look(`${sourceOf(m)}.${t.name} rows`, JSON.stringify(await env.query(`SELECT * FROM "${sourceOf(m)}"."${t.name}"`)));
      expect(found).toEqual([]);
      // The suite did exercise the paths a secret could leak through.
      expect(logs.installed ? logs.lines.length : 1).toBeGreaterThan(0);
    });
  });
}

function sameInstant(a: unknown, b: string | undefined): boolean {
  if (b === undefined) return false;
  if (a === b) return true;
  const x = Date.parse(String(a));
  const y = Date.parse(b);
  return Number.isFinite(x) && x === y;
}

function* walk(dir: string): Generator<string> {
  if (!fs.existsSync(dir)) return;
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) yield* walk(p);
    else yield p;
  }
}
