import './allocator'; // before @duckdb/node-api: see allocator.ts
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { unzipSync } from 'fflate';
import { fetch } from 'undici';

/**
 * The DuckDB extensions the warehouse needs, and where they come from. Extensions are built for one
 * DuckDB version and platform and signed by DuckDB; they are kept in Sluice's own extension directory
 * (not ~/.duckdb) so that what the setup fetched is exactly what the engine loads:
 *
 * 1. DuckDB's own `INSTALL` from its repository (a laptop with internet);
 * 2. else the PyPI package `duckdb-extension-<name>` of exactly this DuckDB version, which holds
 *    DuckDB's signed binary (machines that reach PyPI but not extensions.duckdb.org).
 *
 * Either way the binary is loaded with DuckDB's signature check on (`allow_unsigned_extensions` stays
 * false): a tampered or foreign file is refused by DuckDB itself.
 */
export const WAREHOUSE_EXTENSIONS = ['ducklake', 'sqlite_scanner', 'postgres_scanner', 'httpfs'] as const;
export type WarehouseExtension = (typeof WAREHOUSE_EXTENSIONS)[number];

export const SETUP_COMMAND = 'npm run setup';

export function extensionDirectory(): string {
  return process.env.SLUICE_DUCKDB_EXTENSIONS ?? path.join(os.homedir(), '.cache', 'sluice', 'duckdb-extensions');
}

/** Options every DuckDB instance of the warehouse is created with, so extensions load only from our directory. */
export function extensionOptions(): Record<string, string> {
  return {
    extension_directory: extensionDirectory(),
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'true',
  };
}

export class ExtensionError extends Error {}

/** DuckDB's version (`v1.5.5`) and platform (`linux_amd64`) as this process's DuckDB reports them. */
export async function duckdbTarget(conn: DuckDBConnection): Promise<{ version: string; platform: string }> {
  const r = await conn.runAndReadAll(`SELECT version() AS v, (SELECT platform FROM pragma_platform()) AS p`);
  const [v, p] = r.getRows()[0] as [string, string];
  return { version: v, platform: p };
}

function installedFile(dir: string, target: { version: string; platform: string }, name: string): string {
  return path.join(dir, target.version, target.platform, `${name}.duckdb_extension`);
}

/** Loads the extensions a warehouse needs, or says precisely which is missing and how to get it. */
export async function loadExtensions(conn: DuckDBConnection, names: readonly WarehouseExtension[]): Promise<void> {
  for (const name of names) {
    try {
      await conn.run(`LOAD ${name}`);
    } catch (err) {
      const target = await duckdbTarget(conn).catch(() => ({ version: '?', platform: '?' }));
      const msg = (err as Error).message;
      const missing = /not found|Install it first/i.test(msg);
      throw new ExtensionError(
        missing
          ? `the DuckDB extension "${name}" for DuckDB ${target.version} (${target.platform}) is not installed in ${extensionDirectory()}: run \`${SETUP_COMMAND}\` (it installs ${WAREHOUSE_EXTENSIONS.join(', ')} from DuckDB's repository or PyPI)`
          : `the DuckDB extension "${name}" in ${extensionDirectory()} cannot be loaded by DuckDB ${target.version} (${target.platform}): ${msg.split('\n')[0]}; delete that directory and run \`${SETUP_COMMAND}\` again`,
      );
    }
  }
}

export interface EnsureOptions {
  say?: (message: string) => void;
  /** PEP 503 simple index (default PyPI's; PIP_INDEX_URL is honoured, as pip does). */
  indexUrl?: string;
}

/**
 * Makes every warehouse extension loadable: already installed → nothing; else DuckDB's INSTALL; else
 * PyPI. Returns, per extension, where it came from. Throws naming each extension that could not be had.
 */
export async function ensureExtensions(opts: EnsureOptions = {}): Promise<Record<WarehouseExtension, 'installed' | 'duckdb' | 'pypi'>> {
  const say = opts.say ?? (() => undefined);
  const dir = extensionDirectory();
  fs.mkdirSync(dir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', extensionOptions());
  const conn = await instance.connect();
  const out = {} as Record<WarehouseExtension, 'installed' | 'duckdb' | 'pypi'>;
  const failures: string[] = [];
  try {
    const target = await duckdbTarget(conn);
    for (const name of WAREHOUSE_EXTENSIONS) {
      if (await loads(conn, name)) {
        out[name] = 'installed';
        continue;
      }
      try {
        await conn.run(`FORCE INSTALL ${name}`);
        if (await loads(conn, name)) {
          out[name] = 'duckdb';
          say(`DuckDB extension ${name}: installed from DuckDB's repository`);
          continue;
        }
      } catch {
        // DuckDB's repository is out of reach: PyPI is next.
      }
      try {
        const file = await fetchFromPypi(name, target, opts.indexUrl ?? pipIndex(), say);
        try {
          await conn.run(`FORCE INSTALL '${file.replace(/'/g, "''")}'`);
        } finally {
          fs.rmSync(path.dirname(file), { recursive: true, force: true });
        }
        if (!(await loads(conn, name))) throw new Error(`installed ${installedFile(dir, target, name)} but DuckDB does not load it`);
        out[name] = 'pypi';
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    }
    if (failures.length)
      throw new ExtensionError(
        `could not install DuckDB ${target.version} extensions for ${target.platform} (neither DuckDB's repository nor PyPI answered with them):\n${failures.map((f) => `  - ${f}`).join('\n')}\n` +
          `Install them with a DuckDB ${target.version} of your own (INSTALL <name>) and copy them into ${path.join(dir, target.version, target.platform)}, or set SLUICE_DUCKDB_EXTENSIONS to a directory that holds them.`,
      );
    return out;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function loads(conn: DuckDBConnection, name: string): Promise<boolean> {
  try {
    await conn.run(`LOAD ${name}`);
    return true;
  } catch {
    return false;
  }
}

function pipIndex(): string {
  return (process.env.PIP_INDEX_URL ?? 'https://pypi.org/simple').replace(/\/+$/, '');
}

/** PyPI wheel platform tags of DuckDB's platforms. */
const WHEEL_PLATFORM: Record<string, RegExp> = {
  linux_amd64: /manylinux\w*_x86_64/,
  linux_arm64: /manylinux\w*_aarch64/,
  osx_amd64: /macosx_\d+_\d+_x86_64/,
  osx_arm64: /macosx_\d+_\d+_arm64/,
  windows_amd64: /win_amd64/,
};

/**
 * Downloads `duckdb-extension-<name>==<version>` for this platform from a PEP 503 index, checks the
 * wheel's sha256 against the index, and extracts the extension binary into a temporary directory.
 */
async function fetchFromPypi(name: string, target: { version: string; platform: string }, index: string, say: (m: string) => void): Promise<string> {
  const project = `duckdb-extension-${name.replace(/_/g, '-')}`;
  const version = target.version.replace(/^v/, '');
  const tag = WHEEL_PLATFORM[target.platform];
  if (!tag) throw new Error(`PyPI has no wheels of ${project} for DuckDB's platform ${target.platform}`);
  const listing = await fetch(`${index}/${project}/`, { signal: AbortSignal.timeout(30_000) });
  if (!listing.ok) throw new Error(`${index}/${project}/ answered HTTP ${listing.status}`);
  const html = await listing.text();
  const stem = project.replace(/-/g, '_');
  const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
  const wheel = links.find((href) => {
    const file = decodeURIComponent(href.split('#')[0]!.split('/').pop() ?? '');
    return file.startsWith(`${stem}-${version}-`) && file.endsWith('.whl') && tag.test(file);
  });
  if (!wheel) throw new Error(`${index}/${project}/ lists no ${version} wheel for ${target.platform}`);
  const url = new URL(wheel, `${index}/${project}/`);
  const expected = /sha256=([0-9a-f]{64})/.exec(url.hash)?.[1];
  url.hash = '';
  say(`DuckDB extension ${name}: downloading ${url.pathname.split('/').pop()} from ${url.host}`);
  const res = await fetch(url, { signal: AbortSignal.timeout(300_000) });
  if (!res.ok) throw new Error(`${url.host} answered HTTP ${res.status} for ${url.pathname}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (expected && actual !== expected) throw new Error(`${url.pathname.split('/').pop()} has sha256 ${actual}, the index says ${expected}: refusing it`);
  const inside = `${stem}/extensions/${target.version}/${name}.duckdb_extension`;
  const files = unzipSync(bytes, { filter: (f) => f.name === inside });
  const binary = files[inside];
  if (!binary) throw new Error(`the wheel has no ${inside}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ext-'));
  const file = path.join(tmp, `${name}.duckdb_extension`);
  fs.writeFileSync(file, binary);
  return file;
}
