import { keysetPaging, paginate, SluiceError, type DataRecord, type KeyScan, type Page, type ReadContext, type TableSpec } from '@sluice/core';
import type { CommercetoolsClient } from './client';
import type { CommercetoolsConfig } from './config';

/**
 * Reconciliation's key scan (`deletes: { detect: reconcile }`) through the GraphQL API, which lets a query
 * select only `id`: the same 500 records a request as the REST read, at ~50 bytes a record instead of
 * kilobytes. Key-set paged by the engine on `id` (`sort: ["id asc"]`, `where: id > "<last>"`), so a
 * deletion during the scan skips nothing. `keyScan: rest` in the source's config scans with the table's
 * REST read instead (for a gateway or emulator without `/graphql`).
 *
 * GraphQL answers errors with HTTP 200 and an `errors` list (a missing scope, a malformed predicate): they
 * fail the scan with the API's words; nothing is deleted.
 */
const PAGE = 500;

type Ctx = ReadContext<CommercetoolsConfig, CommercetoolsClient>;
type GraphqlError = { message?: string; extensions?: { code?: string } };

export const keyQuery = (field: string) => `query SluiceKeys($where: String, $limit: Int) { ${field}(where: $where, sort: ["id asc"], limit: $limit) { results { id } } }`;

/** The records of a key page, or the GraphQL errors as the failure they are. */
export function keyRecords(field: string, table: string) {
  return (body: { data?: Record<string, { results?: DataRecord[] } | null> | null; errors?: GraphqlError[] }): DataRecord[] => {
    const errors = body?.errors ?? [];
    if (errors.length > 0) {
      const code = errors[0]?.extensions?.code;
      const text = errors.map((e) => e.message ?? '').join('; ');
      const kind = code === 'insufficient_scope' ? 'permission' : code === 'InvalidInput' || code === 'SyntaxError' ? 'invalid_request' : 'bad_response';
      throw new SluiceError(kind, `commercetools GraphQL refused the key scan of ${table} (${code ?? 'error'}: ${text}); nothing was deleted`);
    }
    return body?.data?.[field]?.results as DataRecord[];
  };
}

export function graphqlKeyScan(table: TableSpec<CommercetoolsConfig, CommercetoolsClient>, field: string): KeyScan<CommercetoolsConfig, CommercetoolsClient> {
  const query = keyQuery(field);
  return {
    reads: { endpoint: `POST /{config.projectKey}/graphql: ${field}(where:, sort: ["id asc"], limit: ${PAGE}) { results { id } }`, paging: { kind: 'keyset', pageSize: PAGE, fields: ['id'] } },
    read(ctx: Ctx): AsyncIterable<Page> {
      if (ctx.config.keyScan === 'rest') return table.read(ctx);
      return paginate({
        http: ctx.client.http,
        request: { method: 'POST', path: `/${encodeURIComponent(ctx.config.projectKey)}/graphql`, json: { query, variables: { limit: PAGE } } },
        paginator: keysetPaging({
          fields: ['id'],
          size: PAGE,
          apply: (after, req) => {
            const json = req.json as { query: string; variables: Record<string, unknown> };
            return after ? { ...req, json: { ...json, variables: { ...json.variables, where: `id > ${JSON.stringify(String(after[0]))}` } } } : req;
          },
        }),
        records: keyRecords(field, ctx.table),
        checkpoint: ctx.request.checkpoint,
        signal: ctx.signal,
        report: ctx.report,
        table: `${ctx.table} (key scan)`,
      });
    },
  };
}
