import path from 'node:path';

/**
 * Source and table names become directory names and SQL identifiers, so they are validated here once:
 * nothing a config file says can escape the warehouse directory or inject SQL.
 */
export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

export function assertName(kind: 'source' | 'table', name: string): void {
  if (!NAME_PATTERN.test(name)) throw new Error(`invalid ${kind} name "${name}": use lowercase letters, digits and _ (starting with a letter)`);
}

/** Where the DuckLake catalog lives: a SQLite file (several processes of one host) or PostgreSQL (many machines). */
export type CatalogLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; host: string; port: number; database: string; user: string; password?: string };

/** Where the Parquet data files live: a local directory or an S3-compatible bucket prefix (`s3://bucket/prefix/`). */
export type DataLocation = { kind: 'local'; dir: string } | { kind: 's3'; url: string };

export interface S3Settings {
  /** host:port of an S3-compatible server; absent = AWS. */
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  urlStyle?: 'path' | 'vhost';
  /** Defaults to true, except for an endpoint on a loopback address. */
  useSsl?: boolean;
}

export interface LakeLocation {
  catalog: CatalogLocation;
  data: DataLocation;
  s3?: S3Settings;
}

/** The name the lake is attached under in every session (and the default database there). */
export const LAKE = 'lake';

/** The catalog file of the embedded warehouse, under `warehouse.path`. */
export const CATALOG_FILE = 'catalog.sqlite';

/**
 * The warehouse: a DuckLake (`lake`) plus the local directory every process needs for itself —
 * staging of extracts, DuckDB's spill files, the embedded Temporal server's state. With only
 * `warehouse.path`, the lake lives there too (catalog file + data/).
 */
export class WarehousePaths {
  readonly root: string;
  readonly lake: LakeLocation;
  constructor(root: string, lake?: Partial<LakeLocation>) {
    this.root = path.resolve(root);
    this.lake = {
      catalog: lake?.catalog ?? { kind: 'sqlite', file: path.join(this.root, CATALOG_FILE) },
      data: lake?.data ?? { kind: 'local', dir: path.join(this.root, 'data') + path.sep },
      ...(lake?.s3 ? { s3: lake.s3 } : {}),
    };
  }
  /** True when both catalog and data are under `root` (the embedded default). */
  get embedded(): boolean {
    return this.lake.catalog.kind === 'sqlite' && this.lake.data.kind === 'local';
  }
  staging(source: string, table: string, syncId: string) {
    assertName('source', source);
    assertName('table', table);
    if (!/^[A-Za-z0-9_.-]+$/.test(syncId)) throw new Error(`invalid sync id ${syncId}`);
    return path.join(this.root, '.staging', source, table, syncId);
  }
  stagingRoot(source: string, table: string) {
    assertName('source', source);
    assertName('table', table);
    return path.join(this.root, '.staging', source, table);
  }
  /** DuckDB's spill directory. */
  get tmp() {
    return path.join(this.root, '.tmp', 'duckdb');
  }
  temporalState() {
    return path.join(this.root, '.temporal');
  }
  /** The warehouse format before DuckLake (read only by the upgrade). */
  legacyTable(source: string, table: string) {
    assertName('source', source);
    assertName('table', table);
    return path.join(this.root, source, table);
  }
  legacyManifest(source: string, table: string) {
    return path.join(this.legacyTable(source, table), '_manifest.json');
  }
  get legacyCatalog() {
    return path.join(this.root, 'warehouse.duckdb');
  }
  /** A human description of where the lake is, without secrets. */
  describe(): string {
    const c = this.lake.catalog;
    const d = this.lake.data;
    return `${c.kind === 'sqlite' ? c.file : `postgres://${c.user}@${c.host}:${c.port}/${c.database}`} (data: ${d.kind === 'local' ? d.dir : d.url})`;
  }
}
