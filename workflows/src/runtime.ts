import type { Connector, Logger, ProgressEvent, SchemaContract, SharedRates, SyncMode } from '@sluice/core';
import type { ColumnPolicy } from '@sluice/core/policies/columns';
import type { DeletesPolicy } from '@sluice/core/policies/deletes';
import type { WarehousePaths } from '@sluice/warehouse';
import type { RuntimeExport } from './export-shared';

/**
 * What a worker knows: the resolved config (connectors looked up, secrets already substituted and
 * registered for redaction) and the warehouse. Built by the CLI's config loader.
 */
export interface RuntimeTable {
  name: string;
  mode: SyncMode;
  cursorField?: string;
  /** `columns:` of sluice.yaml: fields excluded or hashed before staging. */
  columns?: ColumnPolicy;
  /** `schema:` of sluice.yaml: the schema contract. */
  schema?: SchemaContract;
  /** `deletes:` of sluice.yaml: how deleted records are detected and handled. */
  deletes?: DeletesPolicy;
}

export interface RuntimeSource {
  name: string;
  type: string;
  connector: Connector;
  /** Parsed connector config (holds secrets: never sent to Temporal). */
  config: unknown;
  tables: RuntimeTable[];
  /** `redis:` in sluice.yaml: rate budgets shared with the other worker processes (ConnectContext.rates). */
  rates?: SharedRates;
  /** The key of hashed columns (a secret: stays in the worker, never in a workflow input). */
  hashKey?: string;
}

export interface Runtime {
  warehouse: WarehousePaths;
  sources: Map<string, RuntimeSource>;
  log: Logger;
  /** `metrics: { port }` in sluice.yaml: the worker serves Prometheus metrics on this port. */
  metrics?: { port: number };
  /** `alerts:` in sluice.yaml: a webhook called when a table's sync fails. */
  alerts?: { webhook: string; afterFailedIntervals: number };
  /** Base URL of the Temporal Web UI (for links in alerts), when known. */
  uiUrl?: string;
  /** `exports:` in sluice.yaml, by name (PostHog exports run by this worker). */
  exports?: Map<string, RuntimeExport>;
  /** Extra views (connector views, cross-source views) to maintain in the lake, given the tables it holds (source → tables). */
  views(present: Map<string, Set<string>>): { schema: string; name: string; sql: string }[];
  /** Releases what the runtime holds open (the Redis connection of shared rate limits). */
  close?(): Promise<void>;
}

/**
 * One client per source per worker process: every table of a source shares its HTTP connections,
 * token cache and rate limiter (limits are per vendor account).
 */
export class ClientCache {
  private clients = new Map<string, { client: unknown; listeners: Set<(e: ProgressEvent) => void> }>();
  get(source: RuntimeSource, log: Logger): { client: unknown; listen(fn: (e: ProgressEvent) => void): () => void } {
    let entry = this.clients.get(source.name);
    if (!entry) {
      const listeners = new Set<(e: ProgressEvent) => void>();
      const client = source.connector.connect(source.config as never, { source: source.name, log, report: (e) => listeners.forEach((l) => l(e)), rates: source.rates });
      entry = { client, listeners };
      this.clients.set(source.name, entry);
    }
    const e = entry;
    return {
      client: e.client,
      listen(fn) {
        e.listeners.add(fn);
        return () => e.listeners.delete(fn);
      },
    };
  }
}
