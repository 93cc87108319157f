import type { z } from 'zod';
import type { HttpClient } from './http/client';
import type { SharedRates } from './http/shared-rates';
import type { DataRecord, Json, Logger, ProgressEvent } from './types';

export type { DataRecord, Json, Logger, ProgressEvent } from './types';

export const SYNC_MODES = ['incremental', 'full_refresh', 'append_only'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

export type ColumnType = 'VARCHAR' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMPTZ' | 'DATE' | 'JSON' | `DECIMAL(${number},${number})`;

export interface CursorSpec {
  /** Fields the operator may choose as the cursor (`cursor:` in the table config). */
  fields: readonly [string, ...string[]];
  /** The field used when the config does not choose one. */
  default: string;
  /** Late-arriving data: the lower bound moves back this far from the saved cursor; merge removes the overlap. */
  lookbackMs?: number;
  /**
   * A lookback the source's config chooses: its number at `key` (a count of `unitMs`) replaces
   * `lookbackMs` when set. The engine applies it; `read` gets `since` with it already subtracted.
   */
  lookbackSetting?: { key: string; unitMs: number };
}

/** What one sync of one table asks a connector for. */
export interface ReadRequest {
  mode: SyncMode;
  /** The cursor field in use (undefined for tables without a cursor). */
  cursorField: string | undefined;
  /**
   * Inclusive lower bound as a UTC ISO-8601 string, lookback already applied; undefined = read everything
   * (first sync, full refresh, or a table without a cursor).
   */
  since: string | undefined;
  /** The checkpoint of the last page a previous attempt staged; resume after it. */
  checkpoint: Json | undefined;
  /**
   * Inclusive upper bound of a window re-sync (`--until`), UTC ISO-8601. A table that can filter above (the
   * engine, with an upper filter) asks the vendor for no more; the activity drops later records either way.
   */
  until?: string;
}

/** Everything a table's `read` may use. The client is shared by every table of the source in a worker. */
export interface ReadContext<Config, Client> {
  source: string;
  table: string;
  config: Config;
  client: Client;
  request: ReadRequest;
  signal: AbortSignal;
  report(event: ProgressEvent): void;
  log: Logger;
}

/** One page of records, and where to resume if the process dies right after it was staged. */
export interface Page {
  records: DataRecord[];
  /** Opaque, JSON-serialisable, secret-free: it is stored in Temporal heartbeats. */
  checkpoint: Json;
}

export interface TableSpec<Config = any, Client = any> {
  /** snake_case, as in the warehouse. */
  name: string;
  description: string;
  primaryKey: readonly [string, ...string[]];
  /** The creation timestamp the table is partitioned by (UTC month); absent → the table's unpartitioned part. */
  partitionBy?: string;
  /** Absent for tables the vendor offers no change cursor for: they support full refresh only. */
  cursor?: CursorSpec;
  /** Defaults: all three modes with a cursor, full_refresh without. */
  modes?: readonly SyncMode[];
  defaultMode?: SyncMode;
  /**
   * Column types that inference cannot know (money as decimal, numeric strings that are ids). Otherwise
   * top-level scalars are inferred: ISO-8601 strings with an offset/Z → TIMESTAMPTZ, integers → BIGINT,
   * other numbers → DOUBLE, objects and arrays → JSON.
   */
  columns?: Readonly<Record<string, ColumnType>>;
  /** Vendor permission needed (documentation and error messages), e.g. `view_orders`. */
  requires?: string;
  /** How the table is read, for the catalogue (`sluice connectors NAME`); the engine fills it for declared tables. */
  reads?: ReadDescription;
  /**
   * The vendor's own feed of this table's deletions (`deletes: { detect: vendor }`): commercetools Messages,
   * Shopify `deletionEvents`. Absent: the table can only reconcile (`detect: reconcile`).
   */
  deleteFeed?: DeleteFeed<Config, Client>;
  /**
   * Reconciliation's key scan (`deletes: { detect: reconcile }`): the cheapest complete read of the live
   * records that still carries every primary-key field (a key-only selection where the vendor's API has
   * one). Absent: the table's own full read. Its last page's checkpoint is `{ done: true }`, as the table's.
   */
  keyScan?: KeyScan<Config, Client>;
  /**
   * Why `deletes: { detect: reconcile }` would be wrong here, when it would: the table's full read does not
   * list every live record (a bounded window, such as PostHog events' `backfillDays`), so every stored row
   * outside it would look deleted. Config validation refuses reconcile with this reason.
   */
  reconcileRefusal?: string;
  read(ctx: ReadContext<Config, Client>): AsyncIterable<Page>;
}

/** A key-only read of a table, run by the engine like the table's own (see `TableSpec.keyScan`). */
export interface KeyScan<Config = any, Client = any> {
  /** The request and its paging, for the catalogue and for the reconciliation's choice of a confirming scan. */
  reads: ReadDescription;
  read(ctx: ReadContext<Config, Client>): AsyncIterable<Page>;
}

/** What a delete feed's `read` gets: the table's context, and the feed time to read from. */
export interface DeleteFeedContext<Config, Client> {
  source: string;
  table: string;
  config: Config;
  client: Client;
  /** Inclusive lower bound (UTC ISO) of the events' time; undefined: as far back as the vendor keeps them. */
  since: string | undefined;
  signal: AbortSignal;
  report(event: ProgressEvent): void;
  log: Logger;
}

/** One page of a delete feed: the primary keys (single-field) deleted, and the time of the page's last event. */
export interface DeleteFeedPage {
  ids: string[];
  /** The event time (UTC ISO) of the page's last event; undefined for an empty page. */
  lastEventAt: string | undefined;
}

/** A table's vendor delete feed, declared next to the table (the catalogue shows `describe` and `requires`). */
export interface DeleteFeed<Config = any, Client = any> {
  /** The request, for the catalogue: `GET /{projectKey}/messages where type = "OrderDeleted"`. */
  describe: string;
  /** Vendor permission the feed needs beyond the table's own (`view_messages`). */
  requires?: string;
  /** How long the vendor keeps the feed's events: a saved feed cursor older than this may have missed some. */
  retentionMs?: number;
  /** The events from `since` on, oldest first, in pages (the engine's paging; no loop of the connector's own). */
  read(ctx: DeleteFeedContext<Config, Client>): AsyncIterable<DeleteFeedPage>;
}

/** What the catalogue shows of how a table is read; tables run by a vendor engine (GraphQL, HogQL) declare theirs. */
export interface ReadDescription {
  /** `GET /{config.projectKey}/orders`, a GraphQL connection, a HogQL table. */
  endpoint: string;
  paging: { kind: string; pageSize?: number | { config: string } | string; [detail: string]: unknown };
  /** The request filter the cursor feeds (`where: lastModifiedAt >= "{value}"`), per cursor field when they differ. */
  filter?: string | Readonly<Record<string, string>>;
}

export interface CheckResult {
  ok: boolean;
  message: string;
  warnings?: string[];
}

export interface ConnectContext {
  source: string;
  log: Logger;
  report(event: ProgressEvent): void;
  /**
   * Present when sluice.yaml configures `redis:`: rate budgets shared by every worker process. Pass
   * `rates?.scope(account)` as a governor's `shared` option (account: what identifies the vendor account,
   * e.g. base URL + API key; hashed). Absent, governors keep their budget in the process.
   */
  rates?: SharedRates;
}

export interface ConnectorSpec<Schema extends z.ZodType = z.ZodType, Client = unknown> {
  /** The `type:` of a source in sluice.yaml. */
  type: string;
  description: string;
  /** The connector's `config:` block. Secret fields are listed in `secrets` so they are redacted everywhere. */
  config: Schema;
  secrets: readonly string[];
  /** Builds the per-source client (HTTP, auth, rate limiter). Called once per source per worker process. */
  connect(config: z.output<Schema>, ctx: ConnectContext): Client;
  /** "Save and test": verify the credentials by reading one record. Throws SluiceError with a specific message. */
  check(ctx: { config: z.output<Schema>; client: Client; log: Logger; signal: AbortSignal }): Promise<CheckResult>;
  tables: readonly TableSpec<z.output<Schema>, Client>[];
  /** Extra DuckDB views over this source's tables (`CREATE OR REPLACE VIEW "<source>".x AS ...`). */
  views?: (ctx: { source: string; tables: ReadonlySet<string> }) => { name: string; sql: string }[];
  /**
   * Views across sources (a funnel joining product events with another source's orders). Called once per
   * connector type with every configured source, the tables present per source, and the top-level
   * settings of sluice.yaml; a view whose inputs are missing is simply not returned.
   */
  sharedViews?: (ctx: {
    sources: readonly { name: string; type: string; config: unknown }[];
    present: ReadonlyMap<string, ReadonlySet<string>>;
    settings: Readonly<Record<string, unknown>>;
  }) => { schema: string; name: string; sql: string }[];
}

export type Connector = Omit<ConnectorSpec<z.ZodType, any>, 'tables'> & {
  tables: readonly ResolvedTable[];
};

export type ResolvedTable = TableSpec & { modes: readonly SyncMode[]; defaultMode: SyncMode };

/** Declares a connector, filling table defaults and checking the declaration is coherent. */
export function defineConnector<Schema extends z.ZodType, Client>(spec: ConnectorSpec<Schema, Client>): Connector {
  const names = new Set<string>();
  const tables = spec.tables.map((t): ResolvedTable => {
    if (!/^[a-z][a-z0-9_]*$/.test(t.name)) throw new Error(`${spec.type}: table name "${t.name}" must be snake_case`);
    if (names.has(t.name)) throw new Error(`${spec.type}: table "${t.name}" declared twice`);
    names.add(t.name);
    const modes = t.modes ?? (t.cursor ? SYNC_MODES : (['full_refresh'] as const));
    const defaultMode = t.defaultMode ?? (t.cursor ? 'incremental' : 'full_refresh');
    if (!modes.includes(defaultMode)) throw new Error(`${spec.type}.${t.name}: default mode ${defaultMode} not among its modes`);
    if (modes.some((m) => m !== 'full_refresh') && !t.cursor) throw new Error(`${spec.type}.${t.name}: ${modes.join('/')} needs a cursor`);
    if (t.cursor && !t.cursor.fields.includes(t.cursor.default)) throw new Error(`${spec.type}.${t.name}: default cursor not among its fields`);
    return { ...(t as TableSpec), modes, defaultMode };
  });
  return { ...(spec as unknown as ConnectorSpec<z.ZodType, any>), tables };
}

export function defineTable<Config, Client>(spec: TableSpec<Config, Client>): TableSpec<Config, Client> {
  return spec;
}

/** Generic helper for connectors whose client is just an HttpClient. */
export type HttpConnectorClient = { http: HttpClient };
