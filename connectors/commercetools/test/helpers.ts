import { readTable, type DataRecord, type ReadRequest } from '@sluice/core';
import { sourceConfig, type ApiClient, type Endpoint, type Handle } from '@sluice/emulators/commercetools/index';
import connector from '../src/index';
import { configSchema } from '../src/config';
import { connect, type CommercetoolsClient } from '../src/client';
import { TABLES } from '../src/tables';

export { connector };

export const endpointOf = (table: string) => TABLES.find((t) => t.name === table)!.endpoint as Endpoint;

/** A connector client with short retry delays (the production backoff would make tests slow). */
export function fastClient(h: Handle, client?: ApiClient, extra: Record<string, unknown> = {}): CommercetoolsClient {
  return connect(configSchema.parse({ ...sourceConfig(h, client), ...extra }), { minRetryDelayMs: 5, maxRetryDelayMs: 40 });
}

export async function read(h: Handle, table: string, request: Partial<ReadRequest> = {}, opts: { client?: CommercetoolsClient; maxPages?: number; config?: Record<string, unknown> } = {}) {
  const cfg = { ...sourceConfig(h), ...opts.config };
  return readTable(connector, cfg, table, request, { client: opts.client ?? fastClient(h, undefined, opts.config), maxPages: opts.maxPages });
}

export const ids = (records: DataRecord[]) => records.map((r) => r.id as string);
export const sortedIds = (records: DataRecord[]) => ids(records).sort();
export const byLmId = (a: DataRecord, b: DataRecord) => {
  const x = a.lastModifiedAt as string;
  const y = b.lastModifiedAt as string;
  return x < y ? -1 : x > y ? 1 : (a.id as string) < (b.id as string) ? -1 : 1;
};

/** Records of the emulator as the connector should emit them (customers without the password hash). */
export function expectedDocs(h: Handle, table: string): DataRecord[] {
  return h.store.all(endpointOf(table)).map((d) => {
    if (table !== 'customers') return d;
    const { password: _p, ...rest } = d;
    return rest;
  });
}

/** Query strings of the API list requests the emulator received (not token requests). */
export const listQueries = (h: Handle, from = 0) => h.requests.slice(from).filter((r) => r.path !== '/oauth/token').map((r) => new URLSearchParams(r.query));
